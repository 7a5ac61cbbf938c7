bg server $PY $RR/udpecho.py 5000
bg server $PY $RR/udpecho.py 5000 6
bg server $PY $RR/udpecho.py 7777
bg fw $PY $RR/udpecho.py 5001
sleep 0.5
# replied UDP flows (stream), one-way UDP, UDP to closed ports (ICMP errors RELATED)
client echo one | nc -u -w 1 $SERVER4 5000
client echo one | nc -6 -u -w 1 $SERVER6 5000
client echo two | nc -u -w 1 $FW_C4 5001
client echo closed | nc -u -w 1 $SERVER4 5002
client echo closed | nc -6 -u -w 1 $SERVER6 5002
client echo closed | nc -u -w 1 $FW_C4 5003
client echo closed | nc -6 -u -w 1 $FW_C6 5003
# untracked (raw CT --notrack on port 7777)
client echo notrack | nc -u -w 1 $SERVER4 7777
# TTL expiring at the firewall: time exceeded from the firewall itself
client ping -c 1 -t 1 -W 1 $SERVER4
client ping -6 -c 1 -t 1 -W 1 $SERVER6
# TCP to a closed port through the firewall: RST from the server
client echo x | nc -w 1 -N $SERVER4 81
client nmap -n -Pn --send-ip -sU -p 5000,5002,5005 --max-retries 1 -T4 $SERVER4
client nmap -6 -n -Pn -sU -p 5000,5002 --max-retries 1 -T4 $SERVER6
# crafted ICMP errors quoting known and unknown flows, unsolicited echo reply
client $PY $RR/odd.py 4 $CLIENT4 $SERVER4 icmp
client $PY $RR/odd.py 4 $CLIENT4 $FW_C4 icmp
client $PY $RR/odd.py 6 $CLIENT6 $SERVER6 icmp
client $PY $RR/odd.py 6 $CLIENT6 $FW_C6 icmp
