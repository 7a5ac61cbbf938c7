iptables -P INPUT RETURN
