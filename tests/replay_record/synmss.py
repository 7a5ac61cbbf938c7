#!/usr/bin/python3
"""SYNs for TCPMSS's option insertion (tcpmss_insert case).

usage: synmss.py 4|6 DST

TCP SYNs built with scapy and sent through an IPPROTO_RAW socket to
DST:8080-8082, each from its own source port: no options at all (the
option is inserted), options without an MSS (inserted in front of them),
a one-byte payload (unchanged), 40 bytes of options (data offset 15:
unchanged), 36 bytes of NOPs (room for one word), an MSS of 1460 (lowered
in place).
"""
import socket
import sys
import time

from scapy.all import IP, TCP, IPv6, raw


def main():
    v6 = sys.argv[1] == "6"
    dst = sys.argv[2]
    sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_RAW,
                         socket.IPPROTO_RAW)
    shapes = [
        ([], b""),
        ([("SAckOK", b""), ("WScale", 7)], b""),
        ([], b"x"),
        ([("NOP", None)] * 40, b""),
        ([("NOP", None)] * 36, b""),
        ([("MSS", 1460)], b""),
    ]
    sport = 41000
    for dport in (8080, 8081, 8082):
        for opts, payload in shapes:
            sport += 1
            tcp = TCP(sport=sport, dport=dport, flags="S", seq=1000 + sport,
                      window=64240, options=opts) / payload
            if v6:
                p = IPv6(dst=dst) / tcp
            else:
                p = IP(dst=dst, id=sport) / tcp
            sock.sendto(raw(p), (dst, 0))
            time.sleep(0.01)


if __name__ == "__main__":
    main()
