iptables -A INPUT -j ACCEPT
iptables -N y
iptables -N y || iptables -Z OUTPUT
