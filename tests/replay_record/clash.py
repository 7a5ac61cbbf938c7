#!/usr/bin/python3
"""Several LAN hosts using one source port at once: clash.py tcp|udp DST PORT SPORT SRC...

From each SRC address in turn, bound to the same SPORT, sends one line to
DST:PORT and reads the echo; every socket stays open until all have been
used, so behind MASQUERADE each later flow clashes with the earlier ones and
the firewall has to pick another port. Then all are closed (TCP: FIN).
"""
import socket
import sys
import time


def main():
    proto, dst, port, sport = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    socks = []
    for i, src in enumerate(sys.argv[5:]):
        s = socket.socket(fam, kind)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.settimeout(1.0)
        s.bind((src, sport))
        s.connect((dst, port))
        s.send(b"flow %d\n" % i)
        try:
            s.recv(100)
        except OSError:
            pass
        socks.append(s)
        time.sleep(0.05)
    time.sleep(0.1)
    for s in socks:
        s.close()
        time.sleep(0.05)


if __name__ == "__main__":
    main()
