//! `palisade run` end to end, as root, in throw-away namespaces:
//! client (10.91.1.2, fd91:1::2) — fw (10.91.1.1 | 10.91.2.1, fd91:1::1 |
//! fd91:2::1) — server (10.91.2.2, fd91:2::2). IPv6 neighbours are static
//! (fixed MACs, `nud permanent`) so that rulesets which filter Neighbor
//! Discovery still leave the other IPv6 traffic observable.
//! For each ruleset, the same nmap scans and connections run once with the
//! kernel enforcing the rules in fw (iptables-restore) and once with
//! Palisade enforcing them (`palisade run` in fw, nothing in the kernel's
//! tables), each in a fresh topology so no state (conntrack, recent lists,
//! ICMP rate limits) carries over; the results must be identical.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use palisade_testkit::{require_root_with, Netns};

const BIN: &str = env!("CARGO_BIN_EXE_palisade");

/// The three namespaces, the daemon (if any) and temp files; all removed on
/// drop, even when the test fails.
struct Topo {
    client: Netns,
    fw: Netns,
    server: Netns,
    daemon: Option<Child>,
    dir: PathBuf,
}

impl Drop for Topo {
    fn drop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            let _ = d.kill();
            let _ = d.wait();
        }
        // Listeners started inside the namespaces would outlive them.
        for ns in [&self.client, &self.fw, &self.server] {
            let _ = Command::new("sh")
                .args([
                    "-c",
                    &format!("ip netns pids {} | xargs -r kill -9", ns.name()),
                ])
                .status();
        }
        // A killed daemon leaves its table; the namespace goes with it.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn sh(ns: &Netns, script: &str) -> String {
    let out = ns.sh_output(script, None).expect("run in netns");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ok(ns: &Netns, script: &str) -> bool {
    ns.sh_output(script, None)
        .map(|o| o.status.success())
        .unwrap_or(false)
}

