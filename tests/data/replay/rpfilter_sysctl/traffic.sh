client ping -c 1 -W 1 $SERVER4
client ping -c 1 -W 1 $FW_C4
# wrong-interface and unrouted sources, to the server and to the firewall
client $PY $RR/spoof.py 4 $SERVER4 10.0.2.77 198.51.100.7 10.0.1.99
client $PY $RR/spoof.py 4 $FW_C4 10.0.2.77 198.51.100.7 $FW_S4
