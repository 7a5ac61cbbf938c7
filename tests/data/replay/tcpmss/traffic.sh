fw ip link set eth1 mtu 1400
bg server nc -lk 8080
bg server nc -lk 8081
bg server nc -lk 8082
bg server nc -6 -lk 8080
bg server nc -6 -lk 8081
sleep 0.5
# clamp (8080), fixed lower (8081, both directions), fixed higher: unchanged (8082)
client echo x | nc -N -w 1 $SERVER4 8080
client echo x | nc -N -w 1 $SERVER4 8081
client echo x | nc -N -w 1 $SERVER4 8082
client echo x | nc -6 -N -w 1 $SERVER6 8080
client echo x | nc -6 -N -w 1 $SERVER6 8081
# (small payloads: a 1500-byte packet towards eth1 would meet ip_forward's MTU check, not modelled yet)
