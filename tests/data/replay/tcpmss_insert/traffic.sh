fw ip link set eth1 mtu 1400
sleep 0.3
# SYNs built with scapy (no MSS option, options without MSS, payload, full
# header, an existing MSS) to closed ports on the server (answered by RST)
client $PY $RR/synmss.py 4 $SERVER4
client $PY $RR/synmss.py 6 $SERVER6
sleep 0.3
