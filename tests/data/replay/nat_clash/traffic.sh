# Three LAN hosts (server namespace, extra addresses), one source port.
server ip addr add 10.0.2.3/24 dev eth0 && ip addr add 10.0.2.4/24 dev eth0
server ip addr add fd00:2::3/64 dev eth0 nodad && ip addr add fd00:2::4/64 dev eth0 nodad
bg client $PY $RR/tcpecho.py 8080
bg client $PY $RR/tcpecho.py 8081 6
bg client $PY $RR/udpecho.py 5353
bg client $PY $RR/udpecho.py 5354 6
sleep 0.5
server $PY $RR/clash.py udp $CLIENT4 5353 40000 $SERVER4 10.0.2.3 10.0.2.4
server $PY $RR/clash.py tcp $CLIENT4 8080 41000 $SERVER4 10.0.2.3 10.0.2.4
server $PY $RR/clash.py udp $CLIENT6 5354 40000 $SERVER6 fd00:2::3 fd00:2::4
server $PY $RR/clash.py tcp $CLIENT6 8081 41000 $SERVER6 fd00:2::3 fd00:2::4
# A port below 1024 keeps to the 600-1023 range when it moves.
server $PY $RR/clash.py udp $CLIENT4 5353 700 $SERVER4 10.0.2.3
sleep 0.3
