# Listeners: a service on the fw, on the server and on the client.
bg fw nc -lk 8000
bg server nc -lk 8080
bg server nc -6 -lk 8080
bg client nc -lk 9090
bg client nc -6 -lk 9090
bg server nc -u -lk 5353
sleep 0.3
# ping the firewall and through it
client ping -c 2 -i 0.2 -W 1 $FW_C4
client ping -6 -c 2 -i 0.2 -W 1 $FW_C6
client ping -c 2 -i 0.2 -W 1 $SERVER4
client ping -6 -c 2 -i 0.2 -W 1 $SERVER6
# TCP to the firewall and through it: rejected (new from outside)
client echo hello | nc -w 1 -N $FW_C4 8000
client echo hello | nc -6 -w 1 -N $FW_C6 8000
client echo hello | nc -w 1 -N $SERVER4 8080
client echo hello | nc -6 -w 1 -N $SERVER6 8080
# the server's own connections out: accepted, replies ESTABLISHED
server echo hi | nc -w 1 -N $CLIENT4 9090
server echo hi | nc -6 -w 1 -N $CLIENT6 9090
# UDP from the client: rejected; from the server to a closed client port
client echo q | nc -u -w 1 $SERVER4 5353
server echo q | nc -u -w 1 $CLIENT4 5999
# scans
client nmap -n -Pn --send-ip -sS -p 20-30,80,443,8000 --max-retries 1 -T4 $FW_C4
client nmap -n -Pn --send-ip -sA -p 22,80,8080 --max-retries 1 -T4 $SERVER4
client nmap -6 -n -Pn -sS -p 22,80,8000 --max-retries 1 -T4 $FW_C6
client nmap -n -Pn --send-ip -sU -p 53,161,5353 --max-retries 1 -T4 $FW_C4
# odd packets to the firewall and through it
client $PY $RR/odd.py 4 $CLIENT4 $FW_C4
client $PY $RR/odd.py 4 $CLIENT4 $SERVER4
client $PY $RR/odd.py 6 $CLIENT6 $FW_C6 flags,midstream,icmp,proto
