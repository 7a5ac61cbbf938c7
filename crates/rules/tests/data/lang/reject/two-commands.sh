iptables -A INPUT -D INPUT -j ACCEPT
