-- telcp.lua: Wireshark dissectors for telcp's own protocols.
--
--   telcp_hb   health heartbeats (src/health/wire.rs): magic FF 48 42, any UDP port
--   telcp_mc   Mobile IP virtual Home Agent cluster messages (src/mip/cluster.rs): magic FE 4D 43
--   telcp_lr   virtual LNS replication (src/l2tp/lns/replicate.rs): magic FE 4C 32; the envelope,
--              batch sequence and item count dissected, the records shown as bytes
--   telcp_vf   steering switch-fabric messages (src/steering/fabric.rs), version 5: sealed in
--              the envelope with magic FE 56 46 (AES-128-CMAC; every kind but Packet and
--              Transmit), or unsealed with magic 56 46 ("VF"; Packet and Transmit)
--   telcp_avp  the L2TP load-redirection vendor AVPs (src/l2tp/wire/avp): LoadBalanceCapable (1)
--              and RedirectTarget (2) under enterprise 32473 (the crate's default; change
--              TELCP_ENTERPRISE below when a deployment configures its own)
--
-- The three datagram protocols are found by their magic prefix (UDP heuristics), so they are
-- dissected on whatever port a deployment gives them, next to L2TP, Mobile IP and GTP. Datagrams
-- they carry (a forwarded Registration Request, a steered G-PDU) are handed to Wireshark's own
-- dissectors. The MAC trailers (HMAC-MD5; AES-128-CMAC for telcp_lr version 2 and 3 and telcp_vf) and
-- telcp_lr's acknowledgement tokens (version 3) are shown, not verified (the cluster key is not
-- known here).
--
-- Use:  tshark -X lua_script:contrib/wireshark/telcp.lua -r demo.pcap
-- or copy this file into Wireshark's personal plugins folder (Help > About > Folders).

local TELCP_ENTERPRISE = 32473
local MAC_LEN = 16

-- Shared helpers ---------------------------------------------------------------------------

-- Adds an address written as family (4 or 6) then 4 or 16 octets; returns the octets used, or
-- nil when the family is unknown or the buffer too short.
local function add_ip(tree, tvb, off, f4, f6, ffam)
    if tvb:len() < off + 1 then return nil end
    local fam = tvb(off, 1):uint()
    local n = (fam == 4 and 4) or (fam == 6 and 16) or nil
    if not n or tvb:len() < off + 1 + n then return nil end
    tree:add(ffam, tvb(off, 1))
    if fam == 4 then tree:add(f4, tvb(off + 1, 4)) else tree:add(f6, tvb(off + 1, 16)) end
    return 1 + n
end

-- Hands a carried datagram to Wireshark's dissector for it: GTP by its version bits on the GTP
-- ports (GTPv1 on 2123 and 2152, GTPv2-C on 2123), PFCP, Mobile IP, L2TP by port.
local function call_by_port(from, to, tvb, pinfo, tree)
    local names = { [2152] = "gtp", [2123] = "gtp", [8805] = "pfcp", [434] = "mip", [1701] = "l2tp" }
    local name = names[to] or names[from]
    if name == "gtp" and tvb:len() > 0 and bit.rshift(tvb(0, 1):uint(), 5) == 2 then
        name = "gtpv2"
    end
    local d = name and Dissector.get(name)
    if d then
        d:call(tvb, pinfo, tree)
    else
        Dissector.get("data"):call(tvb, pinfo, tree)
    end
end

-- Heartbeats -----------------------------------------------------------------------------

local hb = Proto("telcp_hb", "telcp health heartbeat")
local roles = { [1] = "LNS", [2] = "contact LNS", [3] = "Home Agent", [4] = "switch processor",
                [5] = "processor", [6] = "line interface" }
