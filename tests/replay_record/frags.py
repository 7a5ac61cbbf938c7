#!/usr/bin/python3
"""Sends hand-made fragment sets for the replay oracle (nf_defrag).

usage: frags.py 4|6 SRC DST PORT

Each set is one UDP datagram to DST:PORT cut into fragments and sent in an
odd way: in order, reversed, with a duplicate, with a partial overlap (the
kernel drops the whole datagram), and one that never completes. Sent through
an IPPROTO_RAW socket so the sending kernel passes the fragments as they are.
"""
import socket
import sys
import time

from scapy.all import IP, UDP, IPv6, IPv6ExtHdrFragment, Raw, raw


def main():
    fam, src, dst, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    v6 = fam == "6"
    af = socket.AF_INET6 if v6 else socket.AF_INET
    sock = socket.socket(af, socket.SOCK_RAW, socket.IPPROTO_RAW)

    def send(b):
        sock.sendto(b, (dst, 0))
        time.sleep(0.02)

    def datagram(ident, size):
        payload = bytes((ident + i) & 0xFF for i in range(size))
        udp = UDP(sport=40000 + ident, dport=port) / Raw(payload)
        # Built under its IP header so the checksum covers the pseudo-header.
        if v6:
            return raw(IPv6(src=src, dst=dst) / udp)[40:]
        return raw(IP(src=src, dst=dst) / udp)[20:]

    def frag(ident, l4, off, end, more):
        """The fragment of the UDP datagram bytes `l4` covering [off, end)."""
        chunk = l4[off:end]
        if v6:
            fh = IPv6ExtHdrFragment(nh=17, offset=off // 8, m=1 if more else 0, id=ident)
            return raw(IPv6(src=src, dst=dst, nh=44) / fh / Raw(chunk))
        flags = "MF" if more else 0
        return raw(IP(src=src, dst=dst, proto=17, id=ident, flags=flags, frag=off // 8)
                   / Raw(chunk))

    # in order, 3 fragments
    l4 = datagram(1, 1000)
    for off, end, more in [(0, 400, True), (400, 800, True), (800, len(l4), False)]:
        send(frag(1, l4, off, end, more))
    # reversed
    l4 = datagram(2, 600)
    for off, end, more in [(400, len(l4), False), (200, 400, True), (0, 200, True)]:
        send(frag(2, l4, off, end, more))
    # a duplicate of the middle fragment: dropped alone, the datagram completes
    l4 = datagram(3, 600)
    for off, end, more in [(0, 200, True), (200, 400, True), (200, 400, True),
                           (400, len(l4), False)]:
        send(frag(3, l4, off, end, more))
    # a partial overlap: the kernel drops the whole datagram
    l4 = datagram(4, 600)
    for off, end, more in [(0, 200, True), (104, 304, True), (304, len(l4), False)]:
        send(frag(4, l4, off, end, more))
    # never completes (the last fragment is missing)
    l4 = datagram(5, 600)
    for off, end, more in [(0, 200, True), (200, 400, True)]:
        send(frag(5, l4, off, end, more))


if __name__ == "__main__":
    main()
