iptables -F nosuch
