bg fw nc -lk 22
bg fw nc -6 -lk 22
bg fw $PY $RR/udpecho.py 53
bg fw $PY $RR/udpecho.py 53 6
sleep 0.5
# before any scan: open ports work
client echo ssh | nc -w 1 -N $FW_C4 22
client echo ssh | nc -6 -w 1 -N $FW_C6 22
client echo dns | nc -u -w 1 $FW_C4 53
# a closed TCP port puts the client on TCP-PORTSCAN: ssh is now refused
client echo x | nc -w 1 -N $FW_C4 23
client echo ssh | nc -w 1 -N $FW_C4 22
# the same for UDP
client echo x | nc -u -w 1 $FW_C4 54
client echo dns | nc -u -w 1 $FW_C4 53
# scans (keep the list fresh with --update)
client nmap -n -Pn --send-ip -sS -p 20-30,80,443 --max-retries 1 -T4 $FW_C4
client nmap -n -Pn --send-ip -sU -p 53,54,161 --max-retries 1 -T4 $FW_C4
client nmap -6 -n -Pn -sS -p 21-23,80 --max-retries 1 -T4 $FW_C6
client nmap -6 -n -Pn -sU -p 53,54 --max-retries 1 -T4 $FW_C6
client echo ssh | nc -6 -w 1 -N $FW_C6 22
# the server side never scanned: ssh from there still works
server echo ssh | nc -w 1 -N $FW_S4 22
client ping -c 1 -W 1 $FW_C4
