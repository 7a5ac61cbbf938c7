bg server $PY $RR/ftp.py server 21
bg server $PY $RR/ftp.py server 21 6
sleep 0.5
# the WAN client reaches the LAN server through the port forward: passive
# (zero-padded 227 rewritten to the public address, shorter; then PASV and
# EPSV with the sequence adjustment in force), then active (zero-padded
# PORT reformatted; data from the server's port 20 SNATed to 10.0.1.1)
client $PY $RR/ftp.py client $FW_C4 21 pasv0 pasv epsv
client $PY $RR/ftp.py client $FW_C4 21 port0 port eprt
# IPv6: EPSV, then EPRT
client $PY $RR/ftp.py client $FW_C6 21 epsv eprt epsv
