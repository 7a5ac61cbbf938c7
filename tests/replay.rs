//! `palisade replay` against the kernel as oracle (issue 4).
//!
//! Each case under tests/data/replay/<case>/ was recorded in throw-away
//! namespaces (client — firewall — server): the firewall kernel's
//! `iptables-save -c; ip6tables-save -c` after real traffic, and the
//! `tcpdump -i any` capture of that traffic. Replaying the capture must print
//! the same counters, byte for byte (the dates of the comment lines aside,
//! which are passed with `--date`).
//!
//! As root, every case is also re-recorded live into a temporary directory
//! and replayed, so drift on either side shows.

use std::path::{Path, PathBuf};
use std::process::Command;

use palisade_testkit::replay_case::{committed_cases, normalise_save, record, save_date};

fn replay(dir: &Path) -> (String, String) {
    let expected = std::fs::read_to_string(dir.join("expected.save")).expect("expected.save");
    let date = save_date(&expected).unwrap_or("DATE").to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .arg("replay")
        .arg("--host")
        .arg(dir.join("host.json"))
        .arg("--routes")
        .arg(dir.join("routes.json"))
        .arg("--rules")
        .arg(dir.join("rules.v4"))
        .arg("--rules6")
        .arg(dir.join("rules.v6"))
        .arg("--sysctl-file")
        .arg(dir.join("sysctl.txt"))
        .arg("--date")
        .arg(&date)
        .arg(dir.join("capture.pcap"))
        .output()
        .expect("run palisade replay");
    assert!(
        out.status.success(),
        "{}: palisade replay failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    (expected, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Compares and returns a readable diff of the lines that differ.
fn diff(expected: &str, got: &str) -> Option<String> {
    let (e, g) = (normalise_save(expected), normalise_save(got));
    if e == g {
        return None;
    }
    let el: Vec<&str> = e.lines().collect();
    let gl: Vec<&str> = g.lines().collect();
    let mut out = String::new();
    for i in 0..el.len().max(gl.len()) {
        let (a, b) = (el.get(i).copied(), gl.get(i).copied());
        if a != b {
            out.push_str(&format!(
                "  line {}:\n    kernel:   {}\n    palisade: {}\n",
                i + 1,
                a.unwrap_or("<none>"),
                b.unwrap_or("<none>")
            ));
        }
    }
    Some(out)
}

fn case(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/replay")
        .join(name)
}

#[test]
fn recorded_cases_replay_to_the_kernels_counters() {
    let cases = committed_cases();
    assert!(cases.len() >= 8, "recorded cases missing: {cases:?}");
    let mut failures = String::new();
    for dir in &cases {
        let (expected, got) = replay(dir);
        if let Some(d) = diff(&expected, &got) {
            failures.push_str(&format!("{}:\n{d}", dir.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "replay differs from the kernel:\n{failures}"
    );
}

/// Replays `dir` through the library and returns how the capture was consumed.
fn summary(dir: &Path) -> palisade_datapath::replay::ReplaySummary {
    use palisade_datapath::capture::{Capture, CaptureOptions};
    use palisade_datapath::host::HostSpec;
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).expect(f);
    let mut host = HostSpec::from_addr_json(&read("host.json")).expect("host.json");
    host.add_routes_json(&read("routes.json"))
        .expect("routes.json");
    let v4 =
        palisade_rules::parse_restore(&read("rules.v4"), "rules.v4", palisade_model::Family::V4)
            .expect("v4");
    let v6 =
        palisade_rules::parse_restore(&read("rules.v6"), "rules.v6", palisade_model::Family::V6)
            .expect("v6");
    let sysctls = palisade_datapath::sysctl::parse_file(&read("sysctl.txt")).expect("sysctl.txt");
    let capture = Capture::open(&dir.join("capture.pcap")).expect("capture");
    let opts = CaptureOptions {
        local_macs: host.macs(),
        ifindex: None,
    };
    palisade_datapath::engine_replay::replay(&v4, &v6, &host, &sysctls, &capture, &opts, false)
        .expect("replay")
        .summary
}

/// ICMP rate limiting with the kernel's defaults: every REJECT error the
/// engine lets through was on the wire, and every one on the wire came from
/// the engine (a captured error the engine refused would be replayed as a
/// locally generated packet instead).
fn check_ratelimit(dir: &Path) {
    let s = summary(dir);
    assert_eq!(s.unmatched_emitted, 0, "{}: {s:?}", dir.display());
    assert_eq!(s.local_icmp_errors, 0, "{}: {s:?}", dir.display());
    assert_eq!(s.matched_loosely, 0, "{}: {s:?}", dir.display());
    // 25 IPv4 and 32 IPv6 errors (see its traffic.sh).
    assert_eq!(s.matched, 57, "{}: {s:?}", dir.display());
}

#[test]
fn icmp_ratelimit_errors_match_the_capture() {
    check_ratelimit(&case("icmp_ratelimit"));
}

/// Frag-needed, packet-too-big, beyond-scope and time-exceeded errors of the
/// forwarding path: all built by the engine, as the kernel sent them.
fn check_fwd_limits(dir: &Path) {
    let s = summary(dir);
    assert_eq!(s.unmatched_emitted, 0, "{}: {s:?}", dir.display());
    assert_eq!(s.local_icmp_errors, 0, "{}: {s:?}", dir.display());
    assert_eq!(s.matched_loosely, 0, "{}: {s:?}", dir.display());
}

#[test]
fn forwarding_errors_match_the_capture() {
    check_fwd_limits(&case("fwd_limits"));
}

/// nf_defrag: fragments reach no rule; each reassembled datagram is
/// forwarded (or answered) whole by the engine and matches the fragments
/// the kernel sent; outgoing fragments are put together before matching.
fn check_fragments(dir: &Path) {
    let s = summary(dir);
    assert_eq!(s.unmatched_emitted, 0, "{}: {s:?}", dir.display());
    assert_eq!(s.matched_loosely, 0, "{}: {s:?}", dir.display());
    assert!(s.out_fragments > 0, "{}: {s:?}", dir.display());
    assert!(s.matched > 0, "{}: {s:?}", dir.display());
}

#[test]
fn fragments_match_the_capture() {
    check_fragments(&case("fragments"));
}

fn live(name: &str) {
    palisade_testkit::require_root_with!(
        "ip",
        "iptables-restore",
        "ip6tables-restore",
        "tcpdump",
        "conntrack",
        "nmap",
        "nc",
        "python3"
    );
    let out = std::env::temp_dir().join(format!("pal-live-{name}-{}", std::process::id()));
    let r = record(&case(name), &out);
    let (expected, got) = r
        .map(|()| replay(&out))
        .unwrap_or_else(|e| panic!("recording {name}: {e}"));
    if name == "icmp_ratelimit" {
        check_ratelimit(&out);
    }
    if name == "fwd_limits" {
        check_fwd_limits(&out);
    }
    if name == "fragments" {
        check_fragments(&out);
    }
    if let Some(d) = diff(&expected, &got) {
        // The recording stays for inspection.
        panic!(
            "live case {name}: replay differs from the kernel (recording kept in {}):\n{d}",
            out.display()
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}

macro_rules! live_cases {
    ($($name:ident),*) => {$(
        #[test]
        fn $name() {
            live(stringify!($name));
        }
    )*};
}

mod live {
    use super::live;
    live_cases!(
        workstation,
        arch,
        portscan,
        sshbrute,
        client46,
        ct_loose,
        ct_strict,
        ct_udp_icmp,
        nat_gateway,
        nat_icmp,
        ftp_active,
        ftp_passive,
        tftp,
        rpfilter_spoof,
        rpfilter_sysctl,
        tcpmss,
        icmp_ratelimit,
        nat_clash,
        nat_random,
        nat_redirect,
        fwd_limits,
        scan6_odd,
        fragments
    );
}

/// Issue 5's FTP-under-NAT and packet-growth cases.
mod live_grow {
    use super::live;
    live_cases!(
        ftp_nat_active,
        ftp_nat_passive,
        ftp_dnat,
        ftp_nat6,
        tcpmss_insert
    );
}
