# seed 002, NAT gateway section; the guide's blank addresses filled with
# 192.168.0.0/24 and 10.3.0.0/16 (LANs), 192.168.0.5 and 192.168.0.6:80 (servers)
iptables -N fw-interfaces
iptables -N fw-open
iptables -A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
iptables -A FORWARD -j fw-interfaces 
iptables -A FORWARD -j fw-open 
iptables -A FORWARD -j REJECT --reject-with icmp-host-unreachable
iptables -P FORWARD DROP
iptables -A fw-interfaces -i eth0 -j ACCEPT
iptables -t nat -A POSTROUTING -s 192.168.0.0/24 -o ppp0 -j MASQUERADE
iptables -A fw-interfaces -i eth1 -j ACCEPT
iptables -t nat -A POSTROUTING -s 10.3.0.0/16 -o ppp0 -j MASQUERADE
iptables -t nat -A PREROUTING -i ppp0 -p tcp --dport 22 -j DNAT --to 192.168.0.5
iptables -A fw-open -d 192.168.0.5 -p tcp --dport 22 -j ACCEPT
iptables -t nat -A PREROUTING -i ppp0 -p tcp --dport 8000 -j DNAT --to 192.168.0.6:80
iptables -A fw-open -d 192.168.0.6 -p tcp --dport 80 -j ACCEPT
