//! `sysctl.txt` files and `--sysctl NAME=VALUE` flags: kernel tunables by
//! their kernel names (`net.netfilter.nf_conntrack_tcp_loose=0`). `/` is
//! accepted as separator like sysctl(8) does (`net/ipv4/ip_forward`). Which
//! names are known is the engine's business (`EngineConfig::set_sysctl`); this
//! file only splits and validates the syntax.

/// A syntax error in a sysctl line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {msg}: {text:?}")]
pub struct SysctlError {
    /// 1-based line number (1 for a single flag).
    pub line: usize,
    /// What is wrong.
    pub msg: &'static str,
    /// The offending text.
    pub text: String,
}

/// Parses one `NAME=VALUE` (spaces around `=` allowed, as `sysctl -a` prints
/// `name = value`).
pub fn parse_assignment(text: &str) -> Result<(String, String), SysctlError> {
    parse_line(text, 1)
}

fn parse_line(text: &str, line: usize) -> Result<(String, String), SysctlError> {
    let err = |msg| SysctlError {
        line,
        msg,
        text: text.to_string(),
    };
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| err("expected NAME=VALUE"))?;
    let name = name.trim().replace('/', ".");
    let value = value.trim();
    if name.is_empty() {
        return Err(err("empty name"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(err("bad character in name"));
    }
    if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        return Err(err("bad name"));
    }
    // Multi-value tunables (`net.ipv4.ip_local_port_range = 32768	60999`)
    // keep single spaces between fields.
    let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
    Ok((name, value))
}

/// Parses a `sysctl.txt` (or `sysctl -a` output): one assignment per line,
/// `#` and `;` comments and blank lines ignored, all errors collected.
pub fn parse_file(text: &str) -> Result<Vec<(String, String)>, Vec<SysctlError>> {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        match parse_line(t, i + 1) {
            Ok(kv) => out.push(kv),
            Err(e) => errs.push(e),
        }
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_and_files() {
        assert_eq!(
            parse_assignment("net.netfilter.nf_conntrack_tcp_loose=0").unwrap(),
            ("net.netfilter.nf_conntrack_tcp_loose".into(), "0".into())
        );
        assert_eq!(
            parse_assignment(" net/ipv4/ip_forward = 1 ").unwrap(),
            ("net.ipv4.ip_forward".into(), "1".into())
        );
        assert_eq!(
            parse_assignment("net.ipv6.icmp.ratemask=0-1,3-127")
                .unwrap()
                .1,
            "0-1,3-127"
        );
        assert_eq!(parse_assignment("a.b = 1\t 2").unwrap().1, "1 2");
        assert!(parse_assignment("novalue").is_err());
        assert!(parse_assignment("=1").is_err());
        assert!(parse_assignment("a b=1").is_err());
        assert!(parse_assignment("a..b=1").is_err());
        let f = "# recorded\nnet.ipv4.icmp_ratelimit=1000\n\n; x\nnet.netfilter.nf_conntrack_max=262144\n";
        assert_eq!(parse_file(f).unwrap().len(), 2);
        let e = parse_file("ok=1\nbad\nalso bad\n").unwrap_err();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].line, 2);
    }

    #[test]
    fn committed_sysctl_files_parse() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/replay");
        let Ok(rd) = std::fs::read_dir(root) else {
            return;
        };
        for case in rd.flatten() {
            if let Ok(t) = std::fs::read_to_string(case.path().join("sysctl.txt")) {
                let v = parse_file(&t).unwrap();
                assert!(v
                    .iter()
                    .any(|(n, _)| n == "net.netfilter.nf_conntrack_tcp_loose"));
            }
        }
    }
}
