bg server $PY $RR/ftp.py server 21
bg server $PY $RR/ftp.py server 21 6
sleep 0.5
# passive FTP: PASV and EPSV over IPv4, EPSV over IPv6 (client connects to the announced port)
client $PY $RR/ftp.py client $SERVER4 21 pasv epsv
client $PY $RR/ftp.py client $SERVER6 21 epsv epsv
