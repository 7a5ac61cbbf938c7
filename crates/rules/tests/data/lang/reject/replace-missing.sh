iptables -R INPUT 1 -j DROP
