bg fw nc -lk 22
bg fw nc -6 -lk 22
bg fw $PY $RR/udpecho.py 53
bg fw $PY $RR/udpecho.py 53 6
bg server nc -6 -lk 22
bg server $PY $RR/udpecho.py 5000 6
sleep 0.5
# against the firewall: open, filtered and closed ports
client nmap -6 -n -Pn -sS -p 21-23,80,443 --max-retries 1 -T4 $FW_C6
client nmap -6 -n -Pn -sU -p 53,54,161 --max-retries 1 -T4 $FW_C6
client nmap -6 -n -Pn -sA -p 22,23,80 --max-retries 1 -T4 $FW_C6
# through it
client nmap -6 -n -Pn -sS -p 22,23,8080 --max-retries 1 -T4 $SERVER6
client nmap -6 -n -Pn -sU -p 5000,5001 --max-retries 1 -T4 $SERVER6
client nmap -6 -n -Pn -sA -p 22,8080 --max-retries 1 -T4 $SERVER6
# odd packets to the firewall itself: bad flag combinations, mid-stream
# ACKs, bad checksums and truncated headers, ICMP errors quoting known and
# unknown flows, other protocols
client $PY $RR/odd.py 6 $CLIENT6 $FW_C6
client $PY $RR/odd.py 4 $CLIENT4 $FW_C4
sleep 0.3
