iptables -N a
iptables -N b
iptables -E a b