impl Topo {
    fn new(tag: &str) -> Topo {
        let client = Netns::new(&format!("{tag}c")).expect("netns");
        let fw = Netns::new(&format!("{tag}f")).expect("netns");
        let server = Netns::new(&format!("{tag}s")).expect("netns");
        let dir = std::env::temp_dir().join(format!("palisade-daemon-{}", fw.name()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("peer.py"), PEER).expect("peer.py");
        let (c, f, s) = (client.name(), fw.name(), server.name());
        let setup = format!(
            "set -e
ip link add c0 netns {c} type veth peer name fc netns {f}
ip link add s0 netns {s} type veth peer name fs netns {f}
ip -n {c} link set c0 address 02:91:01:00:00:02
ip -n {f} link set fc address 02:91:01:00:00:01
ip -n {f} link set fs address 02:91:02:00:00:01
ip -n {s} link set s0 address 02:91:02:00:00:02
ip -n {c} addr add 10.91.1.2/24 dev c0; ip -n {c} addr add fd91:1::2/64 dev c0 nodad
ip -n {f} addr add 10.91.1.1/24 dev fc; ip -n {f} addr add fd91:1::1/64 dev fc nodad
ip -n {f} addr add 10.91.2.1/24 dev fs; ip -n {f} addr add fd91:2::1/64 dev fs nodad
ip -n {s} addr add 10.91.2.2/24 dev s0; ip -n {s} addr add fd91:2::2/64 dev s0 nodad
ip -n {c} link set c0 up; ip -n {f} link set fc up; ip -n {f} link set fs up; ip -n {s} link set s0 up
ip -n {c} neigh replace fd91:1::1 lladdr 02:91:01:00:00:01 dev c0 nud permanent
ip -n {f} neigh replace fd91:1::2 lladdr 02:91:01:00:00:02 dev fc nud permanent
ip -n {f} neigh replace fd91:2::2 lladdr 02:91:02:00:00:02 dev fs nud permanent
ip -n {s} neigh replace fd91:2::1 lladdr 02:91:02:00:00:01 dev s0 nud permanent
for n in {c} {f} {s}; do ip -n $n link set lo up; done
ip -n {c} route add default via 10.91.1.1; ip -n {c} -6 route add default via fd91:1::1
ip -n {s} route add default via 10.91.2.1; ip -n {s} -6 route add default via fd91:2::1
ip netns exec {f} sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
"
        );
        let out = Command::new("sh")
            .args(["-c", &setup])
            .output()
            .expect("sh");
        assert!(
            out.status.success(),
            "topology: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Topo {
            client,
            fw,
            server,
            daemon: None,
            dir,
        }
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    fn sock(&self) -> PathBuf {
        self.dir.join("ctl.sock")
    }

    /// Loads `rules` into the fw namespace's kernel: an iptables-save file
    /// for `restore` (`iptables-restore`/`ip6tables-restore`) or a shell
    /// script of iptables commands (`sh`).
    fn kernel_with(&self, loader: &str, rules: &str) {
        let out = self
            .fw
            .sh_output(loader, Some(rules))
            .expect("load kernel rules");
        assert!(
            out.status.success(),
            "{loader}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn kernel(&self, rules: &str) {
        self.kernel_with("iptables-restore", rules);
    }

    fn start(&mut self, rules: &PathBuf) {
        self.start_with(rules, None);
    }

    fn start_with(&mut self, rules: &PathBuf, rules6: Option<&PathBuf>) {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", self.fw.name(), BIN, "run"])
            .arg(rules);
        if let Some(r6) = rules6 {
            cmd.arg("--rules6").arg(r6);
        }
        let child = cmd
            .args(["--workers", "2", "--control"])
            .arg(self.sock())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn palisade run");
        self.daemon = Some(child);
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(20) {
            if self.ctl("status").0 && ok(&self.fw, "nft list table inet palisade") {
                return;
            }
            if let Some(d) = self.daemon.as_mut() {
                if let Ok(Some(st)) = d.try_wait() {
                    panic!("palisade run exited early: {st}");
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("palisade run did not come up");
    }

    fn ctl(&self, what: &str) -> (bool, String) {
        let out = Command::new(BIN)
            .args([what, "--control"])
            .arg(self.sock())
            .output()
            .expect("palisade ctl");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }
}

/// `(port/proto, state)` lines of an nmap run from `from` at `target`.
fn nmap(from: &Netns, kind: &str, ports: &str, target: &str) -> Vec<String> {
    // IPv6: raw IP sends, so the kernel's (static) neighbour entries are
    // used instead of nmap's own Neighbor Discovery.
    let v6 = if target.contains(':') {
        "-6 --send-ip"
    } else {
        ""
    };
    let out = sh(
        from,
        &format!("nmap -n -Pn -r {v6} {kind} -p {ports} --max-retries 1 -T4 {target}"),
    );
    out.lines()
        .filter(|l| {
            l.split('/')
                .next()
                .is_some_and(|p| p.parse::<u16>().is_ok())
        })
        .map(|l| {
            let mut w = l.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
            if target.contains(':') {
                w.push_str(" (v6)");
            }
            w
        })
        .collect()
}

/// Everything one scenario observes.
fn observe(t: &Topo, target: &str, tcp: &str, udp: &str) -> Vec<String> {
    let mut v = Vec::new();
    v.extend(nmap(&t.client, "-sS", tcp, target));
    v.extend(nmap(&t.client, "-sU", udp, target));
    v.extend(nmap(&t.client, "-sA", tcp, target));
    v.push(format!(
        "ping client->target: {}",
        ok(&t.client, &format!("ping -c1 -W1 {target}"))
    ));
    v.push(format!(
        "ping fw->client: {}",
        ok(&t.fw, "ping -c1 -W1 10.91.1.2")
    ));
    v
}

/// Starts `nc -lk` listeners in `ns` and waits until they listen.
fn listen(ns: &Netns, ports: &[u16]) {
    for p in ports {
        let _ = ns
            .cmd("sh")
            .args(["-c", &format!("nc -lk {p} >/dev/null 2>&1 &")])
            .status();
    }
    let tcp: Vec<(&str, u16)> = ports.iter().map(|p| ("tcp", *p)).collect();
    wait_listening(ns, &tcp);
}

/// A tiny TCP/UDP service answering every connection or datagram with the
/// address it came from (`serve tcp|udp PORT`, IPv4 and IPv6; `serve count
/// PORT` reads a TCP stream to its end and answers with its length and
/// sender, for `put HOST PORT BYTES`), and its
/// client (`get tcp|udp HOST PORT`: prints the answer, `timeout`, or the
/// error's errno name; one second at most). Unreachable errors are observed
/// with UDP: a TCP connect treats them as hard errors only when they arrive
/// while `connect` does not hold the socket, and the kernel's synchronous
/// REJECT on a veth pair answers while it still does (the client would
/// then wait for the SYN retransmit).
const PEER: &str = r#"
import socket, sys, errno
def name(a): return a[0].removeprefix("::ffff:")
if sys.argv[1] == "serve":
    kind = socket.SOCK_DGRAM if sys.argv[2] == "udp" else socket.SOCK_STREAM
    s = socket.socket(socket.AF_INET6, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", int(sys.argv[3])))
    if kind == socket.SOCK_DGRAM:
        while True:
            d, a = s.recvfrom(2048); s.sendto(("peer " + name(a)).encode(), a)
    s.listen(16)
    while True:
        c, a = s.accept()
        if sys.argv[2] == "count":
            n = 0
            while True:
                d = c.recv(65536)
                if not d: break
                n += len(d)
            c.sendall(("got %d from %s" % (n, name(a))).encode())
        else:
            c.sendall(("peer " + name(a)).encode())
        c.close()
elif sys.argv[1] == "put":
    host, port, n = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    c = socket.create_connection((host, port), timeout=5)
    c.sendall(b"x" * n); c.shutdown(socket.SHUT_WR)
    print(c.recv(100).decode())
else:
    host, port = sys.argv[3], int(sys.argv[4])
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    kind = socket.SOCK_STREAM if sys.argv[2] == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(fam, kind); s.settimeout(1.0)
    if kind == socket.SOCK_DGRAM:
        # Report every ICMP error (host/address unreachable are soft errors
        # a UDP socket otherwise ignores).
        if fam == socket.AF_INET6: s.setsockopt(41, 25, 1)
        else: s.setsockopt(0, 11, 1)
    try:
        s.connect((host, port))
        if kind == socket.SOCK_DGRAM: s.send(b"q")
        print(s.recv(100).decode())
    except socket.timeout:
        print("timeout")
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)))
"#;

/// Starts PEER services (`("tcp", 22)`, ...) in `ns`.
fn serve(t: &Topo, ns: &Netns, services: &[(&str, u16)]) {
    let peer = t.dir.join("peer.py");
    for (proto, port) in services {
        let _ = ns
            .cmd("sh")
            .args([
                "-c",
                &format!(
                    "python3 {} serve {proto} {port} >/dev/null 2>&1 &",
                    peer.display()
                ),
            ])
            .status();
    }
}

/// Waits until the PEER services in `ns` listen (`ss` shows the ports).
fn wait_listening(ns: &Netns, services: &[(&str, u16)]) {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        let out = sh(ns, "ss -Hlntu");
        if services
            .iter()
            .all(|(_, p)| out.contains(&format!(":{p} ")))
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("services did not come up in {}", ns.name());
}

/// One PEER exchange from `from`: `"tcp client->10.91.1.1:2222 = peer ..."`.
fn exchange(t: &Topo, from: (&str, &Netns), proto: &str, host: &str, port: u16) -> String {
    let peer = t.dir.join("peer.py");
    let out = sh(
        from.1,
        &format!("python3 {} get {proto} {host} {port}", peer.display()),
    );
    format!("{proto} {}->{host}:{port} = {}", from.0, out.trim())
}

/// How a case's ruleset is given.
struct Case<'a> {
    tag: &'a str,
    /// `iptables-restore` (an iptables-save file) or `sh` (a script of
    /// iptables/ip6tables commands, which `palisade run` reads as well).
    loader: &'a str,
    rules: &'a str,
    /// A separate IPv6 iptables-save file.
    rules6: Option<&'a str>,
}

/// Runs `observe` twice, concurrently, in two fresh topologies: once with
/// the kernel enforcing the case's rules in fw, once with `palisade run`;
/// asserts identical observations. `setup` starts services first.
fn compare_case(
    c: &Case,
    setup: &(dyn Fn(&Topo) + Sync),
    observe: &(dyn Fn(&Topo) -> Vec<String> + Sync),
) {
    let tag = c.tag;
    let (kernel, ours) = std::thread::scope(|sc| {
        let k = sc.spawn(|| {
            let t = Topo::new(&format!("{tag}k"));
            setup(&t);
            t.kernel_with(c.loader, c.rules);
            if let Some(r6) = c.rules6 {
                t.kernel_with("ip6tables-restore", r6);
            }
            observe(&t)
        });
        let p = sc.spawn(|| {
            let mut t = Topo::new(&format!("{tag}p"));
            setup(&t);
            let name = if c.loader == "sh" {
                "rules.sh"
            } else {
                "rules.v4"
            };
            let f = t.file(name, c.rules);
            let f6 = c.rules6.map(|r6| t.file("rules.v6", r6));
            t.start_with(&f, f6.as_ref());
            let v = observe(&t);
            let (ok, status) = t.ctl("status");
            assert!(ok, "{status}");
            assert!(status.contains("Chain INPUT (policy"), "{status}");
            assert!(status.contains("served by the flowtable"), "{status}");
            v
        });
        (k.join(), p.join())
    });
    let (kernel, ours) = match (kernel, ours) {
        (Ok(k), Ok(p)) => (k, p),
        (Err(e), _) | (_, Err(e)) => std::panic::resume_unwind(e),
    };
    eprintln!("{tag}: kernel {kernel:?}\n{tag}: palisade {ours:?}");
    assert_eq!(kernel, ours, "{tag}: kernel vs palisade");
}

fn compare(tag: &str, rules: &str, target: &str, tcp: &str, udp: &str, setup: fn(&Topo)) {
    let case = Case {
        tag,
        loader: "iptables-restore",
        rules,
        rules6: None,
    };
    compare_case(&case, &setup, &|t: &Topo| observe(t, target, tcp, udp));
}

const TOOLS: [&str; 5] = ["iptables-restore", "nft", "nmap", "nc", "ping"];

#[test]
fn workstation_input_matches_kernel() {
    require_root_with!(
        "iptables-restore",
        "ip6tables-restore",
        "nft",
        "nmap",
        "python3",
        "ping"
    );
    let _ = TOOLS;
    let (v4, v6) = palisade_rules::profiles::get("workstation").expect("profile");
    let case = Case {
        tag: "dw",
        loader: "iptables-restore",
        rules: v4,
        rules6: Some(v6),
    };
    let setup = |t: &Topo| {
        serve(t, &t.fw, &[("tcp", 22)]);
        serve(t, &t.client, &[("tcp", 80), ("udp", 5000)]);
        wait_listening(&t.fw, &[("tcp", 22)]);
        wait_listening(&t.client, &[("tcp", 80), ("udp", 5000)]);
    };
    compare_case(&case, &setup, &|t: &Topo| {
        let mut v = observe(t, "10.91.1.1", "22,80", "53,123");
        v.extend(nmap(&t.client, "-sS", "22,80", "fd91:1::1"));
        v.extend(nmap(&t.client, "-sU", "53,123", "fd91:1::1"));
        v.extend(nmap(&t.client, "-sA", "22,80", "fd91:1::1"));
        v.push(format!(
            "ping6 client->fw: {}",
            ok(&t.client, "ping -6 -c1 -W1 fd91:1::1")
        ));
        // The workstation's own connections out, and their answers.
        for host in ["10.91.1.2", "fd91:1::2"] {
            v.push(exchange(t, ("fw", &t.fw), "tcp", host, 80));
            v.push(exchange(t, ("fw", &t.fw), "udp", host, 5000));
        }
        v
    });
}

const ARCH: &str = "*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:TCP - [0:0]
:UDP - [0:0]
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate INVALID -j DROP
-A INPUT -p icmp -m icmp --icmp-type 8 -m conntrack --ctstate NEW -j ACCEPT
-A INPUT -p udp -m conntrack --ctstate NEW -j UDP
-A INPUT -p tcp --tcp-flags FIN,SYN,RST,ACK SYN -m conntrack --ctstate NEW -j TCP
-A INPUT -p udp -m recent --set --name UDP-PORTSCAN --mask 255.255.255.255 --rsource -j REJECT --reject-with icmp-port-unreachable
-A INPUT -p tcp -m recent --set --name TCP-PORTSCAN --mask 255.255.255.255 --rsource -j REJECT --reject-with tcp-reset
-A INPUT -j REJECT --reject-with icmp-proto-unreachable
-A TCP -p tcp -m recent --update --seconds 60 --name TCP-PORTSCAN --mask 255.255.255.255 --rsource -j REJECT --reject-with tcp-reset
-A TCP -p tcp -m tcp --dport 22 -j ACCEPT
-A TCP -p tcp -m tcp --dport 80 -j ACCEPT
-A UDP -p udp -m recent --update --seconds 60 --name UDP-PORTSCAN --mask 255.255.255.255 --rsource -j REJECT --reject-with icmp-port-unreachable
-A UDP -p udp -m udp --dport 53 -j ACCEPT
COMMIT
";

#[test]
fn arch_tcp_udp_chains_with_scan_traps_match_kernel() {
    require_root_with!("iptables-restore", "nft", "nmap", "nc", "ping");
    compare("da", ARCH, "10.91.1.1", "22,80,443", "53,123", |t| {
        listen(&t.fw, &[22])
    });
}

const FORWARD: &str = "*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -i fc -o fs -p tcp -m tcp --dport 22 -m mac --mac-source 02:91:01:00:00:02 -j REJECT --reject-with tcp-reset
-A FORWARD -i fc -o fs -p tcp -m tcp --dport 80 -j ACCEPT
-A FORWARD -i fc -o fs -p tcp -m tcp --dport 443 -j REJECT --reject-with tcp-reset
-A FORWARD -i fc -o fs -p udp -m udp --dport 53 -j ACCEPT
-A FORWARD -i fc -o fs -p icmp -j ACCEPT
COMMIT
";

#[test]
fn forward_ruleset_matches_kernel() {
    require_root_with!("iptables-restore", "nft", "nmap", "nc", "ping");
    compare("dg", FORWARD, "10.91.2.2", "22,80,443", "53,123", |t| {
        listen(&t.server, &[80, 22])
    });
    // A real TCP exchange through the gateway under Palisade.
    let mut t = Topo::new("dh");
    let f = t.file("rules.v4", FORWARD);
    t.start(&f);
    listen(&t.server, &[80]);
    assert!(ok(&t.client, "echo hi | nc -N -w2 10.91.2.2 80"));
    assert!(!ok(&t.client, "echo hi | nc -N -w2 10.91.2.2 22"));
}

/// Seed 002's NAT gateway (tests/data/replay/nat_gateway): fc is the WAN
/// side, fs the LAN with the server.
fn nat_gateway(file: &str) -> String {
    let path = format!(
        "{}/tests/data/replay/nat_gateway/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path)
        .expect("nat_gateway rules")
        .replace("eth0", "fc")
        .replace("eth1", "fs")
        .replace("10.0.2.", "10.91.2.")
        .replace("fd00:2::", "fd91:2::")
}

#[test]
fn nat_gateway_with_port_forwards_matches_kernel() {
    require_root_with!(
        "iptables-restore",
        "ip6tables-restore",
        "nft",
        "nmap",
        "python3",
        "ping"
    );
    let (v4, v6) = (nat_gateway("rules.v4"), nat_gateway("rules.v6"));
    let case = Case {
        tag: "dn",
        loader: "iptables-restore",
        rules: &v4,
        rules6: Some(&v6),
    };
    let setup = |t: &Topo| {
        let lan = [("tcp", 22), ("udp", 5000)];
        let wan = [("tcp", 80), ("udp", 5000), ("count", 9000)];
        serve(t, &t.server, &lan);
        serve(t, &t.client, &wan);
        wait_listening(&t.server, &lan);
        wait_listening(&t.client, &wan);
    };
    compare_case(&case, &setup, &|t: &Topo| {
        let mut v = Vec::new();
        for fw in ["10.91.1.1", "fd91:1::1"] {
            v.extend(nmap(&t.client, "-sS", "22,80,2222", fw));
            v.extend(nmap(&t.client, "-sU", "53,5353", fw));
            v.extend(nmap(&t.client, "-sA", "22,2222", fw));
        }
        // The LAN is only reachable through the port forwards.
        v.extend(nmap(&t.client, "-sS", "22,80", "10.91.2.2"));
        let (c, s) = (("client", &t.client), ("server", &t.server));
        for (fw, client, server) in [
            ("10.91.1.1", "10.91.1.2", "10.91.2.2"),
            ("fd91:1::1", "fd91:1::2", "fd91:2::2"),
        ] {
            // DNAT: the server sees the client's own address.
            v.push(exchange(t, c, "tcp", fw, 2222));
            v.push(exchange(t, c, "udp", fw, 5353));
            // MASQUERADE: the client sees the gateway's address.
            v.push(exchange(t, s, "tcp", client, 80));
            v.push(exchange(t, s, "udp", client, 5000));
            // A bulk upload: the LAN host's stack sends 64 KiB TSO packets,
            // which the gateway must segment when it masquerades them.
            let peer = t.dir.join("peer.py");
            let got = sh(
                &t.server,
                &format!("python3 {} put {client} 9000 3000000", peer.display()),
            );
            v.push(format!("bulk server->{client}: {}", got.trim()));
            // fw-open admits the forwarded port directly too; anything else
            // meets REJECT icmp-host-unreachable / icmp6-addr-unreachable.
            v.push(exchange(t, c, "tcp", server, 22));
            v.push(exchange(t, c, "udp", server, 80));
            v.push(format!(
                "ping server->{client}: {}",
                ok(&t.server, &format!("ping -c1 -W1 {client}"))
            ));
            v.push(format!(
                "ping client->{fw}: {}",
                ok(&t.client, &format!("ping -c1 -W1 {fw}"))
            ));
        }
        v
    });
}

/// Seed 002's SSH brute-force chain: three new connections per 10 s, the
/// fourth and later are dropped (`recent --rttl --rcheck --hitcount`).
const SSH_BF: &str = "*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:IN_SSH - [0:0]
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate INVALID -j DROP
-A INPUT -p icmp -m icmp --icmp-type 8 -m conntrack --ctstate NEW -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -j IN_SSH
-A INPUT -p tcp -j REJECT --reject-with tcp-reset
-A INPUT -j REJECT --reject-with icmp-proto-unreachable
-A IN_SSH -m recent --rcheck --seconds 10 --hitcount 3 --rttl --name sshbf --mask 255.255.255.255 --rsource -j DROP
-A IN_SSH -m recent --rcheck --seconds 1800 --hitcount 4 --rttl --name sshbf --mask 255.255.255.255 --rsource -j DROP
-A IN_SSH -m recent --set --name sshbf --mask 255.255.255.255 --rsource -j ACCEPT
COMMIT
";

#[test]
fn ssh_brute_force_is_cut_off_at_the_same_attempt() {
    require_root_with!("iptables-restore", "nft", "python3", "ping");
    let case = Case {
        tag: "ds",
        loader: "iptables-restore",
        rules: SSH_BF,
        rules6: None,
    };
    let setup = |t: &Topo| {
        serve(t, &t.fw, &[("tcp", 22)]);
        wait_listening(&t.fw, &[("tcp", 22)]);
    };
    compare_case(&case, &setup, &|t: &Topo| {
        let mut v: Vec<String> = (1..=5)
            .map(|i| {
                format!(
                    "#{i} {}",
                    exchange(t, ("client", &t.client), "tcp", "10.91.1.1", 22)
                )
            })
            .collect();
        // Other services stay reachable for the blocked address.
        v.push(exchange(t, ("client", &t.client), "tcp", "10.91.1.1", 80));
        v.push(format!("ping: {}", ok(&t.client, "ping -c1 -W1 10.91.1.1")));
        v
    });
}

/// The client ruleset of seed 004, IPv4 and IPv6, as the shell commands it
/// is given in.
const CLIENT_V4V6: &str = "iptables -A INPUT -i lo -j ACCEPT
iptables -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
iptables -A INPUT -p tcp -j REJECT --reject-with tcp-reset
iptables -A INPUT -p udp -j REJECT
ip6tables -A INPUT -i lo -j ACCEPT
ip6tables -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
ip6tables -A INPUT -p tcp -j REJECT --reject-with tcp-reset
ip6tables -A INPUT -j REJECT
";

#[test]
fn client_v4_v6_script_matches_kernel() {
    require_root_with!("iptables", "ip6tables", "nft", "nmap", "python3", "ping");
    let case = Case {
        tag: "dc",
        loader: "sh",
        rules: CLIENT_V4V6,
        rules6: None,
    };
    let setup = |t: &Topo| {
        serve(t, &t.fw, &[("tcp", 22), ("udp", 53)]);
        serve(t, &t.client, &[("tcp", 80), ("udp", 5000)]);
        wait_listening(&t.fw, &[("tcp", 22), ("udp", 53)]);
        wait_listening(&t.client, &[("tcp", 80), ("udp", 5000)]);
    };
    compare_case(&case, &setup, &|t: &Topo| {
        let mut v = Vec::new();
        for (fw, client) in [("10.91.1.1", "10.91.1.2"), ("fd91:1::1", "fd91:1::2")] {
            v.extend(nmap(&t.client, "-sS", "22,80", fw));
            v.extend(nmap(&t.client, "-sU", "53,123", fw));
            v.extend(nmap(&t.client, "-sA", "22", fw));
            v.push(format!(
                "ping client->{fw}: {}",
                ok(&t.client, &format!("ping -c1 -W1 {fw}"))
            ));
            v.push(exchange(t, ("client", &t.client), "tcp", fw, 22));
            v.push(exchange(t, ("client", &t.client), "udp", fw, 53));
            // The client's own connections: answers are ESTABLISHED.
            v.push(exchange(t, ("fw", &t.fw), "tcp", client, 80));
            v.push(exchange(t, ("fw", &t.fw), "udp", client, 5000));
        }
        v
    });
}

/// FTP through the gateway: FORWARD drops every new connection but the
/// control connection; the ftp conntrack helper (attached in raw
/// PREROUTING) makes the data connections RELATED, active and passive.
const FTP: &str = "*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -p tcp -m tcp --dport 21 -j CT --helper ftp
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -p tcp -m tcp --dport 21 -m conntrack --ctstate NEW -j ACCEPT
-A FORWARD -p icmp -j ACCEPT
COMMIT
";

/// Runs the tiny FTP server in `server` and one client session per mode
/// from `client` (PASV and PORT carry IPv4 addresses only), under the kernel
/// and under Palisade; every transfer must succeed in both.
fn compare_ftp(case: &Case, lan_client: bool, v4: &str, v6: &str) {
    let ftp = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/replay_record/ftp.py");
    // With a LAN client, the FTP server sits on the WAN side (the client
    // namespace) and the FTP client on the LAN (the server namespace).
    let setup = |t: &Topo| {
        let srv = if lan_client { &t.client } else { &t.server };
        for fam in ["", "6"] {
            let _ = srv
                .cmd("sh")
                .args([
                    "-c",
                    &format!("python3 {ftp} server 21 {fam} >/dev/null 2>&1 &"),
                ])
                .status();
        }
        wait_listening(srv, &[("tcp", 21)]);
    };
    compare_case(case, &setup, &|t: &Topo| {
        let cli = if lan_client { &t.server } else { &t.client };
        let mut v = Vec::new();
        for (host, modes) in [
            (v4, &["pasv", "epsv", "port", "eprt"][..]),
            (v6, &["epsv", "eprt"][..]),
        ] {
            for mode in modes {
                let done = ok(cli, &format!("python3 {ftp} client {host} 21 {mode}"));
                v.push(format!(
                    "ftp {host} {mode}: {}",
                    if done { "ok" } else { "failed" }
                ));
            }
        }
        assert!(v.iter().all(|l| l.ends_with("ok")), "{v:?}");
        v
    });
}

#[test]
fn ftp_through_the_gateway_matches_kernel() {
    require_root_with!("iptables-restore", "ip6tables-restore", "nft", "python3");
    let v6 = FTP.replace("-p icmp", "-p ipv6-icmp");
    let case = Case {
        tag: "df",
        loader: "iptables-restore",
        rules: FTP,
        rules6: Some(&v6),
    };
    compare_ftp(&case, false, "10.91.2.2", "fd91:2::2");
}

/// FTP from the LAN host to a server on the WAN through seed 002's NAT
/// gateway with the ftp helper attached: PORT/EPRT name the LAN address,
/// which the gateway rewrites to its own (nf_nat_ftp), and the server's
/// active data connection comes back as RELATED through the masquerade.
#[test]
fn ftp_through_the_nat_gateway_matches_kernel() {
    require_root_with!("iptables-restore", "ip6tables-restore", "nft", "python3");
    let helper = "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
-A PREROUTING -p tcp -m tcp --dport 21 -j CT --helper ftp\nCOMMIT\n";
    let v4 = format!("{helper}{}", nat_gateway("rules.v4"));
    let v6 = format!("{helper}{}", nat_gateway("rules.v6"));
    let case = Case {
        tag: "dm",
        loader: "iptables-restore",
        rules: &v4,
        rules6: Some(&v6),
    };
    compare_ftp(&case, true, "10.91.1.2", "fd91:1::2");
}

const ECHO_SERVER: &str = r#"
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5555)); s.listen(8)
def serve(c):
    while True:
        d = c.recv(100)
        if not d: break
        c.sendall(d)
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

const CLIENT: &str = r#"
import socket, sys, os, time
c = socket.create_connection(("10.91.1.1", 5555), timeout=3)
c.sendall(b"1"); assert c.recv(10) == b"1"
print("first", flush=True)
go = sys.argv[1]
t0 = time.time()
while not os.path.exists(go):
    time.sleep(0.02)
    if time.time() - t0 > 20: sys.exit(3)
c.sendall(b"2"); assert c.recv(10) == b"2"
print("second", flush=True)
"#;

#[test]
fn reload_keeps_connections_and_kill_fails_closed() {
    require_root_with!("iptables-restore", "nft", "nc", "ping", "python3");
    let mut t = Topo::new("dr");
    let open = "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n\
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -p icmp -j ACCEPT\n\
-A INPUT -p tcp --dport 5555 -j ACCEPT\nCOMMIT\n";
    let closed = "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n\
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -p icmp -j ACCEPT\nCOMMIT\n";
    let rules = t.file("rules.v4", open);
    t.start(&rules);
    let server = t.file("echo.py", ECHO_SERVER);
    let _ =
        t.fw.cmd("sh")
            .args([
                "-c",
                &format!("python3 {} >/dev/null 2>&1 &", server.display()),
            ])
            .status();
    wait_listening(&t.fw, &[("tcp", 5555)]);
    let client = t.file("client.py", CLIENT);
    let go = t.dir.join("go");
    let mut c = t
        .client
        .cmd("python3")
        .arg(&client)
        .arg(&go)
        .stdout(Stdio::piped())
        .spawn()
        .expect("client");
    let mut first = String::new();
    {
        use std::io::BufRead;
        let out = c.stdout.as_mut().expect("stdout");
        let _ = std::io::BufReader::new(out).read_line(&mut first);
    }
    assert_eq!(first.trim(), "first");

    // A ruleset with an error is refused; the running one stays.
    std::fs::write(
        &rules,
        "*filter\n-A INPUT -p tcp --dport 5555 -j NOPE\nCOMMIT\n",
    )
    .unwrap();
    let (refused_ok, msg) = t.ctl("reload");
    assert!(!refused_ok, "bad ruleset accepted: {msg}");
    // Now close port 5555 for new connections and reload.
    std::fs::write(&rules, closed).unwrap();
    let (reload_ok, msg) = t.ctl("reload");
    assert!(reload_ok, "{msg}");
    std::fs::File::create(&go)
        .and_then(|mut f| f.write_all(b"go"))
        .unwrap();
    let out = c.wait_with_output().expect("client");
    assert!(
        out.status.success(),
        "established connection lost on reload"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "second");
    // New connections follow the new ruleset.
    assert!(!ok(&t.client, "echo x | nc -N -w1 10.91.1.1 5555"));
    assert!(ok(&t.client, "ping -c1 -W1 10.91.1.1"));

    // SIGKILL: the table stays, nobody answers the queue: nothing passes.
    if let Some(mut d) = t.daemon.take() {
        let _ = d.kill();
        let _ = d.wait();
    }
    assert!(ok(&t.fw, "nft list table inet palisade"));
    assert!(
        !ok(&t.client, "ping -c1 -W1 10.91.1.1"),
        "fail-open after kill"
    );
    // The next start replaces the stale table and traffic flows again.
    std::fs::write(&rules, open).unwrap();
    t.start(&rules);
    assert!(ok(&t.client, "ping -c1 -W1 10.91.1.1"));
    // SIGTERM removes the table.
    if let Some(d) = t.daemon.take() {
        let _ = Command::new("kill")
            .args(["-TERM", &d.id().to_string()])
            .status();
        let out = d.wait_with_output().expect("wait");
        assert!(out.status.success());
    }
    assert!(!ok(&t.fw, "nft list table inet palisade"));
}

const SINK: &str = r#"
import socket, time, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 9999)); s.settimeout(1.0)
n = 0
try:
    while True:
        s.recv(2048); n += 1
