iptables -A INPUT -j ACCEPT
iptables -I INPUT 3 -j DROP
