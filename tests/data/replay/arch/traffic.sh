bg fw nc -lk 22
bg fw nc -6 -lk 22
bg fw nc -u -lk 53
bg server nc -lk 80
bg server nc -6 -lk 80
bg server nc -lk 8080
bg client nc -lk 9090
sleep 0.3
client ping -c 2 -i 0.2 -W 1 $FW_C4
client ping -6 -c 2 -i 0.2 -W 1 $FW_C6
client ping -c 1 -W 1 $SERVER4
server ping -c 2 -i 0.2 -W 1 $CLIENT4
server ping -6 -c 2 -i 0.2 -W 1 $CLIENT6
# open and closed TCP on the firewall
client echo ssh | nc -w 1 -N $FW_C4 22
client echo ssh | nc -6 -w 1 -N $FW_C6 22
client echo web | nc -w 1 -N $FW_C4 80
client echo x | nc -w 1 -N $FW_C4 23
# UDP: open 53, closed 54
client echo dns | nc -u -w 1 $FW_C4 53
client echo dns | nc -u -w 1 $FW_C4 54
client echo dns | nc -6 -u -w 1 $FW_C6 54
# through: published port 80 on the server, 8080 not published, server out
client echo get | nc -w 1 -N $SERVER4 80
client echo get | nc -6 -w 1 -N $SERVER6 80
client echo get | nc -w 1 -N $SERVER4 8080
server echo hi | nc -w 1 -N $CLIENT4 9090
client nmap -n -Pn --send-ip -sS -p 20-30,80,443 --max-retries 1 -T4 $FW_C4
client nmap -n -Pn --send-ip -sF -p 22,80,81 --max-retries 1 -T4 $FW_C4
client nmap -n -Pn --send-ip -sN -p 22,80 --max-retries 1 -T4 $FW_C4
client nmap -n -Pn --send-ip -sX -p 22,80 --max-retries 1 -T4 $FW_C4
client nmap -n -Pn --send-ip -sA -p 22,80 --max-retries 1 -T4 $FW_C4
client nmap -n -Pn --send-ip -sU -p 53,54,161 --max-retries 1 -T4 $FW_C4
client nmap -6 -n -Pn -sS -p 21-23,80 --max-retries 1 -T4 $FW_C6
client $PY $RR/odd.py 4 $CLIENT4 $FW_C4
client $PY $RR/odd.py 4 $CLIENT4 $SERVER4 flags,midstream,proto
client $PY $RR/odd.py 6 $CLIENT6 $FW_C6 flags,broken,proto
