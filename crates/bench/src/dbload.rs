//! The `dbload` step: how fast the engine loads a generated signature database (`.hdb` +
//! `.ndb`, the way fake-clamd loads its `DatabaseDirectory`), against the floor of reading
//! the same files and splitting them into lines (issue 12 item 6: loading is linear).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use scan_engine::{LoadOptions, SignatureDb};

/// What one load measured.
pub struct DbLoad {
    pub bytes: u64,
    pub signatures: usize,
    pub load: Duration,
    /// Reading the files and counting their lines.
    pub floor: Duration,
}

/// Write about `bytes` of signatures into `dir`: half MD5 hashes (`main.hdb`), half body
/// signatures (`main.ndb`: literals, and every tenth one with a `??` and a `{1-4}` gap so
/// the lazy DFA is built too; together well under the engine's automaton budget).
pub fn generate(dir: &Path, bytes: u64) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let half = bytes / 2;
    let mut hdb = std::io::BufWriter::new(std::fs::File::create(dir.join("main.hdb"))?);
    let mut ndb = std::io::BufWriter::new(std::fs::File::create(dir.join("main.ndb"))?);
    let (mut written, mut i, mut line) = (0u64, 0u64, String::new());
    while written < half {
        line.clear();
        let digest = rng.hex(16);
        writeln!(line, "{digest}:{}:Bench.Hash-{i}", 1000 + i % 50_000)?;
        hdb.write_all(line.as_bytes())?;
        written += line.len() as u64;
        i += 1;
    }
    (written, i) = (0, 0);
    while written < bytes - half {
        line.clear();
        let body = rng.hex(16);
        if i % 10 == 0 {
            writeln!(
                line,
                "Bench.Wild-{i}:0:*:{}??{}{{1-4}}{}",
                &body[..8],
                &body[8..16],
                &body[16..]
            )?;
        } else {
            writeln!(line, "Bench.Body-{i}:0:*:{body}")?;
        }
        ndb.write_all(line.as_bytes())?;
        written += line.len() as u64;
        i += 1;
    }
    hdb.flush()?;
    ndb.flush()?;
    Ok(())
}

/// Best of `runs` loads of `dir`, and best of `runs` read-and-split passes over its files.
pub fn measure(dir: &Path, runs: usize) -> anyhow::Result<DbLoad> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.sort();
    let mut bytes = 0u64;
    for f in &files {
        bytes += std::fs::metadata(f)?.len();
    }
    let (mut load, mut floor, mut signatures) = (Duration::MAX, Duration::MAX, 0);
    for _ in 0..runs.max(1) {
        let t0 = Instant::now();
        let mut lines = 0usize;
        for f in &files {
            let data = std::fs::read(f)?;
            lines += data
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count();
        }
        floor = floor.min(t0.elapsed());
        anyhow::ensure!(lines > 0, "the generated database is empty");

        let t0 = Instant::now();
        let db = SignatureDb::load_dir(dir, &LoadOptions::default())
            .context("loading the generated database")?;
        load = load.min(t0.elapsed());
        anyhow::ensure!(
            db.len() == lines,
            "loaded {} of {lines} signatures",
            db.len()
        );
        signatures = db.len();
    }
    Ok(DbLoad {
        bytes,
        signatures,
        load,
        floor,
    })
}

struct XorShift(u64);

impl XorShift {
    fn hex(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(2 * n);
        for _ in 0..n {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            let _ = write!(s, "{:02x}", self.0 as u8);
        }
        s
    }
}
