import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 2123))
s.settimeout(6)
n = 0
try:
    while n < 6:
        data, addr = s.recvfrom(65535)
        print(addr, data.hex(), flush=True)
        n += 1
except socket.timeout:
    pass
