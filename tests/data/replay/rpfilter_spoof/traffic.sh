# legitimate pings through and to the firewall
client ping -c 1 -W 1 $SERVER4
client ping -6 -c 1 -W 1 $SERVER6
client ping -c 1 -W 1 $FW_C4
# spoofed sources towards the server and towards the firewall
client $PY $RR/spoof.py 4 $SERVER4 10.0.2.77 $FW_S4 $FW_C4 127.0.0.1 198.51.100.7 10.0.1.99 10.0.2.255
client $PY $RR/spoof.py 4 $FW_C4 10.0.2.77 $FW_S4 198.51.100.7
client $PY $RR/spoof.py 6 $SERVER6 fd00:2::77 $FW_S6 $FW_C6 2001:db8::7 fd00:1::99
client $PY $RR/spoof.py 6 $FW_C6 fd00:2::77 $FW_S6 2001:db8::7
