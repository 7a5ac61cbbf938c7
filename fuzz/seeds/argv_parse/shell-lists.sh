ip6tables -N x; ip6tables -Z OUTPUT
iptables -N L 2>/dev/null || iptables -F L && iptables -A L -m comment --comment "a;b" -j DROP # c
