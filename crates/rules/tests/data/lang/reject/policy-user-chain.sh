iptables -N mine
iptables -P mine DROP
