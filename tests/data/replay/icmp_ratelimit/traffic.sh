# Default ICMP rate limits (no sysctl.in). Each burst leaves the client within
# a millisecond or two and is aimed at one destination's fresh or refilled
# bucket, so the number of errors is decided far from any bucket edge:
# - a new destination gets the full burst of 6, the rest is refused;
# - after 1.5 s (v4 interval 1 s) exactly one more, half a token left over;
# - after 0.25 s (v6 interval 100 ms) exactly two more;
# - after 1 s (well over 6 IPv6 intervals) a full burst of 6 again;
# - the global bucket (50 credits, 1000/s, random 0-2 credits per message)
#   runs dry somewhere past the 25th error and is refilled at once (the last
#   refill was long ago); no burst holds more than 6 errors, 12 credits at
#   most, so it never refuses.
# The pauses inside a burst.py run are timed there, not by the recorder.
# Fresh sources (client addresses added here) are fresh destinations.
client ip addr add 10.0.1.10/24 dev eth0 && ip addr add 10.0.1.11/24 dev eth0 && ip addr add 10.0.1.12/24 dev eth0
client ip addr add fd00:1::10/64 dev eth0 nodad && ip addr add fd00:1::11/64 dev eth0 nodad && ip addr add fd00:1::12/64 dev eth0 nodad
sleep 0.5
client $PY $RR/burst.py udp $CLIENT4 $FW_C4 7000 10 1.5 3
sleep 0.2
client $PY $RR/burst.py tcp 10.0.1.10 $FW_C4 7200 9
sleep 0.2
client $PY $RR/burst.py udp 10.0.1.11 $SERVER4 9000 8
sleep 0.2
client $PY $RR/burst.py tcp 10.0.1.12 $SERVER4 9100 8
sleep 0.2
client $PY $RR/burst.py udp $CLIENT6 $FW_C6 7000 10 0.25 4
sleep 1.0
client $PY $RR/burst.py udp $CLIENT6 $FW_C6 7100 10
sleep 0.2
client $PY $RR/burst.py tcp fd00:1::10 $FW_C6 7200 9
sleep 0.2
client $PY $RR/burst.py udp fd00:1::11 $SERVER6 9000 8
sleep 0.2
client $PY $RR/burst.py tcp fd00:1::12 $SERVER6 9100 8
sleep 0.3
