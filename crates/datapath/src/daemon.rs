//! `palisade run`: the engine enforcing a ruleset on the live host.
//!
//! Start-up order keeps the host fail-closed and never half-installed:
//! rulesets parsed and compiled first (errors refuse the start), the host's
//! interfaces, routes and forwarding switches read, the control socket
//! bound, the NFQUEUE queues bound (so nothing queued is lost), and only
//! then `table inet palisade` installed (replacing a stale one a crashed
//! run left). SIGTERM/SIGINT remove the table and the socket; SIGHUP and
//! the `reload` request re-read the ruleset files.
//!
//! All workers share one [`Engine`] behind a mutex: one conntrack table, so
//! flows whose two directions hash to different queues (NAT) are still one
//! connection. The workers parallelise the netlink I/O, copies and checksum
//! work; the engine's own work per packet is short.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use palisade_engine::{Engine, EngineConfig, Host};
use palisade_model::Ruleset;

use crate::control::{self, Answer, Request};
use crate::host::HostSpec;
use crate::nfqueue::{self, QueueStats, Shared, TokenBucket};
use crate::nft::{self, QueueSpec};

/// Re-reads the ruleset files: `Ok((v4, v6))` or the diagnostics as text.
pub type Loader = Box<dyn Fn() -> Result<(Ruleset, Ruleset), String> + Send + Sync>;

/// Formats counters (`iptables -nvL` style) from `save_counters` output.
pub type Lister = Box<dyn Fn(&Ruleset, &Ruleset) -> String + Send + Sync>;

/// `palisade run` settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// First NFQUEUE queue number.
    pub queue: u16,
    /// Number of workers (queues).
    pub workers: u16,
    /// Let packets through while the daemon does not answer.
    pub fail_open: bool,
    /// Control socket path.
    pub control: PathBuf,
    /// LOG lines per second across all rules (burst: twice that).
    pub log_rate: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            queue: 0,
            workers: std::thread::available_parallelism()
                .map(|n| n.get().min(64) as u16)
                .unwrap_or(1),
            fail_open: false,
            control: PathBuf::from(control::DEFAULT_PATH),
            log_rate: 50,
        }
    }
}

