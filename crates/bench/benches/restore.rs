//! Loading a 100k-rule ruleset: `palisade_rules::parse_restore` of the
//! iptables-restore text plus `Engine::new` (compile). Target (issue 4):
//! ≤ 0.2 s; the kernel takes 1.9–5.4 s.

mod common;

use std::hint::black_box;
use std::time::Instant;

use common::{host, parse, ruleset_text};
use criterion::{criterion_group, Criterion};
use palisade_engine::{Engine, EngineConfig};
use palisade_model::{Family, Ruleset};

const RULES: usize = 100_000;

fn load(text: &str) -> Engine {
    let v4 = parse(text);
    let v6 = Ruleset::new(Family::V6);
    match Engine::new(v4, v6, host(), EngineConfig::default()) {
        Ok(e) => e,
        Err(e) => panic!("compile: {e:?}"),
    }
}

fn report(n: usize) {
    let text = ruleset_text(n, true);
    let t = Instant::now();
    let rs = parse(&text);
    let parsed = t.elapsed();
    let t2 = Instant::now();
    let e = Engine::new(
        rs,
        Ruleset::new(Family::V6),
        host(),
        EngineConfig::default(),
    );
    let compiled = t2.elapsed();
    assert!(e.is_ok());
    println!("== restore: issue 4 target ==");
    println!(
        "{n} rules ({} KiB): parse {:.3} s + compile {:.3} s = {:.3} s  (target <= 0.2 s; kernel 1.9-5.4 s)",
        text.len() / 1024,
        parsed.as_secs_f64(),
        compiled.as_secs_f64(),
        (parsed + compiled).as_secs_f64()
    );
}

fn restore(c: &mut Criterion) {
    let text = ruleset_text(RULES, true);
    let mut g = c.benchmark_group("restore");
    g.sample_size(10);
    g.bench_function("parse_100k", |b| b.iter(|| black_box(parse(&text))));
    g.bench_function("parse_compile_100k", |b| b.iter(|| black_box(load(&text))));
    g.finish();
}

criterion_group!(benches, restore);

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    if std::env::var("PALISADE_BENCH_REPORT").map_or(true, |v| v != "0") {
        report(if full { RULES } else { 1_000 });
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
