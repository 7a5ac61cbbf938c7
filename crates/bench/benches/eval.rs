//! Rule evaluation through the whole engine: NEW connections per second
//! against 10, 1k, 10k and 100k-rule INPUT chains (random non-matching rules
//! before a final ACCEPT), and established-flow packets per second.
//!
//! A report before criterion prints the issue 4 targets next to the
//! measured values: NEW rate at 10k rules ≥ 80 % of the rate at 10 rules,
//! ≤ 50 ns per established packet.

// The allocation counter must implement `GlobalAlloc`, an unsafe trait; it
// only forwards to `System` and counts calls. Nothing else here is unsafe.
#![allow(unsafe_code)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{engine, set32, set_peer, tcp};
use criterion::{criterion_group, Criterion, Throughput};
use palisade_engine::{CtState, Engine, Outcome, Verdict};

/// Allocations (alloc, alloc_zeroed, realloc calls) since start.
static ALLOCS: AtomicU64 = AtomicU64::new(0);

struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged; the counter is a side effect only.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const SIZES: [usize; 4] = [10, 1_000, 10_000, 100_000];
/// Fresh engine after this many distinct clients (bounds the table).
const CLIENTS: u32 = 200_000;

struct NewConns {
    rules: usize,
    engine: Engine,
    syn: Vec<u8>,
    next: u32,
    now: u64,
    out: Outcome,
}

impl NewConns {
    fn new(rules: usize) -> NewConns {
        NewConns {
            rules,
            engine: engine(rules, false),
            syn: tcp(true, true, 1, None, b""),
            next: 0,
            now: 1_000_000_000,
            out: Outcome::new(),
        }
    }

    /// `n` SYNs from new clients; returns the time spent in the engine.
    fn run(&mut self, n: u64) -> Duration {
        let mut total = Duration::ZERO;
        let mut left = n;
        while left > 0 {
            if self.next >= CLIENTS {
                self.engine = engine(self.rules, false);
                self.next = 0;
            }
            let k = left.min(u64::from(CLIENTS - self.next));
            let t = Instant::now();
            for _ in 0..k {
                set_peer(&mut self.syn, self.next, true);
                self.next += 1;
                self.now += 1000;
                self.engine
                    .receive(self.now, "eth0", &self.syn, &mut self.out);
                debug_assert_eq!(self.out.verdict, Verdict::Accept);
            }
            total += t.elapsed();
            left -= k;
        }
        black_box(&self.out);
        total
    }
}

/// Established TCP connections to the host's port 80 from `flows` clients
/// (one address, a source port each), served round-robin: client data in,
/// the host's ACK out, every flow advancing by one segment per round. One
/// flow is the target; many flows (more than the engine's flow
/// cache holds) make most packets take conntrack's full lookup and miss the
/// CPU's caches as a busy server's would, reported for scale.
struct Established {
    engine: Engine,
    flows: u32,
    /// Data segment and ACK templates at the current round's sequence.
    data: Vec<u8>,
    ack: Vec<u8>,
    next: u32,
    now: u64,
    out: Outcome,
    /// [`BATCH`] pairs built ahead: sequence numbers advanced and
    /// checksums fixed up outside the timed loop, so the time measured is
    /// the engine's alone.
    batch: Vec<u8>,
}

/// Timed rounds of the established-packet report.
const ROUNDS: u64 = 9;

/// Pairs built ahead per timed run (about 45 KB of packets).
const BATCH: usize = 256;

