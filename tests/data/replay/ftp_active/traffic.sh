bg server $PY $RR/ftp.py server 21
bg server $PY $RR/ftp.py server 21 6
sleep 0.5
# active FTP: PORT and EPRT over IPv4, EPRT over IPv6 (server connects from port 20)
client $PY $RR/ftp.py client $SERVER4 21 port eprt
client $PY $RR/ftp.py client $SERVER6 21 eprt eprt
