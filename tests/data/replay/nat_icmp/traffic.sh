bg server $PY $RR/udpecho.py 5000
sleep 0.3
# WAN to a forwarded port that is closed on the LAN server: port unreachable
# from the server, translated back (outer source, quoted destination)
client echo closed | nc -u -w 1 $FW_C4 5354
client echo closed | nc -6 -u -w 1 $FW_C6 5354
# the open one works both ways
client echo open | nc -u -w 1 $FW_C4 5353
client echo open | nc -6 -u -w 1 $FW_C6 5353
# LAN to a closed WAN port through MASQUERADE: the client's port unreachable
# is addressed to the firewall and un-masqueraded to the server
server echo closed | nc -u -w 1 $CLIENT4 7001
server echo closed | nc -6 -u -w 1 $CLIENT6 7001
# TTL 1 towards the forwarded port: time exceeded from the firewall quotes
# the DNATed datagram and is translated back on the way out
client $PY -c "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 1); s.sendto(b'ttl', ('$FW_C4', 5353))"
client $PY -c "import socket; s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 1); s.sendto(b'ttl', ('$FW_C6', 5353))"
# ping with TTL 1 from the LAN (expires at the firewall, before MASQUERADE)
server ping -c 1 -t 1 -W 1 $CLIENT4
# WAN straight at the LAN: host unreachable
client echo get | nc -u -w 1 $SERVER4 5000
