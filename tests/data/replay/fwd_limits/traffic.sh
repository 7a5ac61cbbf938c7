fw ip link set eth1 mtu 1400
sleep 0.3
client $PY $RR/fwdlimits.py 4 $SERVER4
client $PY $RR/fwdlimits.py 6 $SERVER6 fe80::ff:fe00:102
sleep 0.3
