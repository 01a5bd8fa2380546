//! The result table: one row per figure, with its reference, ratio and target.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub metric: String,
    pub unit: String,
    pub fake: Option<f64>,
    pub reference_name: String,
    pub reference: Option<f64>,
    /// How the ratio reads, e.g. "fake/raw" or "real/fake".
    pub ratio_name: String,
    pub ratio: Option<f64>,
    pub target: String,
    pub met: Option<bool>,
    pub note: String,
}

impl Row {
    pub fn new(metric: &str, unit: &str) -> Self {
        Self {
            metric: metric.into(),
            unit: unit.into(),
            fake: None,
            reference_name: String::new(),
            reference: None,
            ratio_name: String::new(),
            ratio: None,
            target: String::new(),
            met: None,
            note: String::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub machine: String,
    pub mode: String,
    pub rows: Vec<Row>,
}

fn num(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(x) if x >= 1000.0 => format!("{x:.0}"),
        Some(x) if x >= 10.0 => format!("{x:.1}"),
        Some(x) => format!("{x:.3}"),
    }
}

impl Report {
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "# Benchmarks\n\nMachine: {}  \nMode: {}\n\n| metric | unit | fake | reference | ratio | target | met | note |\n|---|---|---:|---:|---:|---|---|---|\n",
            self.machine, self.mode
        );
        for r in &self.rows {
            let reference = match r.reference {
                Some(_) => format!("{} ({})", num(r.reference), r.reference_name),
                None if !r.reference_name.is_empty() => format!("- ({})", r.reference_name),
                None => "-".into(),
            };
            let ratio = match r.ratio {
                Some(_) => format!("{} ({})", num(r.ratio), r.ratio_name),
                None => "-".into(),
            };
            let met = match r.met {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "-",
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
                r.metric,
                r.unit,
                num(r.fake),
                reference,
                ratio,
                r.target,
                met,
                r.note
            ));
        }
        out
    }
}

/// `uname`-like description of this machine: cores and CPU model.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores, {model}")
}
