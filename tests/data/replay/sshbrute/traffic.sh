bg fw nc -lk 22
bg fw nc -6 -lk 22
bg server nc -lk 22
sleep 0.3
# five quick attempts: the 4th and 5th are dropped (retransmitted SYNs too)
client echo try1 | nc -w 1 -N $FW_C4 22
client echo try2 | nc -w 1 -N $FW_C4 22
client echo try3 | nc -w 1 -N $FW_C4 22
client echo try4 | nc -w 1 -N $FW_C4 22
client echo try5 | nc -w 1 -N $FW_C4 22
# another TTL is another hit list entry as far as --rttl goes
client $PY -c "from scapy.all import *; import socket; s=socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_RAW); s.sendto(raw(IP(src='$CLIENT4',dst='$FW_C4',ttl=33)/TCP(sport=36001,dport=22,flags='S')),('$FW_C4',0))"
# through the firewall to the server
client echo s1 | nc -w 1 -N $SERVER4 22
client echo s2 | nc -w 1 -N $SERVER4 22
client echo s3 | nc -w 1 -N $SERVER4 22
client echo s4 | nc -w 1 -N $SERVER4 22
# IPv6
client echo v6a | nc -6 -w 1 -N $FW_C6 22
client echo v6b | nc -6 -w 1 -N $FW_C6 22
client echo v6c | nc -6 -w 1 -N $FW_C6 22
client echo v6d | nc -6 -w 1 -N $FW_C6 22
# unrelated port still answered by the rest of the ruleset
client echo x | nc -w 1 -N $FW_C4 80
