iptables -Q INPUT
