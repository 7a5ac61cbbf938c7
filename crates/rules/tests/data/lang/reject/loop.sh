iptables -N a
iptables -N b
iptables -A INPUT -j a
iptables -A a -j b
iptables -A b -g a
