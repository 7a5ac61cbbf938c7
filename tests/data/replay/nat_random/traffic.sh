# Connections from the LAN (server side) out of the WAN side, each NATed to
# a port the kernel picks at random.
bg client $PY $RR/tcpecho.py 8080
bg client $PY $RR/tcpecho.py 8081 6
bg client $PY $RR/udpecho.py 5353
bg client $PY $RR/udpecho.py 5354 6
sleep 0.5
server $PY $RR/clash.py tcp $CLIENT4 8080 41000 $SERVER4
server $PY $RR/clash.py tcp $CLIENT4 8080 41001 $SERVER4
server $PY $RR/clash.py udp $CLIENT4 5353 40000 $SERVER4
server $PY $RR/clash.py udp $CLIENT4 5353 40001 $SERVER4
server ping -c 2 -i 0.2 -W 1 $CLIENT4
server $PY $RR/clash.py tcp $CLIENT6 8081 41000 $SERVER6
server $PY $RR/clash.py udp $CLIENT6 5354 40000 $SERVER6
server ping -6 -c 2 -i 0.2 -W 1 $CLIENT6
sleep 0.3
