#!/usr/bin/python3
"""A tiny FTP server and client for the replay recorder (no pyftpdlib).

    ftp.py server PORT [6]            serve until killed (v4, or v6 with "6")
    ftp.py client HOST PORT MODE...   one session; MODE: port, eprt, pasv, epsv
                                      (each mode one RETR; several allowed);
                                      port0 / pasv0: the numbers zero-padded
                                      (PORT 010,000,...; "pasv" in lower case
                                      asks the server to pad its 227 reply),
                                      so a NAT rewrite changes the length

The server answers USER/PASS/TYPE/PORT/EPRT/PASV/EPSV/RETR/QUIT; active data
connections come from port 20, passive ones go to an ephemeral listener. The
client waits for every reply before the next command, so the control stream
is one line per segment, as real clients send it.
"""
import socket
import sys

DATA = b"palisade ftp data line\r\n" * 20


def send(f, line):
    f.write(line.encode() + b"\r\n")
    f.flush()


def serve_one(conn, fam):
    f = conn.makefile("rwb", buffering=0)
    send(f, "220 palisade test ftp")
    active = None
    passive = None
    while True:
        raw = f.readline()
        if not raw:
            return
        line = raw.decode(errors="replace").strip()
        cmd, _, arg = line.partition(" ")
        cmd = cmd.upper()
        if cmd == "USER":
            send(f, "331 password please")
        elif cmd == "PASS":
            send(f, "230 logged in")
        elif cmd == "TYPE":
            send(f, "200 type set")
        elif cmd == "PORT":
            n = [int(x) for x in arg.split(",")]
            active = (".".join(map(str, n[:4])), n[4] * 256 + n[5])
            send(f, "200 PORT ok")
        elif cmd == "EPRT":
            d = arg[0]
            _, af, addr, port, _ = arg.split(d)
            active = (addr, int(port))
            send(f, "200 EPRT ok")
        elif cmd in ("PASV", "EPSV"):
            passive = socket.socket(fam, socket.SOCK_STREAM)
            passive.bind((conn.getsockname()[0], 0))
            passive.listen(1)
            port = passive.getsockname()[1]
            if cmd == "PASV":
                h = conn.getsockname()[0].split(".")
                if raw.startswith(b"pasv"):
                    h = ["%03d" % int(x) for x in h]
                    send(f, "227 Entering Passive Mode (%s,%03d,%03d)." % (",".join(h), port >> 8, port & 255))
                else:
                    send(f, "227 Entering Passive Mode (%s,%d,%d)." % (",".join(h), port >> 8, port & 255))
            else:
                send(f, "229 Entering Extended Passive Mode (|||%d|)" % port)
        elif cmd == "RETR":
            send(f, "150 opening data connection")
            if passive is not None:
                passive.settimeout(5)
                d, _ = passive.accept()
                passive.close()
                passive = None
            else:
                d = socket.socket(fam, socket.SOCK_STREAM)
                d.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                d.bind((conn.getsockname()[0], 20))
                d.settimeout(5)
                d.connect(active)
            d.sendall(DATA)
            d.shutdown(socket.SHUT_WR)
            d.recv(1)
            d.close()
            send(f, "226 transfer complete")
        elif cmd == "QUIT":
            send(f, "221 bye")
            return
        else:
            send(f, "502 not implemented")


def server(port, v6):
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if v6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind(("::" if v6 else "0.0.0.0", port))
    s.listen(5)
    while True:
        c, _ = s.accept()
        try:
            serve_one(c, fam)
        except OSError:
            pass
        c.close()


def client(host, port, modes):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    c = socket.create_connection((host, port), timeout=5)
    f = c.makefile("rwb", buffering=0)

    def reply():
        return f.readline().decode().strip()

    def cmd(line):
        send(f, line)
        return reply()

    reply()
    cmd("USER anonymous")
    cmd("PASS x@")
    cmd("TYPE I")
    for mode in modes:
        data = None
        if mode in ("port", "port0", "eprt"):
            lst = socket.socket(fam, socket.SOCK_STREAM)
            lst.bind((c.getsockname()[0], 0))
            lst.listen(1)
            lst.settimeout(5)
            addr, p = c.getsockname()[0], lst.getsockname()[1]
            if mode == "port":
                cmd("PORT %s,%d,%d" % (addr.replace(".", ","), p >> 8, p & 255))
            elif mode == "port0":
                h = ",".join("%03d" % int(x) for x in addr.split("."))
                cmd("PORT %s,%03d,%03d" % (h, p >> 8, p & 255))
            else:
                cmd("EPRT |%d|%s|%d|" % (2 if fam == socket.AF_INET6 else 1, addr, p))
            send(f, "RETR file")
            reply()
            data, _ = lst.accept()
            lst.close()
        else:
            r = cmd("pasv" if mode == "pasv0" else mode.upper())
            if mode in ("pasv", "pasv0"):
                n = r[r.index("(") + 1:r.index(")")].split(",")
                target = (".".join(n[:4]), int(n[4]) * 256 + int(n[5]))
            else:
                target = (host, int(r.split("|")[3]))
            send(f, "RETR file")
            data = socket.create_connection(target, timeout=5)
            reply()
        got = b""
        while True:
            b = data.recv(4096)
            if not b:
                break
            got += b
        data.close()
        reply()
        assert got == DATA, "short transfer"
    cmd("QUIT")
    c.close()


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(int(sys.argv[2]), len(sys.argv) > 3 and sys.argv[3] == "6")
    else:
        client(sys.argv[2], int(sys.argv[3]), sys.argv[4:])
