iptables -A INPUT -j ACCEPT
iptables -D INPUT 5