impl Established {
    /// `flows` ≤ 60,000 (the host routes only its connected /24 back).
    fn new(rules: usize, flows: u32) -> Established {
        assert!((1..=60_000).contains(&flows));
        let mut engine = engine(rules, true);
        let mut out = Outcome::new();
        let (mut syn, mut synack, mut ack) = (
            tcp(true, true, 100, None, b""),
            tcp(false, true, 500, Some(101), b""),
            tcp(true, false, 101, Some(501), b""),
        );
        for i in 0..flows {
            set_peer(&mut syn, i, true);
            set_peer(&mut synack, i, false);
            set_peer(&mut ack, i, true);
            engine.receive(0, "eth0", &syn, &mut out);
            assert_eq!((out.verdict, out.ct), (Verdict::Accept, CtState::New));
            engine.send_local(1000, &synack, &mut out);
            assert_eq!(out.ct, CtState::EstablishedReply);
            engine.receive(2000, "eth0", &ack, &mut out);
            assert_eq!(
                (out.verdict, out.ct),
                (Verdict::Accept, CtState::Established)
            );
        }
        Established {
            engine,
            flows,
            // Round 0 sends bytes 101..201 (advanced before the first pair).
            data: tcp(true, false, 1, Some(501), &[0x42; 100]),
            ack: tcp(false, false, 501, Some(101), b""),
            next: flows,
            now: 3000,
            out,
            batch: Vec::with_capacity(BATCH * (140 + 40)),
        }
    }

    /// Builds the next `n` (≤ [`BATCH`]) pairs (no allocation: the buffer
    /// keeps its capacity).
    fn fill(&mut self, n: usize) {
        self.batch.clear();
        for _ in 0..n {
            if self.next == self.flows {
                self.next = 0;
                let d = &self.data;
                let seq = u32::from_be_bytes([d[24], d[25], d[26], d[27]]).wrapping_add(100);
                set32(&mut self.data, 24, seq);
                set32(&mut self.ack, 28, seq.wrapping_add(100));
            }
            set_peer(&mut self.data, self.next, true);
            set_peer(&mut self.ack, self.next, false);
            self.next += 1;
            self.batch.extend_from_slice(&self.data);
            self.batch.extend_from_slice(&self.ack);
        }
    }

    /// Runs the built pairs through the engine; only this is timed.
    fn run_batch(&mut self) -> Duration {
        let (dl, al) = (self.data.len(), self.ack.len());
        let t = Instant::now();
        for pair in self.batch.chunks_exact(dl + al) {
            self.now += 1000;
            self.engine
                .receive(self.now, "eth0", &pair[..dl], &mut self.out);
            debug_assert_eq!(self.out.ct, CtState::Established);
            self.engine.send_local(self.now, &pair[dl..], &mut self.out);
            debug_assert_eq!(self.out.ct, CtState::EstablishedReply);
        }
        t.elapsed()
    }

    /// `pairs` pairs, in batches: the engine's time.
    fn run(&mut self, pairs: u64) -> Duration {
        let (mut total, mut done) = (Duration::ZERO, 0);
        while done < pairs {
            let n = (pairs - done).min(BATCH as u64);
            self.fill(n as usize);
            total += self.run_batch();
            done += n;
        }
        total
    }

    /// Nanoseconds per packet over `pairs` pairs.
    fn ns(&mut self, pairs: u64) -> f64 {
        self.run(pairs).as_nanos() as f64 / (2 * pairs) as f64
    }
}

