bg server $PY $RR/ftp.py server 21
sleep 0.5
# passive FTP through MASQUERADE: a zero-padded 227 reply (rewritten
# shorter), then PASV and EPSV with the sequence adjustment in force
client $PY $RR/ftp.py client $SERVER4 21 pasv0 pasv epsv
