bg server $PY $RR/tftp.py server
bg server $PY $RR/tftp.py server 6
sleep 0.5
# read requests; each answer comes from a new server port
client $PY $RR/tftp.py client $SERVER4 2
client $PY $RR/tftp.py client $SERVER6 2
