bg server nc -lk 22
bg server nc -6 -lk 22
bg server $PY $RR/udpecho.py 5000
bg client nc -lk 9090
bg client nc -6 -lk 9090
bg client $PY $RR/udpecho.py 7000
sleep 0.3
# LAN (server side) out through MASQUERADE: TCP, UDP, ping, v4 and v6
server echo hi | nc -w 1 -N $CLIENT4 9090
server echo hi | nc -6 -w 1 -N $CLIENT6 9090
server echo u | nc -u -w 1 $CLIENT4 7000
server ping -c 2 -i 0.2 -W 1 $CLIENT4
server ping -6 -c 2 -i 0.2 -W 1 $CLIENT6
# LAN to a closed WAN port: the RST comes back un-NATed
server echo x | nc -w 1 -N $CLIENT4 9091
# WAN to the forwarded ports (DNAT to the LAN server)
client echo ssh | nc -w 1 -N $FW_C4 2222
client echo ssh | nc -6 -w 1 -N $FW_C6 2222
client echo dns | nc -u -w 1 $FW_C4 5353
# WAN straight at the LAN server: rejected with host unreachable
client echo get | nc -w 1 -N $SERVER4 80
client echo get | nc -6 -w 1 -N $SERVER6 80
# WAN at the firewall itself
client ping -c 1 -W 1 $FW_C4
client echo dns | nc -u -w 1 $FW_C4 54
client nmap -n -Pn --send-ip -sS -p 22,2222,2223 --max-retries 1 -T4 $FW_C4
