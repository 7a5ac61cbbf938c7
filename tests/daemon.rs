//! `palisade run` end to end, as root, in throw-away namespaces:
//! client (10.91.1.2) — fw (10.91.1.1 | 10.91.2.1) — server (10.91.2.2).
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
        let (c, f, s) = (client.name(), fw.name(), server.name());
        let setup = format!(
            "set -e
ip link add c0 netns {c} type veth peer name fc netns {f}
ip link add s0 netns {s} type veth peer name fs netns {f}
ip -n {c} addr add 10.91.1.2/24 dev c0; ip -n {c} link set c0 up
ip -n {f} addr add 10.91.1.1/24 dev fc; ip -n {f} link set fc up
ip -n {f} addr add 10.91.2.1/24 dev fs; ip -n {f} link set fs up
ip -n {s} addr add 10.91.2.2/24 dev s0; ip -n {s} link set s0 up
for n in {c} {f} {s}; do ip -n $n link set lo up; done
ip -n {c} route add default via 10.91.1.1
ip -n {s} route add default via 10.91.2.1
ip netns exec {f} sysctl -qw net.ipv4.ip_forward=1
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

    fn kernel(&self, rules: &str) {
        let out = self
            .fw
            .sh_output("iptables-restore", Some(rules))
            .expect("iptables-restore");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn start(&mut self, rules: &PathBuf) {
        let child = Command::new("ip")
            .args(["netns", "exec", self.fw.name(), BIN, "run"])
            .arg(rules)
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
    let out = sh(
        from,
        &format!("nmap -n -Pn -r {kind} -p {ports} --max-retries 1 -T4 {target}"),
    );
    out.lines()
        .filter(|l| {
            l.split('/')
                .next()
                .is_some_and(|p| p.parse::<u16>().is_ok())
        })
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
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

/// Starts `nc -lk` listeners in `ns`.
fn listen(ns: &Netns, ports: &[u16]) {
    for p in ports {
        let _ = ns
            .cmd("sh")
            .args(["-c", &format!("nc -lk {p} >/dev/null 2>&1 &")])
            .status();
    }
}

fn compare(tag: &str, rules: &str, target: &str, tcp: &str, udp: &str, setup: fn(&Topo)) {
    let kernel = {
        let t = Topo::new(tag);
        setup(&t);
        t.kernel(rules);
        observe(&t, target, tcp, udp)
    };
    let ours = {
        let mut t = Topo::new(tag);
        setup(&t);
        let f = t.file("rules.v4", rules);
        t.start(&f);
        let v = observe(&t, target, tcp, udp);
        let (ok, status) = t.ctl("status");
        assert!(ok, "{status}");
        assert!(status.contains("Chain INPUT (policy"), "{status}");
        v
    };
    eprintln!("{tag}: kernel {kernel:?}\n{tag}: palisade {ours:?}");
    assert_eq!(kernel, ours, "{tag}: kernel vs palisade");
}

const TOOLS: [&str; 5] = ["iptables-restore", "nft", "nmap", "nc", "ping"];

#[test]
fn workstation_input_matches_kernel() {
    require_root_with!("iptables-restore", "nft", "nmap", "nc", "ping");
    let _ = TOOLS;
    let (v4, _) = palisade_rules::profiles::get("workstation").expect("profile");
    compare("dw", v4, "10.91.1.1", "22,80", "53,123", |t| {
        listen(&t.fw, &[22])
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
    std::thread::sleep(Duration::from_millis(200));
    assert!(ok(&t.client, "echo hi | nc -N -w2 10.91.2.2 80"));
    assert!(!ok(&t.client, "echo hi | nc -N -w2 10.91.2.2 22"));
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
    std::thread::sleep(Duration::from_millis(300));
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
        std::thread::sleep(Duration::from_millis(200));
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
