bg fw nc -lk 8000
bg server nc -lk 8080
bg server nc -6 -lk 8080
bg client nc -lk 9090
bg server $PY $RR/udpecho.py 5000
bg server $PY $RR/udpecho.py 5000 6
sleep 0.3
client ping -c 2 -i 0.2 -W 1 $FW_C4
client ping -6 -c 1 -W 1 $FW_C6
client ping -c 2 -i 0.2 -W 1 $SERVER4
client ping -6 -c 2 -i 0.2 -W 1 $SERVER6
server ping -c 1 -W 1 $CLIENT4
client echo a | nc -w 1 -N $FW_C4 8000
client echo a | nc -u -w 1 $FW_C4 5000
client echo b | nc -w 1 -N $SERVER4 8080
client echo b | nc -6 -w 1 -N $SERVER6 8080
client echo c | nc -u -w 1 $SERVER4 5000
client echo c | nc -6 -u -w 1 $SERVER6 5000
server echo d | nc -w 1 -N $CLIENT4 9090
server echo d | nc -u -w 1 $CLIENT4 9091
client nmap -n -Pn --send-ip -sS -p 20-30,80,443 --max-retries 1 -T4 $FW_C4
client nmap -n -Pn --send-ip -sU -p 53,161 --max-retries 1 -T4 $FW_C4
server nmap -n -Pn --send-ip -sS -p 20-25,9090 --max-retries 1 -T4 $CLIENT4
client $PY $RR/odd.py 4 $CLIENT4 $FW_C4 flags,midstream,proto
client $PY $RR/odd.py 4 $CLIENT4 $SERVER4 flags,icmp
