iptables -N x
iptables -N x
