//! Engine throughput on clean pseudo-random data, with the built-in DB and with a DB that
//! needs the lazy DFA; reports MB/s and peak RSS. Run through `cargo xtask bench engine`.

use std::sync::Arc;
use std::time::Instant;

use scan_engine::{
    BuiltinOptions, DbFileKind, LoadOptions, ScanOptions, SignatureDb, StreamScanner,
};

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn run(label: &str, db: Arc<SignatureDb>, sha1: bool, total: u64, block: &[u8]) -> f64 {
    let start = Instant::now();
    let mut s = StreamScanner::with_options(
        db,
        ScanOptions {
            sha1,
            ..ScanOptions::default()
        },
    );
    let mut left = total;
    while left > 0 {
        let n = (block.len() as u64).min(left) as usize;
        s.update(&block[..n]);
        left -= n as u64;
    }
    let r = s.finish();
    let secs = start.elapsed().as_secs_f64();
    assert!(r.is_clean(), "the benchmark data must be clean");
    let mbps = total as f64 / secs / 1e6;
    println!(
        "{{\"case\":\"{label}\",\"bytes\":{total},\"seconds\":{secs:.3},\"mb_per_s\":{mbps:.1}}}"
    );
    mbps
}

fn main() {
    let total: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1 << 30);
    // 1 MiB of pseudo-random bytes (xorshift), fed repeatedly in 64 KiB chunks.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let data: Vec<u8> = (0..(1 << 20))
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let builtin = Arc::new(SignatureDb::builtin(&BuiltinOptions::default()));
    let mut b = SignatureDb::builder();
    b.add_text(
        DbFileKind::Ndb,
        "Wild:0:*:4d5a90000300000004000000ffff*50450000??4c01{4-8}0b01\nAlt:0:*:7f454c46(01|02)0101??{8}0200\n",
        "bench.ndb",
        &LoadOptions::default(),
    )
    .expect("valid signatures");
    let dfa = Arc::new(b.build().expect("valid signatures"));
    let block = &data[..64 * 1024];
    run(
        "builtin (hash + literal), no sha1",
        Arc::clone(&builtin),
        false,
        total,
        block,
    );
    run(
        "builtin (hash + literal), sha1",
        builtin,
        true,
        total,
        block,
    );
    run(
        "ndb wildcards (lazy DFA), no sha1",
        dfa,
        false,
        total,
        block,
    );
    println!(
        "{{\"peak_rss_kib\":{}}}",
        peak_rss_kib().map_or("null".into(), |k| k.to_string())
    );
}
