ip6tables -A INPUT -j REJECT --reject-with icmp-port-unreachable
