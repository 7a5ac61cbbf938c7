bg fw $PY $RR/tcpecho.py 9090
bg fw $PY $RR/tcpecho.py 9091 6
bg fw $PY $RR/udpecho.py 5353
bg fw $PY $RR/udpecho.py 5354 6
sleep 0.5
client echo hello | nc -w 1 -N $FW_C4 8080
client echo again | nc -w 1 -N $FW_C4 8080
client echo query | nc -u -w 1 $FW_C4 5300
client echo hello | nc -6 -w 1 -N $FW_C6 8080
client echo query | nc -6 -u -w 1 $FW_C6 5300
# not redirected from the server side: the closed port answers with a RST
server echo x | nc -w 1 -N $FW_S4 8080
sleep 0.3
