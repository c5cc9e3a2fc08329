import socket, struct, sys, time, os
out = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.2", 1701))
s.settimeout(1.0)
ns = 0; nr = 0; peer_tid = 0; peer_sid = 0
def avp(t, v, m=1):
    return struct.pack("!HHH", (0x8000 if m else 0) | (6+len(v)), 0, t) + v
def ctrl(tid, sid, avps):
    global ns
    body = b"".join(avps)
    hdr = struct.pack("!HHHHHH", 0xc802, 12+len(body), tid, sid, ns, nr)
    if avps: ns = (ns+1) & 0xffff
    return hdr + body
names = {1:"sccrq",3:"scccn",4:"stopccn",6:"hello",10:"icrq",12:"iccn",14:"cdn"}
count = 0
deadline = time.time() + 25
while time.time() < deadline:
    try:
        data, addr = s.recvfrom(4096)
    except socket.timeout:
        continue
    flags, length, tid, sid, pns, pnr = struct.unpack("!HHHHHH", data[:12])
    if not flags & 0x8000: continue
    avps = {}
    off = 12
    while off + 6 <= len(data):
        l = struct.unpack("!H", data[off:off+2])[0] & 0x3ff
        t = struct.unpack("!H", data[off+4:off+6])[0]
        avps.setdefault(t, data[off+6:off+l]); off += l
    if 0 not in avps:  # ZLB
        continue
    mt = struct.unpack("!H", avps[0])[0]
    if pns == nr: nr = (nr+1) & 0xffff
    count += 1
    name = names.get(mt, "m%d" % mt)
    open(os.path.join(out, "%02d_%s.bin" % (count, name)), "wb").write(data)
    print("got", name, len(data), flush=True)
    if mt == 1:
        peer_tid = struct.unpack("!H", avps[9])[0]
        r = ctrl(peer_tid, 0, [avp(0, struct.pack("!H",2)), avp(2, b"\x01\x00"), avp(3, struct.pack("!I",3)),
                                avp(7, b"lns"), avp(9, struct.pack("!H",100))])
        open(os.path.join(out, "reply_sccrp.bin"), "wb").write(r)
    elif mt == 10:
        peer_sid = struct.unpack("!H", avps[14])[0]
        r = ctrl(peer_tid, peer_sid, [avp(0, struct.pack("!H",11)), avp(14, struct.pack("!H",200))])
    else:
        r = ctrl(peer_tid, 0, [])
    s.sendto(r, addr)
