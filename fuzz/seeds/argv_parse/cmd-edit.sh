# -I n, -D by spec and by number, -R, -E, -X, -F, -Z, -P on a small filter table
iptables -A INPUT -p tcp --dport 22 -j ACCEPT
iptables -A INPUT -p tcp --dport 80 -j ACCEPT
iptables -A INPUT -p tcp --dport 443 -j ACCEPT
iptables -I INPUT 2 -p udp --dport 53 -j ACCEPT
iptables -I INPUT -i lo -j ACCEPT
iptables -I INPUT 6 -j LOG --log-prefix "end: "
iptables -D INPUT -p tcp --dport 80 -j ACCEPT
iptables -D INPUT 1
iptables -R INPUT 1 -p tcp --dport 2222 -j ACCEPT
iptables -N old
iptables -A old -j DROP
iptables -A INPUT -j old
iptables -E old new
iptables -N gone
iptables -A gone -j ACCEPT
iptables -F gone
iptables -X gone
iptables -Z INPUT
iptables -Z
iptables -P INPUT DROP
iptables -P OUTPUT DROP
iptables -P OUTPUT ACCEPT
iptables -t mangle -A PREROUTING -j MARK --set-mark 1
iptables -t mangle -A PREROUTING -j MARK --set-mark 2
iptables -t mangle -D PREROUTING 1
iptables -t nat -N dnat
iptables -t nat -A dnat -j RETURN
iptables -t nat -F
iptables -t nat -X dnat
iptables -t raw -N scratch
iptables -t raw -X
ip6tables -A INPUT -p tcp --dport 22 -j ACCEPT
ip6tables -I INPUT 1 -p tcp --dport 80 -j ACCEPT
ip6tables -R INPUT 2 -p tcp --dport 8022 -j ACCEPT
ip6tables -D INPUT -p tcp --dport 80 -j ACCEPT
ip6tables -P FORWARD DROP
