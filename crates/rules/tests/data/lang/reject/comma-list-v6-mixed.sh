ip6tables -A INPUT -s 2001:db8::1,192.0.2.1 -j ACCEPT
