bg server $PY $RR/ftp.py server 21
sleep 0.5
# active FTP through MASQUERADE: PORT zero-padded (rewritten shorter), then
# PORT and EPRT (same length) with the sequence adjustment in force
client $PY $RR/ftp.py client $SERVER4 21 port0 port eprt
