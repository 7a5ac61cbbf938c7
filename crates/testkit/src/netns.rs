//! Throw-away network namespaces. Every namespace gets a unique name
//! (`pal-<tag>-<pid>-<n>`) and is deleted when its [`Netns`] is dropped, so
//! parallel tests never collide and a failing test leaves nothing behind.

use std::io;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Whether the process runs as root.
pub fn is_root() -> bool {
    // Reads the effective uid from /proc: no libc call, no unsafe.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Whether a command is on the PATH (or /usr/sbin, /sbin).
pub fn have_cmd(cmd: &str) -> bool {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin"])
        .any(|d| std::path::Path::new(d).join(cmd).is_file());
    found
}

/// `None` when running as root with all `cmds` present, else why a root test
/// must be skipped.
pub fn skip_reason(cmds: &[&str]) -> Option<String> {
    if !is_root() {
        return Some("not running as root: kernel-oracle test needs network namespaces".into());
    }
    let missing: Vec<&str> = cmds.iter().copied().filter(|c| !have_cmd(c)).collect();
    if !missing.is_empty() {
        return Some(format!(
            "missing commands {} (install them, e.g. with .ci/run)",
            missing.join(", ")
        ));
    }
    None
}

/// A network namespace deleted on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates `pal-<tag>-<pid>-<n>` with loopback up.
    pub fn new(tag: &str) -> io::Result<Netns> {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let name = format!("pal-{tag}-{}-{n}", std::process::id());
        run_ok(Command::new("ip").args(["netns", "add", &name]))?;
        let ns = Netns { name };
        ns.sh("ip link set lo up")?;
        Ok(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A command that runs inside the namespace.
    pub fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Runs a shell snippet inside the namespace; error unless it exits 0.
    pub fn sh(&self, script: &str) -> io::Result<String> {
        let out = self.sh_output(script, None)?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "in netns {}: `{script}` failed: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs a shell snippet inside the namespace with optional stdin; any exit status.
    pub fn sh_output(&self, script: &str, stdin: Option<&str>) -> io::Result<Output> {
        let mut c = self.cmd("sh");
        c.args(["-c", script]);
        run_with_stdin(c, stdin)
    }

    /// Runs a program with arguments and optional stdin inside the namespace.
    pub fn run(&self, program: &str, args: &[&str], stdin: Option<&str>) -> io::Result<Output> {
        let mut c = self.cmd(program);
        c.args(args);
        run_with_stdin(c, stdin)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn run_with_stdin(mut c: Command, stdin: Option<&str>) -> io::Result<Output> {
    use std::io::Write;
    c.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = c.spawn()?;
    if let Some(input) = stdin {
        let mut s = child.stdin.take().expect("piped stdin");
        // A child that exits early closes the pipe; its exit status tells why.
        let _ = s.write_all(input.as_bytes());
    }
    child.wait_with_output()
}

fn run_ok(c: &mut Command) -> io::Result<()> {
    let out = c.output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }
}