fn report(full: bool) {
    println!("== engine: issue 4 targets ==");
    let mut rate10 = 0.0;
    for n in SIZES {
        let conns: u64 = match (full, n) {
            (false, _) => 200,
            (true, 100_000) => 2_000,
            (true, _) => 50_000,
        };
        let mut b = NewConns::new(n);
        b.run(conns / 10);
        let d = b.run(conns);
        assert_eq!(b.out.verdict, Verdict::Accept, "the final rule must accept");
        assert_eq!(b.out.ct, CtState::New);
        let ns = d.as_nanos() as f64 / conns as f64;
        let rate = 1e9 / ns;
        if n == 10 {
            rate10 = rate;
        }
        let target = if n == 10_000 {
            "  (target >= 80% of the 10-rule rate)"
        } else {
            ""
        };
        println!(
            "NEW connections, {n:>6} rules: {ns:>10.1} ns/conn = {:>8.0} conn/s = {:>5.1}% of 10 rules{target}",
            rate,
            100.0 * rate / rate10
        );
    }
    let mut e = Established::new(1_000, 1);
    let pairs = if full { 500_000 } else { 1_000 };
    e.run(pairs / 10);
    // Rounds, not one long run: on a shared machine a neighbour's burst
    // lands in one round, and the median of the rounds is not moved by it
    // (the best and the worst round are shown beside it). The vector is
    // allocated before the count starts: only the engine's allocations count.
    let mut rounds: Vec<f64> = Vec::with_capacity(ROUNDS as usize);
    let allocs = ALLOCS.load(Ordering::Relaxed);
    for _ in 0..ROUNDS {
        rounds.push(e.ns(pairs / ROUNDS));
    }
    let allocs = ALLOCS.load(Ordering::Relaxed) - allocs;
    assert_eq!(e.out.ct, CtState::EstablishedReply, "flow left the window");
    rounds.sort_by(f64::total_cmp);
    let ns = rounds[rounds.len() / 2];
    println!(
        "established packet through the engine (1k rules, ctstate rule first): {ns:.1} ns median of {ROUNDS} rounds (best {:.1}, worst {:.1})  (target <= 50 ns)",
        rounds[0],
        rounds[rounds.len() - 1]
    );
    println!(
        "allocations per established packet: {:.3}  (must be 0)",
        allocs as f64 / (2 * (pairs / ROUNDS) * ROUNDS) as f64
    );
    let ft = e.engine.flowtable_stats();
    println!(
        "flowtable: {} packets replayed a remembered path, {} paths remembered",
        ft.hits, ft.remembered
    );
    assert_eq!(allocs, 0, "the established path allocated");
    let flows = if full { 50_000 } else { 1_000 };
    let mut m = Established::new(1_000, flows);
    m.run(u64::from(flows));
    let ns = m.ns(u64::from(flows) * if full { 10 } else { 1 });
    assert_eq!(
        m.out.ct,
        CtState::EstablishedReply,
        "a flow left the window"
    );
    println!(
        "established packet, {flows} flows round-robin (1k rules; for scale: the flow cache holds about 16k connections): {ns:.1} ns"
    );
}

fn new_connections(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine_new_connection");
    g.throughput(Throughput::Elements(1));
    for n in SIZES {
        if n == 100_000 {
            g.sample_size(10);
        }
        let mut b = NewConns::new(n);
        g.bench_function(format!("{n}_rules"), |bch| {
            bch.iter_custom(|iters| b.run(iters))
        });
    }
    g.finish();
}

fn established(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine_established");
    g.throughput(Throughput::Elements(2));
    let mut e = Established::new(1_000, 1);
    g.bench_function("tcp_1k_rules", |b| b.iter_custom(|iters| e.run(iters)));
    g.finish();
}

criterion_group!(benches, new_connections, established);

/// `PALISADE_BENCH_ONLY=new:RULES:CONNS`, `est:PAIRS` or `many:FLOWS:PAIRS`: runs just that
/// workload (for `valgrind --tool=callgrind` or `perf`), no criterion.
fn only(spec: &str) {
    let parts: Vec<&str> = spec.split(':').collect();
    let num = |i: usize, d: u64| parts.get(i).and_then(|p| p.parse().ok()).unwrap_or(d);
    match parts.first().copied() {
        Some("new") => {
            let mut b = NewConns::new(num(1, 10_000) as usize);
            b.run(100);
            let n = num(2, 10_000);
            let d = b.run(n);
            println!("{:.1} ns/conn", d.as_nanos() as f64 / n as f64);
        }
        Some("est") => {
            let mut e = Established::new(1_000, 1);
            e.run(100);
            println!("{:.1} ns/packet", e.ns(num(1, 100_000)));
        }
        Some("many") => {
            let mut m = Established::new(1_000, num(1, 50_000) as u32);
            m.run(num(1, 50_000));
            println!("{:.1} ns/packet", m.ns(num(2, 500_000)));
        }
        _ => panic!("PALISADE_BENCH_ONLY: new:RULES:CONNS, est:PAIRS or many:FLOWS:PAIRS"),
    }
}

fn main() {
    if let Ok(spec) = std::env::var("PALISADE_BENCH_ONLY") {
        only(&spec);
        return;
    }
    let full = std::env::args().any(|a| a == "--bench");
    if std::env::var("PALISADE_BENCH_REPORT").map_or(true, |v| v != "0") {
        report(full);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
