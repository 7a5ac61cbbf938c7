//! Name tables that iptables takes from the system (/etc/protocols, /etc/services) or
//! from its extensions (ICMP type names, TCP flag names), embedded so results never
//! depend on the machine. The protocol table is what Debian 12's netbase holds, which
//! is what iptables-save there prints.

/// Protocol numbers with the name iptables-save prints for them.
const PROTOS: &[(u8, &str)] = &[
    (1, "icmp"),
    (2, "igmp"),
    (3, "ggp"),
    (4, "ipencap"),
    (5, "st"),
    (6, "tcp"),
    (8, "egp"),
    (9, "igp"),
    (12, "pup"),
    (17, "udp"),
    (20, "hmp"),
    (22, "xns-idp"),
    (27, "rdp"),
    (29, "iso-tp4"),
    (33, "dccp"),
    (36, "xtp"),
    (37, "ddp"),
    (38, "idpr-cmtp"),
    (41, "ipv6"),
    (43, "ipv6-route"),
    (44, "ipv6-frag"),
    (45, "idrp"),
    (46, "rsvp"),
    (47, "gre"),
    (50, "esp"),
    (51, "ah"),
    (57, "skip"),
    (58, "ipv6-icmp"),
    (59, "ipv6-nonxt"),
    (60, "ipv6-opts"),
    (73, "rspf"),
    (81, "vmtp"),
    (88, "eigrp"),
    (89, "ospf"),
    (93, "ax.25"),
    (94, "ipip"),
    (97, "etherip"),
    (98, "encap"),
    (103, "pim"),
    (108, "ipcomp"),
    (112, "vrrp"),
    (115, "l2tp"),
    (124, "isis"),
    (132, "sctp"),
    (133, "fc"),
    (135, "mobility-header"),
    (136, "udplite"),
    (137, "mpls-in-ip"),
    (138, "manet"),
    (139, "hip"),
    (140, "shim6"),
    (141, "wesp"),
    (142, "rohc"),
    (143, "ethernet"),
];

/// Extra names accepted on input only (aliases in /etc/protocols and iptables'
/// own `xtables_chain_protos`).
const PROTO_ALIASES: &[(&str, u8)] = &[
    ("ip", 0),
    ("hopopt", 0),
    ("all", 0),
    ("icmpv6", 58),
    ("ipv6-mh", 135),
    ("mh", 135),
];

/// Parses a protocol as `-p` does: a number (decimal, `0x` hex or octal), `all`, or a
/// name, case-insensitively.
pub fn parse_proto(s: &str) -> Option<u8> {
    if let Some(n) = parse_uint(s) {
        return u8::try_from(n).ok();
    }
    let l = s.to_ascii_lowercase();
    PROTO_ALIASES
        .iter()
        .find(|(n, _)| *n == l)
        .map(|(_, v)| *v)
        .or_else(|| PROTOS.iter().find(|(_, n)| *n == l).map(|(v, _)| *v))
}

/// The name iptables-save prints for a protocol number (the number itself when
/// /etc/protocols has no name).
pub fn proto_name(p: u8) -> String {
    PROTOS
        .iter()
        .find(|(v, _)| *v == p)
        .map(|(_, n)| (*n).to_string())
        .unwrap_or_else(|| p.to_string())
}

/// `strtoul(s, 0)`-style unsigned parse: decimal, `0x` hex, leading-0 octal. No sign,
/// no spaces, no trailing junk.
pub fn parse_uint(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if h.is_empty() {
            return None;
        }
        return u64::from_str_radix(h, 16).ok();
    }
    if s.len() > 1 && s.starts_with('0') {
        return u64::from_str_radix(&s[1..], 8).ok();
    }
    s.parse::<u64>().ok()
}

