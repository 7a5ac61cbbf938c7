iptables -N x
iptables -A x -j ACCEPT
iptables -X x
