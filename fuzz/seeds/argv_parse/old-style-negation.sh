iptables -A INPUT -s ! 192.0.2.1 -j ACCEPT