/// Service names of Debian's /etc/services that rulesets commonly use, with their
/// port. (tcp and udp agree for all of these except where noted by the proto filter.)
const SERVICES: &[(&str, u16, u8)] = &[
    // name, port, 0 = tcp+udp, 6 = tcp only, 17 = udp only
    ("tcpmux", 1, 6),
    ("echo", 7, 0),
    ("discard", 9, 0),
    ("systat", 11, 6),
    ("daytime", 13, 0),
    ("netstat", 15, 6),
    ("qotd", 17, 6),
    ("chargen", 19, 0),
    ("ftp-data", 20, 6),
    ("ftp", 21, 6),
    ("ssh", 22, 0),
    ("telnet", 23, 6),
    ("smtp", 25, 6),
    ("time", 37, 0),
    ("whois", 43, 6),
    ("tacacs", 49, 0),
    ("domain", 53, 0),
    ("bootps", 67, 17),
    ("bootpc", 68, 17),
    ("tftp", 69, 17),
    ("gopher", 70, 6),
    ("finger", 79, 6),
    ("http", 80, 6),
    ("www", 80, 6),
    ("kerberos", 88, 0),
    ("iso-tsap", 102, 6),
    ("acr-nema", 104, 6),
    ("pop3", 110, 6),
    ("pop-3", 110, 6),
    ("sunrpc", 111, 0),
    ("portmapper", 111, 0),
    ("auth", 113, 6),
    ("ident", 113, 6),
    ("nntp", 119, 6),
    ("ntp", 123, 17),
    ("epmap", 135, 6),
    ("netbios-ns", 137, 17),
    ("netbios-dgm", 138, 17),
    ("netbios-ssn", 139, 6),
    ("imap2", 143, 6),
    ("imap", 143, 6),
    ("snmp", 161, 0),
    ("snmp-trap", 162, 0),
    ("cmip-man", 163, 0),
    ("cmip-agent", 164, 0),
    ("mailq", 174, 6),
    ("xdmcp", 177, 17),
    ("bgp", 179, 6),
    ("smux", 199, 6),
    ("qmtp", 209, 6),
    ("z3950", 210, 6),
    ("ipx", 213, 17),
    ("ptp-event", 319, 17),
    ("ptp-general", 320, 17),
    ("pawserv", 345, 6),
    ("zserv", 346, 6),
    ("rpc2portmap", 369, 0),
    ("codaauth2", 370, 0),
    ("clearcase", 371, 17),
    ("ldap", 389, 0),
    ("svrloc", 427, 0),
    ("https", 443, 0),
    ("snpp", 444, 6),
    ("microsoft-ds", 445, 6),
    ("kpasswd", 464, 0),
    ("submissions", 465, 6),
    ("saft", 487, 6),
    ("isakmp", 500, 17),
    ("rtsp", 554, 0),
    ("nqs", 607, 6),
    ("asf-rmcp", 623, 17),
    ("qmqp", 628, 6),
    ("ipp", 631, 6),
    ("ldp", 646, 0),
    ("exec", 512, 6),
    ("biff", 512, 17),
    ("login", 513, 6),
    ("who", 513, 17),
    ("shell", 514, 6),
    ("syslog", 514, 17),
    ("printer", 515, 6),
    ("talk", 517, 17),
    ("ntalk", 518, 17),
    ("route", 520, 17),
    ("gdomap", 538, 0),
    ("uucp", 540, 6),
    ("klogin", 543, 6),
    ("kshell", 544, 6),
    ("dhcpv6-client", 546, 0),
    ("dhcpv6-server", 547, 0),
    ("afpovertcp", 548, 6),
    ("nntps", 563, 6),
    ("submission", 587, 6),
    ("ldaps", 636, 0),
    ("tinc", 655, 0),
    ("silc", 706, 6),
    ("kerberos-adm", 749, 6),
    ("domain-s", 853, 0),
    ("rsync", 873, 6),
    ("ftps-data", 989, 6),
    ("ftps", 990, 6),
    ("telnets", 992, 6),
    ("imaps", 993, 6),
    ("pop3s", 995, 6),
    ("socks", 1080, 0),
    ("proofd", 1093, 6),
    ("rootd", 1094, 6),
    ("openvpn", 1194, 0),
    ("rmiregistry", 1099, 6),
    ("lotusnote", 1352, 6),
    ("ms-sql-s", 1433, 6),
    ("ms-sql-m", 1434, 6),
    ("ingreslock", 1524, 6),
    ("datametrics", 1645, 0),
    ("sa-msg-port", 1646, 0),
    ("kermit", 1649, 6),
    ("groupwise", 1677, 6),
    ("l2f", 1701, 17),
    ("radius", 1812, 0),
    ("radius-acct", 1813, 0),
    ("cisco-sccp", 2000, 6),
    ("nfs", 2049, 0),
    ("gnunet", 2086, 0),
    ("rtcm-sc104", 2101, 0),
    ("gsigatekeeper", 2119, 6),
    ("gris", 2135, 6),
    ("cvspserver", 2401, 6),
    ("venus", 2430, 0),
    ("venus-se", 2431, 0),
    ("codasrv", 2432, 0),
    ("codasrv-se", 2433, 0),
    ("mon", 2583, 0),
    ("dict", 2628, 6),
    ("f5-globalsite", 2792, 6),
    ("gsiftp", 2811, 6),
    ("gpsd", 2947, 6),
    ("gds-db", 3050, 6),
    ("icpv2", 3130, 17),
    ("isns", 3205, 0),
    ("iscsi-target", 3260, 6),
    ("mysql", 3306, 6),
    ("ms-wbt-server", 3389, 6),
    ("nut", 3493, 0),
    ("distcc", 3632, 6),
    ("daap", 3689, 6),
    ("svn", 3690, 6),
    ("suucp", 4031, 6),
    ("sysrqd", 4094, 6),
    ("sieve", 4190, 6),
    ("epmd", 4369, 6),
    ("remctl", 4373, 6),
    ("f5-iquery", 4353, 6),
    ("ntske", 4460, 6),
    ("ipsec-nat-t", 4500, 17),
    ("iax", 4569, 17),
    ("mtn", 4691, 6),
    ("radmin-port", 4899, 6),
    ("sip", 5060, 0),
    ("sip-tls", 5061, 0),
    ("xmpp-client", 5222, 6),
    ("xmpp-server", 5269, 6),
    ("cfengine", 5308, 6),
    ("mdns", 5353, 17),
    ("postgresql", 5432, 6),
    ("freeciv", 5556, 6),
    ("amqps", 5671, 6),
    ("amqp", 5672, 6),
    ("x11", 6000, 6),
    ("x11-1", 6001, 6),
    ("x11-2", 6002, 6),
    ("x11-3", 6003, 6),
    ("x11-4", 6004, 6),
    ("x11-5", 6005, 6),
    ("x11-6", 6006, 6),
    ("x11-7", 6007, 6),
    ("gnutella-svc", 6346, 0),
    ("gnutella-rtr", 6347, 0),
    ("redis", 6379, 6),
    ("sge-qmaster", 6444, 6),
    ("sge-execd", 6445, 6),
    ("mysql-proxy", 6446, 6),
    ("babel", 6696, 17),
    ("ircs-u", 6697, 6),
    ("bbs", 7000, 6),
    ("afs3-fileserver", 7000, 17),
    ("font-service", 7100, 6),
    ("http-alt", 8080, 6),
    ("puppet", 8140, 6),
    ("bacula-dir", 9101, 6),
    ("bacula-fd", 9102, 6),
    ("bacula-sd", 9103, 6),
    ("xmms2", 9667, 6),
    ("nbd", 10809, 6),
    ("zabbix-agent", 10050, 6),
    ("zabbix-trapper", 10051, 6),
    ("amanda", 10080, 6),
    ("dicom", 11112, 6),
    ("hkp", 11371, 6),
    ("db-lsp", 17500, 6),
    ("dcap", 22125, 6),
    ("gsidcap", 22128, 6),
    ("wnn6", 22273, 6),
    ("kerberos4", 750, 0),
    ("kerberos-master", 751, 0),
    ("passwd-server", 752, 17),
    ("krb-prop", 754, 6),
    ("zephyr-srv", 2102, 17),
    ("zephyr-clt", 2103, 17),
    ("zephyr-hm", 2104, 17),
    ("iprop", 2121, 6),
    ("supfilesrv", 871, 6),
    ("supfiledbg", 1127, 6),
    ("poppassd", 106, 6),
    ("moira-db", 775, 6),
    ("moira-update", 777, 6),
    ("moira-ureg", 779, 17),
    ("spamd", 783, 6),
    ("skkserv", 1178, 6),
    ("predict", 1210, 17),
    ("rmtcfg", 1236, 6),
    ("xtel", 1313, 6),
    ("xtelw", 1314, 6),
    ("zebrasrv", 2600, 6),
    ("zebra", 2601, 6),
    ("ripd", 2602, 6),
    ("ripngd", 2603, 6),
    ("ospfd", 2604, 6),
    ("bgpd", 2605, 6),
    ("ospf6d", 2606, 6),
    ("ospfapi", 2607, 6),
    ("isisd", 2608, 6),
    ("fax", 4557, 6),
    ("hylafax", 4559, 6),
    ("munin", 4949, 6),
    ("rplay", 5555, 17),
    ("nrpe", 5666, 6),
    ("nsca", 5667, 6),
    ("canna", 5680, 6),
    ("syslog-tls", 6514, 6),
    ("sane-port", 6566, 6),
    ("ircd", 6667, 6),
    ("zope-ftp", 8021, 6),
    ("tproxy", 8081, 6),
    ("omniorb", 8088, 6),
    ("clc-build-daemon", 8990, 6),
    ("xinetd", 9098, 6),
    ("git", 9418, 6),
    ("zope", 9673, 6),
    ("webmin", 10000, 6),
    ("kamanda", 10081, 6),
    ("amandaidx", 10082, 6),
    ("amidxtape", 10083, 6),
    ("sgi-cmsd", 17001, 17),
    ("sgi-crsd", 17002, 17),
    ("sgi-gcd", 17003, 17),
    ("sgi-cad", 17004, 6),
    ("binkp", 24554, 6),
    ("asp", 27374, 6),
    ("csync2", 30865, 6),
    ("dircproxy", 57000, 6),
    ("tfido", 60177, 6),
    ("fido", 60179, 6),
];

