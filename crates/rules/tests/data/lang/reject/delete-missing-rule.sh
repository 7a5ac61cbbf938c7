iptables -A INPUT -p tcp --dport 2 -j ACCEPT
iptables -D INPUT -p tcp --dport 1 -j ACCEPT
