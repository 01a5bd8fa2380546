//! The default conformance suite's wall time (`cargo xtask conformance`, warm), next to its
//! longest case (the floor of any schedule) and the sum of its cases' own times, both from
//! the JSON report of the same run.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// One timed run of the suite.
#[derive(Debug, Clone)]
pub struct SuiteRun {
    /// Wall time of the whole command, cargo's check included.
    pub wall: Duration,
    /// Whether it exited 0 (every case passed).
    pub passed: bool,
    /// The report's own wall time (from the harness's start to its report).
    pub report_seconds: f64,
    /// Sum of every row's own time (as run, side by side).
    pub serial_seconds: f64,
    /// The longest row.
    pub longest: (String, f64),
    /// Every row's `suite id status`, sorted: two runs with the same outcomes compare equal.
    pub outcomes: Vec<String>,
    /// Rows that did not pass: `suite id status: detail`.
    pub not_passed: Vec<String>,
}

/// Runs `cargo xtask conformance` in `root` once, writing its JSON report in `work` (kept,
/// as `conformance-<n>.json`, for a look at a run that did not pass).
pub fn run_once(root: &Path, work: &Path, n: usize) -> anyhow::Result<SuiteRun> {
    let json = work.join(format!("conformance-{n}.json"));
    let _ = std::fs::remove_file(&json);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let started = Instant::now();
    let status = Command::new(cargo)
        .current_dir(root)
        .args(["xtask", "conformance", "--report-json"])
        .arg(&json)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("starting cargo xtask conformance")?;
    let wall = started.elapsed();
    let text = std::fs::read_to_string(&json)
        .with_context(|| format!("cargo xtask conformance wrote no report ({status})"))?;
    let v: serde_json::Value = serde_json::from_str(&text).context("conformance JSON report")?;
    let report = &v["report"];
    let rows = report["rows"]
        .as_array()
        .context("conformance report without rows")?;
    let mut outcomes = Vec::with_capacity(rows.len());
    let mut serial_seconds = 0.0;
    let mut longest = (String::new(), 0.0);
    let mut not_passed = Vec::new();
    for r in rows {
        let secs = r["seconds"].as_f64().unwrap_or(0.0);
        let name = format!(
            "{} {}",
            r["suite"].as_str().unwrap_or(""),
            r["id"].as_str().unwrap_or("")
        );
        serial_seconds += secs;
        if secs > longest.1 {
            longest = (name.clone(), secs);
        }
        if r["status"] != "pass" {
            not_passed.push(format!(
                "{name} {}: {}",
                r["status"],
                r["detail"].as_str().unwrap_or("")
            ));
        }
        outcomes.push(format!("{name} {}", r["status"]));
    }
    outcomes.sort();
    Ok(SuiteRun {
        wall,
        passed: status.success(),
        report_seconds: report["seconds"].as_f64().unwrap_or(0.0),
        serial_seconds,
        longest,
        outcomes,
        not_passed,
    })
}
