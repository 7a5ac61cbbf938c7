//! NAT under replay (issue 5): for every recorded `nat_*` case (and the
//! `tcpmss*` cases, whose SYNs TCPMSS rewrites or grows), the packets
//! the engine forwards must be the kernel's, byte for byte — addresses, the
//! ports/ids NAT chose, TTL, IPv4 ID and every checksum — and nothing the
//! engine sends may go unmatched. Locally generated packets (a REDIRECTed
//! service's replies, rebuilt before NAT) must leave as captured. (The counters themselves are compared with
//! the kernel's by tests/replay.rs, which runs every committed case.)

use std::path::Path;

use palisade_datapath::capture::{Capture, CaptureOptions};
use palisade_datapath::engine_replay;
use palisade_datapath::host::HostSpec;
use palisade_datapath::sysctl;
use palisade_model::Family;

fn run(dir: &Path) -> palisade_datapath::replay::ReplaySummary {
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).expect(f);
    let mut host = HostSpec::from_addr_json(&read("host.json")).expect("host.json");
    host.add_routes_json(&read("routes.json"))
        .expect("routes.json");
    let v4 = palisade_rules::parse_restore(&read("rules.v4"), "rules.v4", Family::V4).expect("v4");
    let v6 = palisade_rules::parse_restore(&read("rules.v6"), "rules.v6", Family::V6).expect("v6");
    let sysctls = sysctl::parse_file(&read("sysctl.txt")).expect("sysctl.txt");
    let capture = Capture::open(&dir.join("capture.pcap")).expect("capture");
    let opts = CaptureOptions {
        local_macs: host.macs(),
        ifindex: None,
    };
    engine_replay::replay(&v4, &v6, &host, &sysctls, &capture, &opts, false)
        .expect("replay")
        .summary
}

#[test]
fn nat_cases_forward_the_kernels_bytes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/replay");
    let mut seen = 0;
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .expect("tests/data/replay")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                n.starts_with("nat_")
                    || n.starts_with("ftp_nat_")
                    || n == "ftp_dnat"
                    || n == "ftp_nat6"
                    || n.starts_with("tcpmss")
            }) && p.join("capture.pcap").is_file()
        })
        .collect();
    dirs.sort();
    for dir in dirs {
        seen += 1;
        let s = run(&dir);
        eprintln!("{}: {s:?}", dir.display());
        assert_eq!(
            s.matched_loosely,
            0,
            "{}: bytes differ: {s:?}",
            dir.display()
        );
        assert_eq!(s.unmatched_emitted, 0, "{}: {s:?}", dir.display());
        assert_eq!(s.local_differs, 0, "{}: {s:?}", dir.display());
        assert!(
            s.matched > 0 || dir.ends_with("nat_redirect"),
            "{}: nothing forwarded",
            dir.display()
        );
        assert_eq!(
            s.identical,
            s.matched,
            "{}: not byte-identical: {s:?}",
            dir.display()
        );
    }
    assert!(seen >= 4, "recorded nat cases missing");
}
