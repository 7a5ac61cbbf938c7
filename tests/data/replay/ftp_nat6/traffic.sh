bg server $PY $RR/ftp.py server 21 6
sleep 0.5
# IPv6 FTP through MASQUERADE: EPRT rewritten (longer), EPSV, EPRT and
# EPSV again with the sequence adjustment in force
client $PY $RR/ftp.py client $SERVER6 21 eprt epsv eprt epsv
