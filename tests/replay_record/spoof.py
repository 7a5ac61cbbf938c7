#!/usr/bin/python3
"""Sends ICMP echo requests with chosen (spoofed) source addresses.

usage: spoof.py 4|6 DST SRC [SRC...]

Built with scapy, sent through an IPPROTO_RAW socket so the sending kernel
routes the packet by its destination and resolves the neighbour itself.
"""
import socket
import sys
import time

from scapy.all import ICMP, IP, ICMPv6EchoRequest, IPv6, raw


def main():
    v6 = sys.argv[1] == "6"
    dst = sys.argv[2]
    sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_RAW,
                         socket.IPPROTO_RAW)
    for i, src in enumerate(sys.argv[3:]):
        if v6:
            p = IPv6(src=src, dst=dst) / ICMPv6EchoRequest(id=0x5000 + i, seq=1)
        else:
            p = IP(src=src, dst=dst) / ICMP(id=0x5000 + i, seq=1)
        sock.sendto(raw(p), (dst, 0))
        time.sleep(0.02)


if __name__ == "__main__":
    main()
