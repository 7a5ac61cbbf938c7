#!/usr/bin/python3
"""Turns off checksum and segmentation offloads on the named interfaces of the
current network namespace (what `ethtool -K IF rx off tx off tso off gso off gro off`
does) through the legacy SIOCETHTOOL ioctls, so no ethtool binary is needed.

Why: with offloads on, veth hands tcpdump packets whose TCP/UDP checksum is only
partially computed, and marks received packets CHECKSUM_UNNECESSARY so conntrack never
verifies them. The capture must hold the bytes a real wire would carry and the kernel
must verify checksums as it does on a NIC without offload, so replay can follow it.
"""
import ctypes
import fcntl
import socket
import struct
import sys

SIOCETHTOOL = 0x8946
# (get, set, name) of the ethtool_value commands; rx/tx are required, the rest best effort.
CMDS = [(0x14, 0x15, "rx"), (0x16, 0x17, "tx"), (0x1E, 0x1F, "tso"), (0x23, 0x24, "gso"), (0x2B, 0x2C, "gro")]


def ethtool(sock, ifname, cmd, value):
    buf = ctypes.create_string_buffer(struct.pack("II", cmd, value))
    ifr = struct.pack("16sP", ifname.encode(), ctypes.addressof(buf))
    fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifr)
    return struct.unpack("II", buf.raw[:8])[1]


def main():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for ifname in sys.argv[1:]:
        for get, set_, name in CMDS:
            try:
                ethtool(sock, ifname, set_, 0)
                if ethtool(sock, ifname, get, 0) != 0:
                    raise OSError(f"{name} still on")
            except OSError as e:
                if name in ("rx", "tx"):
                    print(f"offload.py: {ifname} {name}: {e}", file=sys.stderr)
                    sys.exit(1)


main()
