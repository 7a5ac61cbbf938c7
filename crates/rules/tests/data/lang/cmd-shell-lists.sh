# shell lists on one line (`;`, `&&`, `||`, pipes), redirections and trailing comments, as
# scripts copied from how-tos have them; built-in chains created by a flush can be zeroed
ip6tables -F OUTPUT
ip6tables -Z OUTPUT
iptables -N LOGDROP; iptables -A LOGDROP -j LOG --log-prefix "drop; " && iptables -A LOGDROP -j DROP
iptables -N LOGDROP 2>/dev/null || iptables -F LOGDROP
iptables -N LOGDROP >/dev/null 2>&1 || true
iptables -A LOGDROP -m comment --comment 'a && b || c | d' -j DROP # trailing comment; iptables -N nope
iptables -A INPUT -p tcp --dport 22 -j ACCEPT && iptables -Z INPUT
iptables -t nat -F POSTROUTING&&iptables -t nat -Z POSTROUTING
iptables -A INPUT -j LOGDROP | cat
iptables -N x || iptables -N x || iptables -N y
ip6tables -P INPUT DROP ; ip6tables -Z INPUT;ip6tables -Z
IPT=iptables; LAN=10.9.0.0/16; $IPT -N viavar && ${IPT} -A viavar -s $LAN -j RETURN
