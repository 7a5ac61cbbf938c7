//! End-to-end tests of the `palisade` binary: exit codes, diagnostics, profiles.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn palisade(args: &[&str], stdin: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_palisade"));
    c.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn palisade");
    if let Some(s) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(s.as_bytes())
            .expect("write stdin");
    }
    child.wait_with_output().expect("wait")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_builtin_workstation_profile() {
    let out = palisade(&["check", "workstation"], None);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(
        s.contains("workstation: ok (4 IPv4 rules, 4 IPv6 rules)"),
        "{s}"
    );
}

#[test]
fn fmt_workstation_prints_iptables_save_form() {
    let out = palisade(&["fmt", "workstation", "--family", "4"], None);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n\
-A INPUT -p icmp -j ACCEPT\n\
-A INPUT -i lo -j ACCEPT\n\
-A INPUT -j REJECT --reject-with icmp-port-unreachable\nCOMMIT\n"
    );
}

#[test]
fn fmt_script_from_stdin_canonicalises() {
    let script =
        "iptables -A INPUT -p tcp --syn --dport ssh -m state --state NEW,ESTABLISHED -j ACCEPT\n";
    let out = palisade(&["fmt", "-"], Some(script));
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(
            "-A INPUT -p tcp -m tcp --dport 22 --tcp-flags FIN,SYN,RST,ACK SYN -m state --state NEW,ESTABLISHED -j ACCEPT\n"
        ),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn check_reports_every_error_with_position_and_exit_1() {
    let bad = "*filter\n-A INPUT -p tcp --dport 99999 -j ACCEPT\n-A INPUT -m nosuchmatch -j ACCEPT\nCOMMIT\n";
    let out = palisade(&["check", "-"], Some(bad));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("<stdin>:2:"), "{err}");
    assert!(err.contains("<stdin>:3:"), "{err}");
    assert!(err.contains("nosuchmatch"), "{err}");
}

#[test]
fn check_json_format() {
    let bad = "*filter\n-A INPUT -j NOSUCHCHAIN\nCOMMIT\n";
    let out = palisade(&["check", "--format", "json", "-"], Some(bad));
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["ok"], false);
    assert_eq!(v["files"][0]["errors"][0]["line"], 2);
}

#[test]
fn unreadable_file_is_usage_error() {
    let out = palisade(&["check", "/nonexistent/rules.v4"], None);
    assert_eq!(out.status.code(), Some(2));
}