local hbf = {
    version = ProtoField.uint8("telcp_hb.version", "Version"),
    node = ProtoField.uint32("telcp_hb.node", "Node id"),
    role = ProtoField.uint8("telcp_hb.role", "Role", base.DEC, roles),
    load = ProtoField.uint8("telcp_hb.load_percent", "Load percent"),
    count = ProtoField.uint8("telcp_hb.address_count", "Address count"),
    reserved = ProtoField.uint8("telcp_hb.reserved", "Reserved"),
    incarnation = ProtoField.uint32("telcp_hb.incarnation", "Incarnation"),
    sequence = ProtoField.uint64("telcp_hb.sequence", "Sequence"),
    used = ProtoField.uint32("telcp_hb.load_used", "Load used"),
    capacity = ProtoField.uint32("telcp_hb.load_capacity", "Load capacity"),
    family = ProtoField.uint8("telcp_hb.family", "Address family"),
    v4 = ProtoField.ipv4("telcp_hb.address", "Address"),
    v6 = ProtoField.ipv6("telcp_hb.address6", "Address"),
    mac = ProtoField.bytes("telcp_hb.mac", "HMAC-MD5 (not verified)"),
}
hb.fields = { hbf.version, hbf.node, hbf.role, hbf.load, hbf.count, hbf.reserved,
              hbf.incarnation, hbf.sequence, hbf.used, hbf.capacity, hbf.family, hbf.v4,
              hbf.v6, hbf.mac }
local hb_bad = ProtoExpert.new("telcp_hb.malformed", "Malformed telcp heartbeat",
                               expert.group.MALFORMED, expert.severity.ERROR)
hb.experts = { hb_bad }

local function dissect_hb(tvb, pinfo, root)
    pinfo.cols.protocol = "telcp-HB"
    local t = root:add(hb, tvb())
    t:add(hbf.version, tvb(3, 1))
    t:add(hbf.node, tvb(4, 4))
    t:add(hbf.role, tvb(8, 1))
    t:add(hbf.load, tvb(9, 1))
    t:add(hbf.count, tvb(10, 1))
    t:add(hbf.reserved, tvb(11, 1))
    t:add(hbf.incarnation, tvb(12, 4))
    t:add(hbf.sequence, tvb(16, 8))
    t:add(hbf.used, tvb(24, 4))
    t:add(hbf.capacity, tvb(28, 4))
    local off = 32
    for _ = 1, tvb(10, 1):uint() do
        local n = add_ip(t, tvb, off, hbf.v4, hbf.v6, hbf.family)
        if not n then t:add_proto_expert_info(hb_bad); return end
        off = off + n
    end
    if tvb:len() ~= off + MAC_LEN then t:add_proto_expert_info(hb_bad); return end
    t:add(hbf.mac, tvb(off, MAC_LEN))
    local role = roles[tvb(8, 1):uint()] or "?"
    pinfo.cols.info = string.format("Heartbeat node %u (%s) load %u%% seq %s",
        tvb(4, 4):uint(), role, tvb(9, 1):uint(), tostring(tvb(16, 8):uint64()))
end

hb:register_heuristic("udp", function(tvb, pinfo, tree)
    if tvb:len() < 32 + MAC_LEN or tvb(0, 3):bytes():tohex() ~= "FF4842" then return false end
    dissect_hb(tvb, pinfo, tree)
    return true
end)

-- Mobile IP cluster messages ---------------------------------------------------------------

local mc = Proto("telcp_mc", "telcp virtual Home Agent cluster")
local mc_kinds = { [1] = "Forward", [2] = "Relay", [3] = "Notice", [4] = "Replicate", [5] = "Ack" }
local item_kinds = { [1] = "Upsert", [2] = "Remove", [3] = "Takeover", [4] = "SyncBegin",
                     [5] = "SyncEnd", [6] = "Holds",
                     [7] = "Deregistered" }