fn ip_json(args: &[&str]) -> io::Result<String> {
    let out = Command::new("ip").args(args).output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn sysctl(path: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/sys/{path}"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Reads the live host (`ip -j addr show`, `ip -j route show`,
/// `ip -6 -j route show`, forwarding and `rp_filter` sysctls) into the
/// engine's host model and configuration.
pub fn live_host() -> io::Result<(HostSpec, Host, EngineConfig)> {
    let bad = |e: crate::host::HostError| io::Error::other(e.to_string());
    let mut spec = HostSpec::from_addr_json(&ip_json(&["-j", "addr", "show"])?).map_err(bad)?;
    spec.add_routes_json(&ip_json(&["-j", "route", "show"])?)
        .map_err(bad)?;
    if let Ok(r6) = ip_json(&["-6", "-j", "route", "show"]) {
        spec.add_routes_json(&r6).map_err(bad)?;
    }
    let on = |p: &str| sysctl(p).is_some_and(|v| v != "0");
    let host = spec.to_engine_host(
        on("net/ipv4/ip_forward"),
        on("net/ipv6/conf/all/forwarding"),
    );
    let mut cfg = EngineConfig::default();
    let mut set = |name: &str| {
        if let Some(v) = sysctl(&name.replace('.', "/")) {
            let _ = cfg.set_sysctl(name, &v);
        }
    };
    set("net.ipv4.conf.all.rp_filter");
    for i in &spec.interfaces {
        if !i.name.contains('.') {
            set(&format!("net.ipv4.conf.{}.rp_filter", i.name));
        }
    }
    for n in [
        "net.netfilter.nf_conntrack_tcp_loose",
        "net.netfilter.nf_conntrack_tcp_be_liberal",
        "net.netfilter.nf_conntrack_checksum",
        "net.ipv4.ip_default_ttl",
    ] {
        set(n);
    }
    Ok((spec, host, cfg))
}

/// Rules that can only match loopback traffic (`-i lo` / `-o lo`) and do
/// something other than accept it. Loopback is never queued (see
/// [`crate::nft`]), so such rules have no effect under `palisade run`; each
/// is named (`filter INPUT #3: -i lo`) so the daemon can warn about it.
/// `-i lo -j ACCEPT` is left out: loopback is accepted anyway.
pub fn loopback_only_rules(rs: &Ruleset) -> Vec<String> {
    use palisade_model::Target;
    let lo = |i: &Option<palisade_model::Iface>, inv: bool| {
        !inv && i.as_ref().is_some_and(|i| i.name == "lo" && !i.wildcard)
    };
    let mut out = Vec::new();
    for t in &rs.tables {
        for c in &t.chains {
            for (n, r) in c.rules.iter().enumerate() {
                if matches!(r.target, Target::Accept) {
                    continue;
                }
                let side = if lo(&r.ip.in_iface, r.ip.inv_in) {
                    "-i lo"
                } else if lo(&r.ip.out_iface, r.ip.inv_out) {
                    "-o lo"
                } else {
                    continue;
                };
                out.push(format!("{} {} #{}: {side}", t.id.name(), c.name, n + 1));
            }
        }
    }
    out
}

fn warn_loopback(v4: &Ruleset, v6: &Ruleset) {
    for (fam, rs) in [("IPv4", v4), ("IPv6", v6)] {
        for r in loopback_only_rules(rs) {
            tracing::warn!(
                "{fam} rule {r} matches only loopback traffic, which palisade does not filter: it has no effect"
            );
        }
    }
}

/// The running daemon's state the control paths need.
struct State {
    shared: Arc<Shared>,
    stats: Vec<(u16, Arc<QueueStats>)>,
    loader: Loader,
    lister: Lister,
}

impl State {
    fn reload(&self) -> Answer {
        let (v4, v6) = match (self.loader)() {
            Ok(r) => r,
            Err(text) => {
                tracing::warn!("reload refused: the ruleset has errors; the running one stays");
                return Answer { ok: false, text };
            }
        };
        let mut engine = match self.shared.engine.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        match engine.replace_rules(&v4, &v6) {
            Ok(()) => {
                tracing::info!("ruleset reloaded");
                warn_loopback(&v4, &v6);
                Answer {
                    ok: true,
                    text: "ruleset reloaded; connections kept\n".into(),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "reload refused; the running ruleset stays");
                Answer {
                    ok: false,
                    text: format!("{e}\n"),
                }
            }
        }
    }

    fn status(&self) -> Answer {
        let now = self.shared.now();
        let (c4, c6, cts, flows) = {
            let engine = match self.shared.engine.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            let (c4, c6) = engine.save_counters();
            let cts = crate::ctlist::listing(engine.conntrack().iter(now), now);
            (c4, c6, cts, engine.flowtable_stats())
        };
        let mut t = String::new();
        t.push_str((self.lister)(&c4, &c6).as_str());
        t.push_str("\n# conntrack -L\n");
        t.push_str(&cts);
        t.push_str("\n# queues\n");
        t.push_str(&queue_table(&self.stats));
        let _ = writeln!(
            t,
            "LOG lines suppressed by the global limit: {}",
            self.shared.logs_suppressed.load(Relaxed)
        );
        let _ = writeln!(
            t,
            "established packets served by the flowtable: {} (paths remembered: {})",
            flows.hits, flows.remembered
        );
        if let Ok(k) = std::fs::read_to_string("/proc/net/netfilter/nfnetlink_queue") {
            t.push_str("\n# kernel: /proc/net/netfilter/nfnetlink_queue\n");
            t.push_str(&kernel_queue_table(&k, &self.stats));
        }
        Answer { ok: true, text: t }
    }
}

/// The daemon's queue counters as a table.
pub fn queue_table(stats: &[(u16, Arc<QueueStats>)]) -> String {
    let mut t = format!(
        "{:>5} {:>10} {:>10} {:>10} {:>9} {:>8} {:>8} {:>8} {:>8} {:>6} {:>10} {:>10}\n",
        "queue",
        "packets",
        "accepted",
        "dropped",
        "rewritten",
        "resent",
        "gso",
        "replies",
        "failed",
        "errors",
        "avg-us",
        "max-us"
    );
    for (n, s) in stats {
        let p = s.packets.load(Relaxed);
        let avg = s.latency_sum_ns.load(Relaxed).checked_div(p).unwrap_or(0) as f64 / 1000.0;
        let _ = writeln!(
            t,
            "{:>5} {:>10} {:>10} {:>10} {:>9} {:>8} {:>8} {:>8} {:>8} {:>6} {:>10.1} {:>10.1}",
            n,
            p,
            s.accepted.load(Relaxed),
            s.dropped.load(Relaxed),
            s.rewritten.load(Relaxed),
            s.resent.load(Relaxed),
            s.gso.load(Relaxed),
            s.emitted.load(Relaxed),
            s.emit_errors.load(Relaxed),
            s.errors.load(Relaxed),
            avg,
            s.latency_max_ns.load(Relaxed) as f64 / 1000.0
        );
    }
    t
}

/// Our queues' lines of `/proc/net/netfilter/nfnetlink_queue` (queue,
/// listener port id, waiting, copy mode, copy range, dropped because the
/// queue was full, dropped because the listener's socket was full, last id).
pub fn kernel_queue_table(proc_text: &str, stats: &[(u16, Arc<QueueStats>)]) -> String {
    let mut t = format!(
        "{:>5} {:>10} {:>8} {:>12} {:>12} {:>10}\n",
        "queue", "portid", "waiting", "queue-full", "socket-full", "last-id"
    );
    for line in proc_text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let Ok(q) = f[0].parse::<u16>() else { continue };
        if !stats.iter().any(|(n, _)| *n == q) {
            continue;
        }
        let _ = writeln!(
            t,
            "{:>5} {:>10} {:>8} {:>12} {:>12} {:>10}",
            q, f[1], f[2], f[5], f[6], f[7]
        );
    }
    t
}

enum Event {
    Reload,
    Shutdown(&'static str),
}

/// Runs the daemon until SIGTERM/SIGINT. `v4`/`v6` are the rulesets already
/// loaded (by `loader`'s first call, done by the caller to report errors).
pub fn run(
    opts: &Options,
    v4: &Ruleset,
    v6: &Ruleset,
    loader: Loader,
    lister: Lister,
) -> io::Result<()> {
    warn_loopback(v4, v6);
    let (spec, host, cfg) = live_host()?;
    let engine = Engine::new(v4, v6, host, cfg)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    let ifnames: HashMap<u32, String> = spec
        .interfaces
        .iter()
        .map(|i| (i.index, i.name.clone()))
        .collect();
    let macs: HashMap<u32, [u8; 6]> = spec
        .interfaces
        .iter()
        .filter_map(|i| Some((i.index, i.mac?)))
        .collect();
    let mtus = spec.interfaces.iter().map(|i| (i.index, i.mtu)).collect();
    let broadcasts = spec
        .interfaces
        .iter()
        .flat_map(|i| i.addrs.iter().filter_map(|a| a.broadcast))
        .collect();
    let rate = f64::from(opts.log_rate.max(1));
    let shared = Arc::new(Shared {
        engine: Mutex::new(engine),
        ifnames,
        macs,
        mtus,
        broadcasts,
        epoch: Instant::now(),
        log_limit: Mutex::new(TokenBucket::new(rate, rate * 2.0)),
        logs_suppressed: Default::default(),
    });

    let listener = control::listen(&opts.control)?;
    let count = opts.workers.max(1);
    let mut stats = Vec::new();
    let mut queues = Vec::new();
    for k in 0..count {
        let num = opts
            .queue
            .checked_add(k)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "queue numbers overflow"))?;
        let q = nfqueue::open(num, opts.fail_open)
            .map_err(|e| io::Error::new(e.kind(), format!("binding NFQUEUE {num}: {e}")))?;
        queues.push((num, q));
        stats.push((num, Arc::new(QueueStats::default())));
    }
    for ((num, q), (_, st)) in queues.into_iter().zip(&stats) {
        let (sh, st) = (shared.clone(), st.clone());
        std::thread::Builder::new()
            .name(format!("nfq-{num}"))
            .spawn(move || nfqueue::run(num, q, sh, st))?;
    }

    let (tx, rx) = mpsc::channel::<Event>();
    {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGHUP, SIGINT, SIGTERM])?;
        let tx = tx.clone();
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for s in signals.forever() {
                    let ev = match s {
                        SIGHUP => Event::Reload,
                        SIGINT => Event::Shutdown("SIGINT"),
                        _ => Event::Shutdown("SIGTERM"),
                    };
                    if tx.send(ev).is_err() {
                        break;
                    }
                }
            })?;
    }

    nft::install(QueueSpec {
        first: opts.queue,
        count,
        bypass: opts.fail_open,
    })?;
    tracing::info!(
        queues = %format!("{}-{}", opts.queue, opts.queue + count - 1),
        fail_open = opts.fail_open,
        control = %opts.control.display(),
        "palisade is enforcing (table inet palisade installed)"
    );

    let state = Arc::new(State {
        shared,
        stats,
        loader,
        lister,
    });
    {
        let state = state.clone();
        std::thread::Builder::new()
            .name("control".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    let Ok(conn) = conn else { continue };
                    let r = control::serve_one(conn, &mut |req| match req {
                        Request::Status => state.status(),
                        Request::Reload => state.reload(),
                    });
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "control connection");
                    }
                }
            })?;
    }

    let why = loop {
        match rx.recv() {
            Ok(Event::Reload) => {
                let a = state.reload();
                if !a.ok {
                    for l in a.text.lines() {
                        tracing::warn!("{l}");
                    }
                }
            }
            Ok(Event::Shutdown(why)) => break why,
            Err(_) => break "signal thread ended",
        }
    };
    let r = nft::remove();
    let _ = std::fs::remove_file(&opts.control);
    tracing::info!(
        reason = why,
        "palisade stopped; table inet palisade removed"
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_only_rules_are_named() {
        use palisade_model::{Family, Iface, IpFilter, Rule, Table, TableId, Target};
        let iface = |name: &str, wildcard| {
            Some(Iface {
                name: name.into(),
                wildcard,
            })
        };
        let rule = |f: &dyn Fn(&mut IpFilter), target| {
            let mut ip = IpFilter::default();
            f(&mut ip);
            Rule::new(ip, Vec::new(), target)
        };
        let mut t = Table::new(TableId::Filter);
        let input = t.chain_mut("INPUT").unwrap();
        input.rules = vec![
            rule(&|ip| ip.in_iface = iface("lo", false), Target::Accept),
            rule(&|ip| ip.in_iface = iface("lo", false), Target::Drop),
            rule(
                &|ip| {
                    ip.in_iface = iface("lo", false);
                    ip.inv_in = true;
                },
                Target::Drop,
            ),
            rule(&|ip| ip.in_iface = iface("lo", true), Target::Drop),
        ];
        t.chain_mut("OUTPUT").unwrap().rules =
            vec![rule(&|ip| ip.out_iface = iface("lo", false), Target::Drop)];
        let mut rs = Ruleset::new(Family::V4);
        rs.tables.push(t);
        assert_eq!(
            loopback_only_rules(&rs),
            ["filter INPUT #2: -i lo", "filter OUTPUT #1: -o lo"]
        );
    }

    #[test]
    fn kernel_table_keeps_our_queues() {
        let proc_text = "    0  12345     0 2 65535     0     0        7  1\n\
                         \x20   9  99     0 2 65535     0     0        1  1\n";
        let stats = vec![(0u16, Arc::new(QueueStats::default()))];
        let t = kernel_queue_table(proc_text, &stats);
        assert_eq!(t.lines().count(), 2);
        assert!(t.lines().nth(1).unwrap().contains("12345"));
        assert!(queue_table(&stats).lines().count() == 2);
    }
}
