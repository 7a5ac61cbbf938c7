# comma address lists (one rule per address, -s × -d), service names, protocol names
iptables -A INPUT -s 192.0.2.1,198.51.100.0/24 -p tcp --dport ssh -j ACCEPT
iptables -A INPUT -s 192.0.2.1,192.0.2.2 -d 10.0.0.1,10.0.0.2 -j ACCEPT
iptables -A OUTPUT -d 203.0.113.9,203.0.113.10,203.0.113.11 -p udp --dport domain -j ACCEPT
iptables -I INPUT 1 -s 10.1.0.0/16,10.2.0.0/16 -j DROP
iptables -A INPUT -p tcp -m multiport --dports http,https,smtp,imaps -j ACCEPT
iptables -A INPUT -p udp --sport ntp --dport ntp -j ACCEPT
iptables -A INPUT -p tcp --sport ssh:http -j ACCEPT
iptables -A INPUT -p ICMP --icmp-type echo-request -j ACCEPT
iptables -A INPUT -p esp -j ACCEPT
iptables -D INPUT -s 192.0.2.1,192.0.2.2 -d 10.0.0.1,10.0.0.2 -j ACCEPT
ip6tables -A INPUT -s 2001:db8::1,2001:db8::2 -p tcp --dport https -j ACCEPT
ip6tables -A INPUT -d ff02::1,ff02::2 -j DROP
