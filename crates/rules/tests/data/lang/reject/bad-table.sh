iptables -t nosuch -A INPUT -j ACCEPT
