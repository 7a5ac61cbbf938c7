iptables -N a
iptables -N b
iptables -A a -j b
iptables -A b -j a
iptables -A INPUT -j a
