//! Fallback fuzzer for toolchains without libFuzzer: a time-bounded mutation loop over the
//! same target bodies as `fuzz/` (`hostile_tests::targets`).
//!
//! `cargo run -p hostile-tests --release --example fuzz_loop -- <target> <seconds> [seed-dir]`
//!
//! Inputs start from the files in `seed-dir` (default `fuzz/seeds/<target>`), are mutated
//! (bit flips, byte sets, interesting values, inserts, deletes, splices, duplication), and
//! run under `catch_unwind`. A panicking input is written to
//! `fuzz/artifacts/<target>/loop-crash-<n>` and the loop exits with status 1.

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % (n.max(1) as u64)) as usize
    }
}

const INTERESTING: &[&[u8]] = &[
    b"\0",
    b"\n",
    b"\r\n",
    b"\xff\xff\xff\xff",
    b"\0\0\0\0",
    b"\x7f\xff\xff\xff",
    b"\x80\0\0\0",
    b" ",
    b"\"",
    b"zINSTREAM\0",
    b"nIDSESSION\n",
    b"SCAN/",
    b"PK\x03\x04",
    b"\x1f\x8b\x08",
    b"ustar",
    b"{",
    b"*",
    b"??",
];

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, pool: &[Vec<u8>]) {
    for _ in 0..=rng.below(4) {
        let len = input.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = rng.next() as u8;
            }
            2 => {
                let v = INTERESTING[rng.below(INTERESTING.len())];
                let i = rng.below(len + 1);
                input.splice(i..i, v.iter().copied());
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = rng.below((len - i).min(64)) + 1;
                input.drain(i..i + n);
            }
            4 if !pool.is_empty() => {
                let other = &pool[rng.below(pool.len())];
                if !other.is_empty() {
                    let a = rng.below(other.len());
                    let b = a + rng.below(other.len() - a) + 1;
                    let i = rng.below(len + 1);
                    input.splice(i..i, other[a..b].iter().copied());
                }
            }
            5 if len > 0 && len < 1 << 16 => {
                let i = rng.below(len);
                let n = rng.below((len - i).min(256)) + 1;
                let copy = input[i..i + n].to_vec();
                input.splice(i..i, copy);
            }
            6 if len >= 4 => {
                let i = rng.below(len - 3);
                let v = (rng.next() as u32).to_be_bytes();
                input[i..i + 4].copy_from_slice(&v);
            }
            _ => input.push(rng.next() as u8),
        }
    }
    input.truncate(1 << 16);
}

fn load_seeds(dir: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            if let Ok(b) = std::fs::read(&p) {
                out.push(b);
            }
        }
    }
    if out.is_empty() {
        out.push(Vec::new());
    }
    out
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(name), Some(secs)) = (
        args.first(),
        args.get(1).and_then(|s| s.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: fuzz_loop <target> <seconds> [seed-dir]");
        return ExitCode::from(2);
    };
    let Some(target) = hostile_tests::by_name(name) else {
        eprintln!("fuzz_loop: unknown target {name}");
        return ExitCode::from(2);
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let seed_dir = args
        .get(2)
        .map_or_else(|| root.join("seeds").join(name), PathBuf::from);
    let mut pool = load_seeds(&seed_dir);
    let mut rng = Rng(0x2545_F491_4F6C_DD1D ^ u64::from(std::process::id()));
    panic::set_hook(Box::new(|_| {}));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut execs: u64 = 0;
    let started = Instant::now();
    while Instant::now() < deadline {
        for _ in 0..256 {
            let mut input = pool[rng.below(pool.len())].clone();
            mutate(&mut rng, &mut input, &pool);
            execs += 1;
            if panic::catch_unwind(AssertUnwindSafe(|| (target.run)(&input))).is_err() {
                let _ = panic::take_hook();
                let dir = root.join("artifacts").join(name);
                let _ = std::fs::create_dir_all(&dir);
                let path = dir.join(format!("loop-crash-{execs}"));
                let _ = std::fs::write(&path, &input);
                eprintln!(
                    "fuzz_loop {name}: CRASH after {execs} execs, input saved to {}",
                    path.display()
                );
                // re-run with the default hook to show the panic message
                let _ = panic::catch_unwind(AssertUnwindSafe(|| (target.run)(&input)));
                return ExitCode::from(1);
            }
            // keep a bounded pool of recent inputs for splicing
            if rng.below(64) == 0 {
                if pool.len() < 4096 {
                    pool.push(input);
                } else {
                    let i = rng.below(pool.len());
                    pool[i] = input;
                }
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "fuzz_loop {name}: {execs} execs in {secs:.0} s ({:.0}/s), no crash",
        execs as f64 / secs.max(0.001)
    );
    ExitCode::SUCCESS
}