local mcf = {
    version = ProtoField.uint8("telcp_mc.version", "Version"),
    kind = ProtoField.uint8("telcp_mc.kind", "Kind", base.DEC, mc_kinds),
    reserved = ProtoField.uint16("telcp_mc.reserved", "Reserved"),
    sender = ProtoField.uint32("telcp_mc.sender", "Sender node id"),
    incarnation = ProtoField.uint32("telcp_mc.incarnation", "Sender incarnation"),
    pn = ProtoField.uint64("telcp_mc.pn", "Packet number"),
    fa = ProtoField.ipv4("telcp_mc.fa", "Foreign agent"),
    fa_port = ProtoField.uint16("telcp_mc.fa_port", "Foreign agent port"),
    home = ProtoField.ipv4("telcp_mc.home_address", "Home address"),
    nai = ProtoField.string("telcp_mc.nai", "NAI"),
    ident = ProtoField.uint64("telcp_mc.identification", "Identification", base.HEX),
    seq = ProtoField.uint64("telcp_mc.seq", "Batch sequence"),
    count = ProtoField.uint8("telcp_mc.item_count", "Items"),
    item = ProtoField.uint8("telcp_mc.item", "Item", base.DEC, item_kinds),
    state = ProtoField.uint8("telcp_mc.state", "Binding state", base.DEC,
                             { [0] = "temporary", [1] = "permanent" }),
    first_ha = ProtoField.uint32("telcp_mc.first_ha", "First HA"),
    second_ha = ProtoField.uint32("telcp_mc.second_ha", "Second HA"),
    coa_count = ProtoField.uint8("telcp_mc.care_of_count", "Care-of addresses"),
    coa = ProtoField.ipv4("telcp_mc.care_of", "Care-of address"),
    remaining = ProtoField.uint32("telcp_mc.remaining", "Remaining (ms if temporary, s if permanent)"),
    failed = ProtoField.uint32("telcp_mc.failed", "Failed HA"),
    owner = ProtoField.uint32("telcp_mc.owner", "New owner"),
    coordinator = ProtoField.uint32("telcp_mc.coordinator", "Coordinator"),
    epoch = ProtoField.uint32("telcp_mc.epoch", "Sync epoch"),
    tunnel_len = ProtoField.uint8("telcp_mc.tunnel_length", "Tunnel length"),
    tunnel = ProtoField.bytes("telcp_mc.tunnel", "Tunnel (encapsulation, flags, GRE key, UDP peer)"),
    key_flag = ProtoField.uint8("telcp_mc.key_flag", "AAA key (0 none, 2 sealed)"),
    spi = ProtoField.uint32("telcp_mc.spi", "SPI", base.HEX),
    key_left = ProtoField.uint32("telcp_mc.key_seconds_left", "Key lifetime left (s)"),
    key_nonce = ProtoField.bytes("telcp_mc.key_nonce", "Key nonce (node, incarnation, random)"),
    key_len = ProtoField.uint8("telcp_mc.key_length",
                               "Sealed key length (ciphertext and tag not shown)"),
    revocation = ProtoField.uint8("telcp_mc.revocation", "RFC 3543 revocation negotiated",
                                  base.DEC, { [0] = "No", [1] = "Yes", [2] = "Yes, I bit" }),
    mac = ProtoField.bytes("telcp_mc.mac", "HMAC-MD5 (not verified)"),
}
mc.fields = {}
for _, f in pairs(mcf) do table.insert(mc.fields, f) end
local mc_bad = ProtoExpert.new("telcp_mc.malformed", "Malformed telcp cluster message",
                               expert.group.MALFORMED, expert.severity.ERROR)
mc.experts = { mc_bad }

-- A reader over a tvb range that records a malformation instead of raising.
local function reader(tvb, off, limit)
    local r = { off = off, ok = true }
    function r.take(n)
        if not r.ok or r.off + n > limit then r.ok = false; return nil end
        local range = tvb(r.off, n)
        r.off = r.off + n
        return range
    end
    function r.add(tree, field, n)
        local range = r.take(n)
        if range then tree:add(field, range) end
        return range
    end
    return r
end

-- The authenticated envelope every cluster protocol shares (src/replica/envelope.rs): magic (3),
-- version, kind, reserved (2), sender node, sender incarnation, packet number (8), body, then the
-- HMAC-MD5. Adds the header to `root` under `proto`; returns the tree, where the MAC starts, the
-- kind, a reader of the body and the info column's start.
local function envelope(tvb, root, proto, f, kinds)
    local t = root:add(proto, tvb())
    local limit = tvb:len() - MAC_LEN
    t:add(f.version, tvb(3, 1))
    t:add(f.kind, tvb(4, 1))
    t:add(f.reserved, tvb(5, 2))
    t:add(f.sender, tvb(7, 4))
    t:add(f.incarnation, tvb(11, 4))
    t:add(f.pn, tvb(15, 8))
    local kind = tvb(4, 1):uint()
    local info = string.format("%s from node %u", kinds[kind] or "Unknown", tvb(7, 4):uint())
    return t, limit, kind, reader(tvb, 23, limit), info
end

local function mc_nai(r, tree)
    local n = r.take(1)
    if not n then return end
    if n:uint() > 0 then r.add(tree, mcf.nai, n:uint()) end
