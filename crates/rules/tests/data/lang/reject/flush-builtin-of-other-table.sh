iptables -t raw -F INPUT
