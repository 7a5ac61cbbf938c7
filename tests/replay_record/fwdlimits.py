#!/usr/bin/python3
"""Packets the firewall refuses to forward before its FORWARD hook.

usage: fwdlimits.py 4 DST
       fwdlimits.py 6 DST LINKLOCAL_SRC

UDP to DST:9999, built with scapy and sent through an IPPROTO_RAW socket
(no path MTU on the sender's side): oversized with DF (v4) / oversized
(v6) twice, exactly the next link's MTU once (forwarded), oversized with TTL
1 once (time exceeded comes first); v6 also from a link-local source, with
hop limit 64 (destination unreachable, beyond scope) and 1 (time exceeded).
The firewall's next link has MTU 1400 (traffic.sh).
"""
import socket
import sys
import time

from scapy.all import IP, UDP, IPv6, raw


def main():
    v6 = sys.argv[1] == "6"
    dst = sys.argv[2]
    sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_RAW,
                         socket.IPPROTO_RAW)
    pkts = []
    if v6:
        ll = sys.argv[3]
        big = b"B" * (1450 - 48)
        fits = b"F" * (1400 - 48)
        pkts += [IPv6(dst=dst) / UDP(sport=5000 + i, dport=9999) / big for i in range(2)]
        pkts.append(IPv6(dst=dst) / UDP(sport=5002, dport=9999) / fits)
        pkts.append(IPv6(dst=dst, hlim=1) / UDP(sport=5003, dport=9999) / big)
        pkts.append(IPv6(src=ll, dst=dst) / UDP(sport=5004, dport=9999) / b"scope")
        pkts.append(IPv6(src=ll, dst=dst, hlim=1) / UDP(sport=5005, dport=9999) / b"scope")
    else:
        big = b"B" * (1478 - 28)
        fits = b"F" * (1400 - 28)
        pkts += [IP(dst=dst, flags="DF", id=0x4000 + i) / UDP(sport=5000 + i, dport=9999) / big
                 for i in range(2)]
        pkts.append(IP(dst=dst, flags="DF", id=0x4002) / UDP(sport=5002, dport=9999) / fits)
        pkts.append(IP(dst=dst, flags="DF", ttl=1, id=0x4003) / UDP(sport=5003, dport=9999) / big)
    for p in pkts:
        sock.sendto(raw(p), (dst, 0))
        time.sleep(0.02)


if __name__ == "__main__":
    main()
