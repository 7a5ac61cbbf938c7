#!/usr/bin/python3
"""A tiny TFTP server and client for the replay recorder.

    tftp.py server [6]          answer read requests on port 69 until killed
    tftp.py client HOST [N]     N read requests (default 1), one block each

The server answers each RRQ from a fresh socket (new source port), as TFTP
servers do; the client ACKs the block to that port.
"""
import socket
import struct
import sys

BLOCK = b"palisade tftp block\n" * 10


def server(v6):
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if v6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind(("::" if v6 else "0.0.0.0", 69))
    while True:
        req, peer = s.recvfrom(1500)
        if struct.unpack("!H", req[:2])[0] != 1:
            continue
        t = socket.socket(fam, socket.SOCK_DGRAM)
        t.bind((s.getsockname()[0], 0))
        t.settimeout(2)
        t.sendto(struct.pack("!HH", 3, 1) + BLOCK, peer)
        try:
            t.recvfrom(1500)
        except OSError:
            pass
        t.close()


def client(host, n):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(n):
        c = socket.socket(fam, socket.SOCK_DGRAM)
        c.settimeout(3)
        c.sendto(struct.pack("!H", 1) + b"file\x00octet\x00", (host, 69))
        data, peer = c.recvfrom(1500)
        assert data[4:] == BLOCK
        c.sendto(struct.pack("!HH", 4, 1), peer)
        c.close()


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(len(sys.argv) > 2 and sys.argv[2] == "6")
    else:
        client(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 1)