except socket.timeout:
    pass
print(n)
"#;

const BLAST: &str = r#"
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.time() + 2.0; n = 0; p = b"x" * 64
while time.time() < end:
    try:
        s.sendto(p, ("10.91.2.2", 9999)); n += 1
    except OSError:
        pass
print(n)
"#;

/// Forwarded UDP packets per second through fw (2 s bounded flood, 64-byte
/// payloads, one Python sender): kernel enforcing `FORWARD` vs Palisade.
/// `cargo test --release --test daemon -- --ignored --nocapture bench`.
#[test]
#[ignore]
fn bench_forwarding_pps() {
    require_root_with!("iptables-restore", "nft", "python3");
    let rules = FORWARD.replace(
        "-A FORWARD -i fc -o fs -p icmp -j ACCEPT",
        "-A FORWARD -i fc -o fs -p icmp -j ACCEPT\n-A FORWARD -i fc -o fs -p udp -m udp --dport 9999 -j ACCEPT",
    );
    let run = |t: &Topo| -> (u64, u64) {
        let sink = t.file("sink.py", SINK);
        let blast = t.file("blast.py", BLAST);
        let rx = t
            .server
            .cmd("python3")
            .arg(&sink)
            .stdout(Stdio::piped())
            .spawn()
            .expect("sink");
        wait_listening(&t.server, &[("udp", 9999)]);
        let sent = sh(&t.client, &format!("python3 {}", blast.display()));
        let got = rx.wait_with_output().expect("sink");
        let n = |s: &str| s.trim().parse::<u64>().unwrap_or(0);
        (n(&sent), n(&String::from_utf8_lossy(&got.stdout)))
    };
    let (ks, kr) = {
        let t = Topo::new("bk");
        t.kernel(&rules);
        run(&t)
    };
    let (ps, pr) = {
        let mut t = Topo::new("bp");
        let f = t.file("rules.v4", &rules);
        t.start(&f);
        run(&t)
    };
    println!(
        "kernel:   sent {ks}, forwarded {kr} ({:.0} pps)\npalisade: sent {ps}, forwarded {pr} ({:.0} pps)",
        kr as f64 / 2.0,
        pr as f64 / 2.0
    );
}
