iptables -N x
iptables -A INPUT -j x
iptables -X x