/// Parses a port as iptables does: a number, or a service name looked up for the
/// rule's protocol (`proto` 0 accepts a name known for either).
pub fn parse_port(s: &str, proto: u8) -> Option<u16> {
    if let Some(n) = parse_uint(s) {
        return u16::try_from(n).ok();
    }
    SERVICES
        .iter()
        .find(|(n, _, p)| {
            *n == s && (*p == 0 || proto == 0 || *p == proto || !matches!(proto, 6 | 17))
        })
        .map(|(_, port, _)| *port)
}

/// One ICMP/ICMPv6 type name: name, type, code min, code max.
pub type IcmpName = (&'static str, u8, u8, u8);

/// ICMP names (iptables extensions/libipt_icmp.c / libxt_icmp.h, in its order).
pub const ICMP_NAMES: &[IcmpName] = &[
    ("any", 0xFF, 0, 0xFF),
    ("echo-reply", 0, 0, 0xFF),
    ("pong", 0, 0, 0xFF),
    ("destination-unreachable", 3, 0, 0xFF),
    ("network-unreachable", 3, 0, 0),
    ("host-unreachable", 3, 1, 1),
    ("protocol-unreachable", 3, 2, 2),
    ("port-unreachable", 3, 3, 3),
    ("fragmentation-needed", 3, 4, 4),
    ("source-route-failed", 3, 5, 5),
    ("network-unknown", 3, 6, 6),
    ("host-unknown", 3, 7, 7),
    ("network-prohibited", 3, 9, 9),
    ("host-prohibited", 3, 10, 10),
    ("TOS-network-unreachable", 3, 11, 11),
    ("TOS-host-unreachable", 3, 12, 12),
    ("communication-prohibited", 3, 13, 13),
    ("host-precedence-violation", 3, 14, 14),
    ("precedence-cutoff", 3, 15, 15),
    ("source-quench", 4, 0, 0xFF),
    ("redirect", 5, 0, 0xFF),
    ("network-redirect", 5, 0, 0),
    ("host-redirect", 5, 1, 1),
    ("TOS-network-redirect", 5, 2, 2),
    ("TOS-host-redirect", 5, 3, 3),
    ("echo-request", 8, 0, 0xFF),
    ("ping", 8, 0, 0xFF),
    ("router-advertisement", 9, 0, 0xFF),
    ("router-solicitation", 10, 0, 0xFF),
    ("time-exceeded", 11, 0, 0xFF),
    ("ttl-exceeded", 11, 0, 0xFF),
    ("ttl-zero-during-transit", 11, 0, 0),
    ("ttl-zero-during-reassembly", 11, 1, 1),
    ("parameter-problem", 12, 0, 0xFF),
    ("ip-header-bad", 12, 0, 0),
    ("required-option-missing", 12, 1, 1),
    ("timestamp-request", 13, 0, 0xFF),
    ("timestamp-reply", 14, 0, 0xFF),
    ("address-mask-request", 17, 0, 0xFF),
    ("address-mask-reply", 18, 0, 0xFF),
];

/// ICMPv6 names (iptables extensions/libip6t_icmp6.c).
pub const ICMP6_NAMES: &[IcmpName] = &[
    ("destination-unreachable", 1, 0, 0xFF),
    ("no-route", 1, 0, 0),
    ("communication-prohibited", 1, 1, 1),
    ("beyond-scope", 1, 2, 2),
    ("address-unreachable", 1, 3, 3),
    ("port-unreachable", 1, 4, 4),
    ("failed-policy", 1, 5, 5),
    ("reject-route", 1, 6, 6),
    ("packet-too-big", 2, 0, 0xFF),
    ("time-exceeded", 3, 0, 0xFF),
    ("ttl-exceeded", 3, 0, 0xFF),
    ("ttl-zero-during-transit", 3, 0, 0),
    ("ttl-zero-during-reassembly", 3, 1, 1),
    ("parameter-problem", 4, 0, 0xFF),
    ("bad-header", 4, 0, 0),
    ("unknown-header-type", 4, 1, 1),
    ("unknown-option", 4, 2, 2),
    ("echo-request", 128, 0, 0xFF),
    ("ping", 128, 0, 0xFF),
    ("echo-reply", 129, 0, 0xFF),
    ("pong", 129, 0, 0xFF),
    ("mld-listener-query", 130, 0, 0xFF),
    ("mld-listener-report", 131, 0, 0xFF),
    ("mld-listener-done", 132, 0, 0xFF),
    ("mld-listener-reduction", 132, 0, 0xFF),
    ("router-solicitation", 133, 0, 0xFF),
    ("router-advertisement", 134, 0, 0xFF),
    ("neighbour-solicitation", 135, 0, 0xFF),
    ("neighbor-solicitation", 135, 0, 0xFF),
    ("neighbour-advertisement", 136, 0, 0xFF),
    ("neighbor-advertisement", 136, 0, 0xFF),
    ("redirect", 137, 0, 0xFF),
];

/// Parses `--icmp-type`/`--icmpv6-type`: a name (unique prefix allowed, as iptables
/// does), `TYPE` or `TYPE/CODE`. Returns (type, code min, code max).
pub fn parse_icmp(s: &str, v6: bool) -> Option<(u8, u8, u8)> {
    let table = if v6 { ICMP6_NAMES } else { ICMP_NAMES };
    if let Some(e) = table.iter().find(|e| e.0 == s) {
        return Some((e.1, e.2, e.3));
    }
    let pref: Vec<&IcmpName> = table.iter().filter(|e| e.0.starts_with(s)).collect();
    if !s.is_empty() && !pref.is_empty() && !s.as_bytes()[0].is_ascii_digit() {
        // Ambiguous prefixes are refused unless all candidates mean the same thing.
        let first = pref[0];
        if pref
            .iter()
            .all(|e| (e.1, e.2, e.3) == (first.1, first.2, first.3))
        {
            return Some((first.1, first.2, first.3));
        }
        return None;
    }
    let (t, c) = match s.split_once('/') {
        Some((t, c)) => (t, Some(c)),
        None => (s, None),
    };
    let t: u8 = t.parse().ok()?;
    match c {
        Some(c) => {
            let c: u8 = c.parse().ok()?;
            Some((t, c, c))
        }
        None => Some((t, 0, 0xFF)),
    }
}

/// TCP flag names in the order iptables prints them.
pub const TCP_FLAGS: &[(&str, u8)] = &[
    ("FIN", 0x01),
    ("SYN", 0x02),
    ("RST", 0x04),
    ("PSH", 0x08),
    ("ACK", 0x10),
    ("URG", 0x20),
    ("ECE", 0x40),
    ("CWR", 0x80),
];

/// Parses a comma list of TCP flags (`ALL` = FIN..URG, `NONE` = 0), case-insensitive.
pub fn parse_tcp_flags(s: &str) -> Result<u8, String> {
    let mut v = 0u8;
    for part in s.split(',') {
        let u = part.to_ascii_uppercase();
        v |= match u.as_str() {
            "ALL" => 0x3F,
            "NONE" => 0,
            _ => TCP_FLAGS
                .iter()
                .find(|(n, _)| *n == u)
                .map(|(_, b)| *b)
                .ok_or_else(|| format!("unknown TCP flag `{part}`"))?,
        };
    }
    Ok(v)
}

/// Prints TCP flags as iptables-save does.
pub fn tcp_flags_str(v: u8) -> String {
    if v == 0 {
        return "NONE".into();
    }
    TCP_FLAGS
        .iter()
        .filter(|(_, b)| v & b != 0)
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protos() {
        assert_eq!(parse_proto("TCP"), Some(6));
        assert_eq!(parse_proto("icmpv6"), Some(58));
        assert_eq!(parse_proto("all"), Some(0));
        assert_eq!(parse_proto("0x11"), Some(17));
        assert_eq!(parse_proto("256"), None);
        assert_eq!(parse_proto("bogus"), None);
        assert_eq!(proto_name(41), "ipv6");
        assert_eq!(proto_name(200), "200");
        assert_eq!(proto_name(58), "ipv6-icmp");
    }

    #[test]
    fn ports_and_icmp() {
        assert_eq!(parse_port("ssh", 6), Some(22));
        assert_eq!(parse_port("domain", 17), Some(53));
        assert_eq!(parse_port("65536", 6), None);
        assert_eq!(parse_icmp("echo-request", false), Some((8, 0, 255)));
        assert_eq!(parse_icmp("3/4", false), Some((3, 4, 4)));
        assert_eq!(
            parse_icmp("neighbour-solicitation", true),
            Some((135, 0, 255))
        );
        assert_eq!(parse_icmp("x/y", true), None);
    }

    #[test]
    fn flags() {
        assert_eq!(parse_tcp_flags("ALL"), Ok(0x3f));
        assert_eq!(tcp_flags_str(0x3f), "FIN,SYN,RST,PSH,ACK,URG");
        assert_eq!(tcp_flags_str(0), "NONE");
        assert!(parse_tcp_flags("SYN,FOO").is_err());
    }
}
