#!/usr/bin/python3
"""TCP echo server for the replay oracle: tcpecho.py PORT [6].

Serves every connection at once (one thread each): echoes what arrives and
closes when the peer does, so concurrent clients never wait on each other.
"""
import socket
import sys
import threading


def serve(c):
    with c:
        while True:
            data = c.recv(65535)
            if not data:
                return
            c.sendall(data)


fam = socket.AF_INET6 if len(sys.argv) > 2 and sys.argv[2] == "6" else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", int(sys.argv[1])))
s.listen(64)
while True:
    conn, _ = s.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
