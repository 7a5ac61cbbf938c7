//! Rulesets written as iptables-save text (parsed by palisade-rules), run
//! through the engine, printed back with counters.

use etherparse::PacketBuilder;
use palisade_engine::{Engine, EngineConfig, Host, Interface, Outcome, Verdict};
use palisade_model::{Family, Ruleset};

const SEC: u64 = 1_000_000_000;

fn host() -> Host {
    Host {
        interfaces: vec![Interface::up(
            "eth0",
            2,
            &[("10.0.1.1".parse().unwrap(), 24)],
        )],
        routes: vec![],
        forwarding_v4: false,
        forwarding_v6: false,
    }
}

fn syn(sport: u16, dport: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4([10, 0, 1, 2], [10, 0, 1, 1], 64)
        .tcp(sport, dport, 1, 64240)
        .syn()
        .write(&mut v, &[])
        .unwrap();
    v
}

const SSH: &str = "*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:IN_SSH - [0:0]
-A INPUT -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -j IN_SSH
-A IN_SSH -m recent --rcheck --seconds 10 --hitcount 3 --rttl --name sshbf --mask 255.255.255.255 --rsource -j DROP
-A IN_SSH -m recent --set --name sshbf --mask 255.255.255.255 --rsource -j ACCEPT
COMMIT
";

#[test]
fn ssh_bruteforce_recent_from_restore_text() {
    let v4 = palisade_rules::parse_restore(SSH, "ssh.rules", Family::V4).expect("parses");
    let mut e = Engine::new(
        &v4,
        Ruleset::new(Family::V6),
        host(),
        EngineConfig::default(),
    )
    .unwrap();
    let mut out = Outcome::new();
    let mut verdicts = vec![];
    for i in 0..5u16 {
        e.receive(
            SEC + u64::from(i) * SEC / 10,
            "eth0",
            &syn(40000 + i, 22),
            &mut out,
        );
        verdicts.push(out.verdict.is_accept());
    }
    // Three connections are let in; the fourth and fifth inside 10 s are dropped.
    assert_eq!(verdicts, vec![true, true, true, false, false]);
    // Eleven seconds after the last stamp the source is welcome again.
    e.receive(13 * SEC, "eth0", &syn(41000, 22), &mut out);
    assert_eq!(out.verdict, Verdict::Accept);
    let (saved, _) = e.save_counters();
    let text = palisade_rules::save(
        &saved,
        &palisade_rules::SaveOptions {
            counters: true,
            header: None,
        },
    );
    assert!(
        text.contains(
            "[6:240] -A INPUT -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -j IN_SSH"
        ),
        "{text}"
    );
    assert!(
        text.contains("[2:80] -A IN_SSH -m recent --rcheck"),
        "{text}"
    );
    assert!(text.contains("[4:160] -A IN_SSH -m recent --set"), "{text}");
}
