bg fw nc -lk 8000
bg server nc -lk 8080
bg server nc -6 -lk 8080
sleep 0.3
client ping -c 2 -i 0.2 -W 1 $SERVER4
client ping -6 -c 2 -i 0.2 -W 1 $SERVER6
client ping -c 1 -W 1 $FW_C4
client echo a | nc -w 1 -N $SERVER4 8080
client echo a | nc -6 -w 1 -N $SERVER6 8080
client echo a | nc -w 1 -N $FW_C4 8000
client echo a | nc -w 1 -N $SERVER4 8081
# mid-stream pickup, bad flags, broken headers, other protocols
client $PY $RR/odd.py 4 $CLIENT4 $SERVER4
client $PY $RR/odd.py 4 $CLIENT4 $FW_C4 flags,midstream,broken
client $PY $RR/odd.py 6 $CLIENT6 $SERVER6
client $PY $RR/odd.py 6 $CLIENT6 $FW_C6 midstream,broken
client nmap -n -Pn --send-ip -sA -p 22,80,8080 --max-retries 1 -T4 $SERVER4
client nmap -n -Pn --send-ip -sX -p 22,8080 --max-retries 1 -T4 $SERVER4
client nmap -6 -n -Pn -sS -p 22,8080 --max-retries 1 -T4 $SERVER6
