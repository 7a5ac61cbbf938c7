# long option forms and getopt-style abbreviations of iptables(8)
iptables --table filter --new-chain web
iptables --table filter --append INPUT --protocol tcp --destination-port 80 --jump web
iptables --append INPUT --in-interface eth0 --source 192.0.2.0/24 --destination 198.51.100.1 --jump ACCEPT
iptables --append OUTPUT --out-interface eth+ ! --destination 10.0.0.0/8 --jump DROP
iptables --append INPUT --fragment --jump DROP
iptables --append INPUT ! --fragment --protocol udp --source-port 53 --jump ACCEPT
iptables --append web --match conntrack --ctstate NEW --match limit --limit 10/minute --limit-burst 3 --jump ACCEPT
iptables --new-chain INPUT-sub
iptables --append web --goto INPUT-sub
iptables -A INPUT-sub --proto tcp --dport 22 -j ACCEPT
iptables --insert INPUT 2 --match comment --comment "inserted second" --jump RETURN
iptables --policy FORWARD DROP
iptables --table nat --append POSTROUTING --out-interface ppp0 --jump MASQUERADE
iptables --table nat -A PREROUTING -p tcp --dport 8080 --jump REDIRECT --to-ports 80
iptables --table mangle --append FORWARD --protocol tcp --tcp-flags SYN,RST SYN --jump TCPMSS --clamp-mss-to-pmtu
iptables --table raw --append PREROUTING --protocol udp --dport 53 --jump CT --notrack
ip6tables --table filter --append INPUT --protocol ipv6-icmp --icmpv6-type echo-request --jump ACCEPT
ip6tables --append INPUT --source 2001:db8::/32 --in-interface wlan+ --jump DROP
ip6tables --table nat --append POSTROUTING --out-interface eth1 --jump MASQUERADE
