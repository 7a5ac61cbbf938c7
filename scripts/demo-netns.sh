#!/bin/sh
# Palisade live, safely: builds throw-away namespaces client (10.91.1.2) — fw
# (10.91.1.1) and runs `palisade run` (the built-in workstation policy) inside
# fw only, scans fw from client with nmap, prints `palisade status`, and
# deletes everything again. Nothing outside the namespaces is touched.
# Usage: sudo scripts/demo-netns.sh [path/to/palisade]
set -eu
BIN=${1:-target/release/palisade}
[ -x "$BIN" ] || { echo "build first: cargo build --release (or pass the binary)"; exit 2; }
BIN=$(readlink -f "$BIN")
C=pal-demo-client-$$ F=pal-demo-fw-$$ SOCK=/tmp/pal-demo-$$.sock PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    ip netns del "$C" 2>/dev/null; ip netns del "$F" 2>/dev/null; rm -f "$SOCK"
}
trap cleanup EXIT INT TERM PIPE HUP
ip netns add "$C"; ip netns add "$F"
ip link add c0 netns "$C" type veth peer name fc netns "$F"
ip -n "$C" addr add 10.91.1.2/24 dev c0; ip -n "$C" link set c0 up; ip -n "$C" link set lo up
ip -n "$F" addr add 10.91.1.1/24 dev fc; ip -n "$F" link set fc up; ip -n "$F" link set lo up
ip netns exec "$F" "$BIN" run --workers 1 --control "$SOCK" &
PID=$!
i=0; until "$BIN" status --control "$SOCK" >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 100 ] || exit 1; sleep 0.1; done
echo "== ping fw from client (the workstation policy accepts ICMP)"
ip netns exec "$C" ping -c2 -W1 10.91.1.1 | tail -2
echo "== nmap -sS fw from client (new connections are rejected)"
ip netns exec "$C" nmap -n -Pn -sS -p 22,80,443 --max-retries 1 -T4 10.91.1.1 | grep -E '^[0-9]+/'
echo "== palisade status"
"$BIN" status --control "$SOCK"