end

local function mc_item(r, tree)
    local kind = r.take(1)
    if not kind then return end
    local k = kind:uint()
    local it = tree:add(mcf.item, kind)
    if k == 1 then
        r.add(it, mcf.home, 4); mc_nai(r, it)
        local st = r.add(it, mcf.state, 1)
        r.add(it, mcf.first_ha, 4); r.add(it, mcf.second_ha, 4)
        r.add(it, mcf.fa, 4); r.add(it, mcf.fa_port, 2); r.add(it, mcf.ident, 8)
        local n = r.add(it, mcf.coa_count, 1)
        for _ = 1, (n and n:uint() or 0) do r.add(it, mcf.coa, 4); r.add(it, mcf.remaining, 4) end
        if st and st:uint() > 1 then r.ok = false end
        -- The binding's tunnel (length, then src/mip/binding TunnelParams' record form).
        local tl = r.add(it, mcf.tunnel_len, 1)
        if tl and tl:uint() > 0 then r.add(it, mcf.tunnel, tl:uint()) end
        -- An MN-HA key from AAA (src/mip/cluster/seal.rs): flag 0 (none) or 2, sealed: SPI,
        -- seconds left, nonce (24), length, ciphertext (length), tag (16). Flag 1 (the clear key
        -- of earlier versions) is malformed.
        local kf = r.add(it, mcf.key_flag, 1)
        if kf and kf:uint() == 2 then
            r.add(it, mcf.spi, 4); r.add(it, mcf.key_left, 4); r.add(it, mcf.key_nonce, 24)
            local kl = r.add(it, mcf.key_len, 1)
            if kl and kl:uint() > 0 then r.take(kl:uint() + 16) else r.ok = false end
        elseif kf and kf:uint() ~= 0 then
            r.ok = false
        end
        -- RFC 3543 revocation negotiated with the foreign agent: 0 no, 1 yes, 2 yes with I.
        local rv = r.add(it, mcf.revocation, 1)
        if rv and rv:uint() > 2 then r.ok = false end
    elseif k == 2 or k == 6 then
        r.add(it, mcf.home, 4); mc_nai(r, it)
    elseif k == 7 then
        -- Then the care-of address deregistered (0.0.0.0: all of them).
        r.add(it, mcf.home, 4); mc_nai(r, it); r.add(it, mcf.ident, 8); r.add(it, mcf.coa, 4)
    elseif k == 3 then
        r.add(it, mcf.failed, 4); r.add(it, mcf.owner, 4); r.add(it, mcf.coordinator, 4)
    elseif k == 4 or k == 5 then
        r.add(it, mcf.epoch, 4)
    else
        r.ok = false
    end
end

local function dissect_mc(tvb, pinfo, root)
    pinfo.cols.protocol = "telcp-MC"
    local t, limit, kind, r, info = envelope(tvb, root, mc, mcf, mc_kinds)
    if kind == 1 then
        r.add(t, mcf.fa, 4); r.add(t, mcf.fa_port, 2)
        if r.ok and limit > r.off then
            Dissector.get("mip"):call(tvb(r.off, limit - r.off):tvb(), pinfo, root)
            r.off = limit
        end
    elseif kind == 2 then
        if limit > r.off then
            Dissector.get("mip"):call(tvb(r.off, limit - r.off):tvb(), pinfo, root)
            r.off = limit
        end
    elseif kind == 3 then
        r.add(t, mcf.home, 4); mc_nai(r, t); r.add(t, mcf.ident, 8)
    elseif kind == 4 then
        local seq = r.add(t, mcf.seq, 8)
        local n = r.add(t, mcf.count, 1)
        for _ = 1, (n and n:uint() or 0) do mc_item(r, t) end
        if seq and n then info = info .. string.format(" seq %s, %u items", tostring(seq:uint64()), n:uint()) end
    elseif kind == 5 then
        local seq = r.add(t, mcf.seq, 8)
        if seq then info = info .. " seq " .. tostring(seq:uint64()) end
    else
        r.ok = false
    end
    if not r.ok or r.off ~= limit then t:add_proto_expert_info(mc_bad) end
    t:add(mcf.mac, tvb(limit, MAC_LEN))
    pinfo.cols.info = info
