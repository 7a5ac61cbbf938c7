bg server $PY $RR/udpecho.py 5000
bg fw $PY $RR/udpecho.py 5001
sleep 0.5
# Fragmented echo through the firewall and to it, both ways (reassembled by
# nf_defrag before conntrack and the rules; refragmented on output)
client ping -c 2 -s 3000 -W 1 $SERVER4
client ping -c 2 -s 2000 -W 1 $FW_C4
fw ping -c 1 -s 2500 -W 1 $CLIENT4
client ping -6 -c 2 -s 3000 -W 1 $SERVER6
client ping -6 -c 1 -s 2000 -W 1 $FW_C6
fw ping -6 -c 1 -s 2500 -W 1 $CLIENT6
# large UDP datagrams echoed back (fragments both ways)
client $PY -c "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.settimeout(1);s.sendto(b'u'*4000,('$SERVER4',5000));s.recv(9000)"
client $PY -c "import socket;s=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM);s.settimeout(1);s.sendto(b'u'*4000,('$SERVER6',5000));s.recv(9000)"
# UDP to a closed port: the port unreachable quotes the reassembled datagram
client $PY -c "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.sendto(b'c'*3000,('$SERVER4',5009))"
# crafted sets: in order, reversed, duplicate, overlap (dropped), incomplete
client $PY $RR/frags.py 4 $CLIENT4 $SERVER4 5000
client $PY $RR/frags.py 4 $CLIENT4 $FW_C4 5001
client $PY $RR/frags.py 6 $CLIENT6 $SERVER6 5000
client $PY $RR/frags.py 6 $CLIENT6 $FW_C6 5001
sleep 0.3
