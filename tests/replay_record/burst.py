"""Sends a quick burst of probes that the firewall REJECTs with ICMP errors.

usage: burst.py udp|tcp SRC DST PORT COUNT [PAUSE COUNT2]

UDP probes are plain datagrams to PORT, PORT+1, ...; TCP probes are
non-blocking connects (one SYN each) closed again 50 ms later, before the
kernel would retransmit an unanswered SYN (1 s). With PAUSE, COUNT2 more
probes (to the ports after the first burst's) follow PAUSE seconds after the
first burst, timed here rather than by the recorder's steps (TCP: keep PAUSE
under the 1 s SYN retransmission). The whole burst leaves
within a millisecond or two, far shorter than the per-destination ICMP
interval, so how many errors come back depends only on the token buckets,
not on where the packets fall between jiffies.
"""

import errno
import socket
import sys
import time


def main():
    proto, src, dst, port, count = sys.argv[1:6]
    port, count = int(port), int(count)
    socks = burst(proto, src, dst, port, count)
    if len(sys.argv) > 7:
        time.sleep(float(sys.argv[6]))
        socks += burst(proto, src, dst, port + count, int(sys.argv[7]))
    time.sleep(0.05)
    for s in socks:
        s.close()


def burst(proto, src, dst, port, count):
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    socks = []
    if proto == "udp":
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.bind((src, 0))
        for i in range(count):
            s.sendto(b"probe", (dst, port + i))
        socks.append(s)
    else:
        for i in range(count):
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.bind((src, 0))
            s.setblocking(False)
            try:
                s.connect((dst, port + i))
            except OSError as e:
                if e.errno != errno.EINPROGRESS:
                    raise
            socks.append(s)
    return socks


if __name__ == "__main__":
    main()