end

mc:register_heuristic("udp", function(tvb, pinfo, tree)
    if tvb:len() < 23 + MAC_LEN or tvb(0, 3):bytes():tohex() ~= "FE4D43" then return false end
    dissect_mc(tvb, pinfo, tree)
    return true
end)

-- Virtual LNS replication (src/l2tp/lns/replicate.rs over src/replica): magic FE 4C 32, MAC
-- AES-128-CMAC from version 2 ------

local lr = Proto("telcp_lr", "telcp virtual LNS replication")
local lr_kinds = { [4] = "Replicate", [5] = "Ack", [6] = "AckToken" }
local lrf = {
    version = ProtoField.uint8("telcp_lr.version", "Version"),
    kind = ProtoField.uint8("telcp_lr.kind", "Kind", base.DEC, lr_kinds),
    reserved = ProtoField.uint16("telcp_lr.reserved", "Reserved", base.HEX),
    sender = ProtoField.uint32("telcp_lr.sender", "Sender node"),
    incarnation = ProtoField.uint32("telcp_lr.incarnation", "Sender incarnation"),
    pn = ProtoField.uint64("telcp_lr.packet_number", "Packet number"),
    seq = ProtoField.uint64("telcp_lr.sequence", "Batch sequence"),
    count = ProtoField.uint8("telcp_lr.item_count", "Items"),
    items = ProtoField.bytes("telcp_lr.items", "Items (tunnel and session records, src/l2tp/replica.rs)"),
    mac = ProtoField.bytes("telcp_lr.mac", "AES-128-CMAC (not verified)"),
    mac_v1 = ProtoField.bytes("telcp_lr.mac_v1", "HMAC-MD5 (version 1, not verified)"),
    token = ProtoField.bytes("telcp_lr.token", "Acknowledgement token (AES-128 of the batch's tag, not verified)"),
}
lr.fields = {}
for _, f in pairs(lrf) do table.insert(lr.fields, f) end
local lr_bad = ProtoExpert.new("telcp_lr.malformed", "Malformed telcp LNS replication message",
                               expert.group.MALFORMED, expert.severity.ERROR)
lr.experts = { lr_bad }

-- Version 3's acknowledgement token (kind 6, no envelope): magic, version, kind, reserved (2),
-- the acknowledging node, the batch sequence, the 16-octet token; 35 octets.
local function dissect_lr_token(tvb, pinfo, root)
    local t = root:add(lr, tvb())
    t:add(lrf.version, tvb(3, 1))
    t:add(lrf.kind, tvb(4, 1))
    t:add(lrf.reserved, tvb(5, 2))
    t:add(lrf.sender, tvb(7, 4))
    t:add(lrf.seq, tvb(11, 8))
    t:add(lrf.token, tvb(19, 16))
    if tvb:len() ~= 35 then t:add_proto_expert_info(lr_bad) end
    pinfo.cols.info = string.format("AckToken from node %u seq %s", tvb(7, 4):uint(),
                                    tostring(tvb(11, 8):uint64()))
end

local function dissect_lr(tvb, pinfo, root)
    pinfo.cols.protocol = "telcp-LR"
    if tvb(4, 1):uint() == 6 and tvb:len() >= 35 then
        dissect_lr_token(tvb, pinfo, root)
        return
    end
    local t, limit, kind, r, info = envelope(tvb, root, lr, lrf, lr_kinds)
    if kind == 4 then
        local seq = r.add(t, lrf.seq, 8)
        local n = r.add(t, lrf.count, 1)
        if r.ok and limit > r.off then
            t:add(lrf.items, tvb(r.off, limit - r.off))
            r.off = limit
        end
        if seq and n then info = info .. string.format(" seq %s, %u items", tostring(seq:uint64()), n:uint()) end
    elseif kind == 5 then
        local seq = r.add(t, lrf.seq, 8)
        if seq then info = info .. " seq " .. tostring(seq:uint64()) end
    else
        r.ok = false
    end
    if not r.ok or r.off ~= limit then t:add_proto_expert_info(lr_bad) end
    -- Version 2 is sealed with AES-128-CMAC under a key derived from the cluster key
    -- (src/l2tp/lns/replicate.rs), version 1 was HMAC-MD5; both 16 octets.
    if tvb(3, 1):uint() == 1 then
        t:add(lrf.mac_v1, tvb(limit, MAC_LEN))
    else
        t:add(lrf.mac, tvb(limit, MAC_LEN))
    end
    pinfo.cols.info = info
