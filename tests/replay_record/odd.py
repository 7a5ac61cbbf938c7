#!/usr/bin/python3
"""Sends hand-crafted odd packets for the replay oracle.

usage: odd.py 4|6 SRC DST [SET]

SET picks a battery (default "all"): "flags" (bad TCP flag combinations),
"midstream" (ACK/data for unknown connections, SYN-ACK without SYN),
"broken" (bad checksums, truncated headers), "icmp" (ICMP errors quoting a known
and an unknown flow, unsolicited echo reply), "proto" (GRE, protocol 253).

Packets are built with scapy but sent through a plain IPPROTO_RAW socket, so
the sending kernel resolves neighbours itself (scapy would do its own ARP/ND)
and never touches the transport checksum we set on purpose.
"""
import socket
import sys
import time

from scapy.all import (GRE, ICMP, IP, TCP, UDP, ICMPv6DestUnreach, ICMPv6EchoReply,
                       IPv6, Raw, raw)


def main():
    fam, src, dst = sys.argv[1], sys.argv[2], sys.argv[3]
    which = sys.argv[4] if len(sys.argv) > 4 else "all"
    v6 = fam == "6"
    af = socket.AF_INET6 if v6 else socket.AF_INET
    sock = socket.socket(af, socket.SOCK_RAW, socket.IPPROTO_RAW)

    def ip(proto=None):
        if v6:
            return IPv6(src=src, dst=dst) if proto is None else IPv6(src=src, dst=dst, nh=proto)
        return IP(src=src, dst=dst) if proto is None else IP(src=src, dst=dst, proto=proto)

    def send(pkt):
        data = pkt if isinstance(pkt, bytes) else raw(pkt)
        sock.sendto(data, (dst, 0))
        time.sleep(0.02)

    sets = {}

    def flags():
        for i, f in enumerate(["SF", "SR", "F", "FPU", "", "SFPU", "SRAFPU", "R", "FA", "PA"]):
            send(ip() / TCP(sport=33000 + i, dport=80, flags=f, seq=1000, ack=1 if "A" in f else 0))
    sets["flags"] = flags

    def midstream():
        # Mid-stream ACK with data for a connection nobody opened: NEW with
        # nf_conntrack_tcp_loose=1, INVALID with 0.
        send(ip() / TCP(sport=34001, dport=8080, flags="A", seq=5000, ack=7000) / Raw(b"mid"))
        send(ip() / TCP(sport=34001, dport=8080, flags="PA", seq=5003, ack=7000) / Raw(b"more"))
        # SYN-ACK with no SYN before it.
        send(ip() / TCP(sport=34002, dport=8080, flags="SA", seq=9000, ack=1))
        # RST for an unknown connection.
        send(ip() / TCP(sport=34003, dport=8080, flags="RA", seq=1, ack=1))
    sets["midstream"] = midstream

    def broken():
        # Bad TCP checksum on a SYN.
        send(ip() / TCP(sport=35001, dport=8080, flags="S", chksum=0xdead))
        # Bad UDP checksum.
        send(ip() / UDP(sport=35002, dport=5353, chksum=0xbeef) / Raw(b"x" * 8))
        # Truncated TCP header: protocol TCP, 10 bytes of header.
        send(raw(ip(6) / Raw(raw(TCP(sport=35003, dport=80, flags="S"))[:10])))
        # TCP data offset below 5.
        send(ip() / TCP(sport=35004, dport=80, flags="S", dataofs=4))
        # UDP length larger than the datagram.
        send(ip() / UDP(sport=35005, dport=5353, len=200) / Raw(b"y" * 4))
    sets["broken"] = broken

    def icmp():
        if v6:
            # A UDP flow first, then an error that quotes its reply direction.
            send(ip() / UDP(sport=41000, dport=5000) / Raw(b"flow"))
            send(ip() / ICMPv6DestUnreach(code=4) / IPv6(src=dst, dst=src) / UDP(sport=5000, dport=41000) / Raw(b"flow"))
            send(ip() / ICMPv6DestUnreach(code=4) / IPv6(src=dst, dst=src) / UDP(sport=5999, dport=41999) / Raw(b"none"))
            send(ip() / ICMPv6EchoReply(id=77, seq=1))
        else:
            send(ip() / UDP(sport=41000, dport=5000) / Raw(b"flow"))
            send(ip() / ICMP(type=3, code=3) / IP(src=dst, dst=src) / UDP(sport=5000, dport=41000) / Raw(b"flow"))
            send(ip() / ICMP(type=3, code=3) / IP(src=dst, dst=src) / UDP(sport=5999, dport=41999) / Raw(b"none"))
            send(ip() / ICMP(type=0, id=77, seq=1))
            send(ip() / ICMP(type=13, id=78, seq=1) / Raw(b"\0" * 12))
    sets["icmp"] = icmp

    def proto():
        if v6:
            send(ip(47) / GRE() / IPv6(src="fd00:99::1", dst="fd00:99::2") / UDP(sport=1, dport=2))
        else:
            send(ip() / GRE() / IP(src="10.99.0.1", dst="10.99.0.2") / UDP(sport=1, dport=2))
        send(ip(253) / Raw(b"experimental"))
        send(ip(253) / Raw(b"experimental again"))
    sets["proto"] = proto

    names = list(sets) if which == "all" else which.split(",")
    for n in names:
        sets[n]()


main()