end

lr:register_heuristic("udp", function(tvb, pinfo, tree)
    if tvb:len() < 35 or tvb(0, 3):bytes():tohex() ~= "FE4C32" then return false end
    if tvb(4, 1):uint() ~= 6 and tvb:len() < 23 + MAC_LEN then return false end
    dissect_lr(tvb, pinfo, tree)
    return true
end)

-- Switch-fabric messages -------------------------------------------------------------------

local vf = Proto("telcp_vf", "telcp steering switch fabric")
local vf_kinds = { [1] = "VidRequest", [2] = "VidAssign", [3] = "TableUpdate", [4] = "TableAck",
                   [5] = "Packet", [6] = "Directed", [7] = "Transmit", [8] = "Sync",
                   [9] = "SyncAck", [10] = "Purge", [11] = "PurgeAck", [12] = "PeerRecovery",
                   [13] = "PeerRecoveryAck" }
local vff = {
    version = ProtoField.uint8("telcp_vf.version", "Version"),
    kind = ProtoField.uint8("telcp_vf.kind", "Kind", base.DEC, vf_kinds),
    reserved = ProtoField.uint16("telcp_vf.reserved", "Reserved"),
    sender = ProtoField.uint32("telcp_vf.sender", "Sender node"),
    pn = ProtoField.uint64("telcp_vf.packet_number", "Packet number"),
    receiver = ProtoField.uint32("telcp_vf.receiver", "Receiver node (4294967295: every line interface)"),
    rincarnation = ProtoField.uint32("telcp_vf.receiver_incarnation",
                                     "Receiver incarnation (0: not known to the sender)"),
    mac = ProtoField.bytes("telcp_vf.mac", "AES-128-CMAC (not verified)"),
    recovery = ProtoField.uint32("telcp_vf.recovery", "Restart value (Recovery)"),
    processor = ProtoField.uint32("telcp_vf.processor", "Processor"),
    incarnation = ProtoField.uint32("telcp_vf.incarnation", "Incarnation"),
    vid = ProtoField.uint16("telcp_vf.vid", "VID"),
    backup = ProtoField.uint16("telcp_vf.backup_vid", "Backup VID"),
    tversion = ProtoField.uint64("telcp_vf.table_version", "Table version"),
    count = ProtoField.uint16("telcp_vf.count", "Entries"),
    vstate = ProtoField.uint8("telcp_vf.state", "State", base.DEC, { [1] = "up", [2] = "down" }),
    family = ProtoField.uint8("telcp_vf.family", "Address family"),
    v4 = ProtoField.ipv4("telcp_vf.ip", "Address"),
    v6 = ProtoField.ipv6("telcp_vf.ip6", "Address"),
    port = ProtoField.uint16("telcp_vf.port", "Port"),
    op = ProtoField.uint8("telcp_vf.op", "Operation", base.DEC, { [1] = "upsert", [2] = "delete" }),
    teid = ProtoField.uint32("telcp_vf.teid", "TEID", base.HEX),
    rversion = ProtoField.uint32("telcp_vf.record_version", "Record version"),
    peer_teid_c = ProtoField.uint32("telcp_vf.peer_teid_c", "Peer TEID (control)", base.HEX),
    peer_teid_u = ProtoField.uint32("telcp_vf.peer_teid_u", "Peer TEID (user)", base.HEX),
    imsi = ProtoField.bytes("telcp_vf.imsi", "IMSI (TBCD)"),
    nsapi = ProtoField.uint8("telcp_vf.nsapi", "NSAPI"),
    ue = ProtoField.ipv4("telcp_vf.ue_address", "UE address"),
    protocol = ProtoField.uint8("telcp_vf.protocol", "Session protocol", base.DEC,
                                { [1] = "GTPv1-C", [2] = "GTPv2-C", [3] = "PFCP" }),
    peer_seid = ProtoField.uint64("telcp_vf.peer_seid", "Peer SEID", base.HEX),
    purge_id = ProtoField.uint32("telcp_vf.purge_id", "Purge id"),
}
vf.fields = {}
for _, f in pairs(vff) do table.insert(vf.fields, f) end
local vf_bad = ProtoExpert.new("telcp_vf.malformed", "Malformed telcp fabric message",
                               expert.group.MALFORMED, expert.severity.ERROR)
vf.experts = { vf_bad }

-- A socket address: family, address, port. Returns the port, or nil.
local function vf_sock(r, tvb, tree, label)
    local s = tree:add(vf, tvb(r.off, 0), label)
    local n = add_ip(s, tvb, r.off, vff.v4, vff.v6, vff.family)
    if not n then r.ok = false; return nil end
    r.off = r.off + n
    local p = r.add(s, vff.port, 2)
    return p and p:uint()
end

-- The datagram a Packet, Directed or Transmit carries: from, to, then the datagram up to
-- `limit` (the end of the message, or where a sealed one's MAC starts).
local function vf_datagram(r, tvb, pinfo, tree, root, limit)
    local from = vf_sock(r, tvb, tree, "From")
    local to = vf_sock(r, tvb, tree, "To")
    if r.ok and limit > r.off then
        call_by_port(from, to, tvb(r.off, limit - r.off):tvb(), pinfo, root)
        r.off = limit
    end
end

-- A sealed message (magic FE 56 46): the envelope (src/replica/envelope.rs), the receiver and
-- its incarnation, the body up to the 16-octet AES-128-CMAC; an unsealed one (magic 56 46):
-- version, kind, body.
local function dissect_vf(tvb, pinfo, root, sealed)
    pinfo.cols.protocol = "telcp-VF"
    local t, limit, kind, r
    if sealed then
        local info
        t, limit, kind, r, info = envelope(tvb, root, vf, vff, vf_kinds)
        r.add(t, vff.receiver, 4)
        r.add(t, vff.rincarnation, 4)
        pinfo.cols.info = info
    else
        t = root:add(vf, tvb())
        t:add(vff.version, tvb(2, 1))
        t:add(vff.kind, tvb(3, 1))
        kind = tvb(3, 1):uint()
        limit = tvb:len()
        r = reader(tvb, 4, limit)
        pinfo.cols.info = vf_kinds[kind] or "Unknown"
    end
    if kind == 1 or kind == 2 then
        r.add(t, vff.processor, 4); r.add(t, vff.incarnation, 4); r.add(t, vff.vid, 2)
    elseif kind == 3 then
        r.add(t, vff.tversion, 8)
        local n = r.add(t, vff.count, 2)
        for _ = 1, (n and n:uint() or 0) do
            r.add(t, vff.vid, 2); r.add(t, vff.vstate, 1); vf_sock(r, tvb, t, "Processor")
        end
    elseif kind == 4 then
        r.add(t, vff.tversion, 8)
    elseif kind == 5 or kind == 7 then
        vf_datagram(r, tvb, pinfo, t, root, limit)
    elseif kind == 6 then
        r.add(t, vff.backup, 2)
        vf_datagram(r, tvb, pinfo, t, root, limit)
    elseif kind == 8 then
        r.add(t, vff.op, 1)
        r.add(t, vff.teid, 4); r.add(t, vff.rversion, 4)
        r.add(t, vff.peer_teid_c, 4); r.add(t, vff.peer_teid_u, 4)
        for _ = 1, 2 do
            local n = add_ip(t, tvb, r.off, vff.v4, vff.v6, vff.family)
            if not n then r.ok = false; break end
            r.off = r.off + n
        end
        r.add(t, vff.imsi, 8); r.add(t, vff.nsapi, 1); r.add(t, vff.ue, 4)
        r.add(t, vff.protocol, 1); r.add(t, vff.peer_seid, 8)
    elseif kind == 9 then
        r.add(t, vff.teid, 4); r.add(t, vff.rversion, 4)
    elseif kind == 10 then
        r.add(t, vff.purge_id, 4)
        local n = r.add(t, vff.count, 2)
        for _ = 1, (n and n:uint() or 0) do r.add(t, vff.teid, 4) end
    elseif kind == 11 then
        r.add(t, vff.purge_id, 4)
    elseif kind == 12 or kind == 13 then
        r.add(t, vff.protocol, 1)
        local n = add_ip(t, tvb, r.off, vff.v4, vff.v6, vff.family)
        if n then r.off = r.off + n else r.ok = false end
        r.add(t, vff.recovery, 4)
    else
        r.ok = false
    end
    if not r.ok or r.off ~= limit then t:add_proto_expert_info(vf_bad) end
    if sealed then t:add(vff.mac, tvb(limit, MAC_LEN)) end
    -- The carried datagram's dissector names the frame's protocol; say it came over the fabric.
    if kind >= 5 and kind <= 7 then
        pinfo.cols.protocol = "VF/" .. tostring(pinfo.cols.protocol)
    end
end

vf:register_heuristic("udp", function(tvb, pinfo, tree)
    -- Fabric version 5: sealed kinds in the envelope (magic FE 56 46, version 5; header,
    -- receiver, its incarnation and MAC at least 47 octets), Packet and Transmit unsealed
    -- (56 46 05).
    if tvb:len() >= 23 + 8 + MAC_LEN and tvb(0, 4):bytes():tohex() == "FE564605" then
        local kind = tvb(4, 1):uint()
        if kind < 1 or kind > 13 then return false end
        dissect_vf(tvb, pinfo, tree, true)
        return true
    end
    if tvb:len() < 4 or tvb(0, 3):bytes():tohex() ~= "564605" then return false end
    local kind = tvb(3, 1):uint()
    if kind < 1 or kind > 13 then return false end
    dissect_vf(tvb, pinfo, tree, false)
    return true
end)

-- L2TP load-redirection vendor AVPs ---------------------------------------------------------

local avp = Proto("telcp_avp", "telcp L2TP load-redirection AVP")
local avp_types = { [1] = "LoadBalanceCapable", [2] = "RedirectTarget" }
local avpf = {
    mandatory = ProtoField.bool("telcp_avp.mandatory", "Mandatory", 16, nil, 0x8000),
    hidden = ProtoField.bool("telcp_avp.hidden", "Hidden", 16, nil, 0x4000),
    length = ProtoField.uint16("telcp_avp.length", "Length", base.DEC, nil, 0x03ff),
    vendor = ProtoField.uint16("telcp_avp.vendor", "Vendor ID"),
    type = ProtoField.uint16("telcp_avp.type", "Attribute type", base.DEC, avp_types),
    target4 = ProtoField.ipv4("telcp_avp.redirect_target", "Redirect target LNS"),
    target6 = ProtoField.ipv6("telcp_avp.redirect_target6", "Redirect target LNS"),
    hidden_value = ProtoField.bytes("telcp_avp.hidden_value", "Hidden value"),
    value = ProtoField.bytes("telcp_avp.value", "Value"),
}
avp.fields = {}
for _, f in pairs(avpf) do table.insert(avp.fields, f) end
local avp_bad = ProtoExpert.new("telcp_avp.malformed", "Malformed telcp vendor AVP",
                                expert.group.MALFORMED, expert.severity.ERROR)
avp.experts = { avp_bad }

function avp.dissector(tvb, pinfo, tree)
    if tvb:len() < 6 then return 0 end
    local ty = tvb(4, 2):uint()
    local t = tree:add(avp, tvb(), string.format("%s AVP (telcp, vendor %u)",
        avp_types[ty] or ("Type " .. ty), tvb(2, 2):uint()))
    t:add(avpf.mandatory, tvb(0, 2))
    t:add(avpf.hidden, tvb(0, 2))
    t:add(avpf.length, tvb(0, 2))
    t:add(avpf.vendor, tvb(2, 2))
    t:add(avpf.type, tvb(4, 2))
    local n = tvb:len() - 6
    if bit.band(tvb(0, 2):uint(), 0x4000) ~= 0 then
        if n > 0 then t:add(avpf.hidden_value, tvb(6, n)) end
    elseif ty == 1 then
        if n ~= 0 then t:add_proto_expert_info(avp_bad) end
    elseif ty == 2 then
        if n == 4 then t:add(avpf.target4, tvb(6, 4))
        elseif n == 16 then t:add(avpf.target6, tvb(6, 16))
        else t:add_proto_expert_info(avp_bad) end
    elseif n > 0 then
        t:add(avpf.value, tvb(6, n))
    end
    return tvb:len()
end

DissectorTable.get("l2tp.vendor_avp"):add(TELCP_ENTERPRISE, avp)
