//! What each start-up step costs (issue 17, "the bench row shows the breakdown"). With the
//! environment variable [`ENV`] set, the binary stamps each step with `CLOCK_MONOTONIC`, the
//! clock the benchmark reads just before it spawns the binary, and prints one line
//! `STARTUP-TRACE main=NS args=NS ...` on stdout before its `LISTENING` lines. Without the
//! variable nothing is stamped or printed.

use nix::time::{clock_gettime, ClockId};

/// Set (to anything) to make `fake-clamd` print its start-up trace.
pub const ENV: &str = "FAKE_CLAMD_STARTUP_TRACE";
/// The line's first word.
pub const PREFIX: &str = "STARTUP-TRACE ";

/// Nanoseconds on `CLOCK_MONOTONIC` (shared by every process on the machine).
pub fn monotonic_ns() -> u64 {
    clock_gettime(ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
        .unwrap_or(0)
}

/// Step stamps, in the order taken; `None` when tracing is off.
#[derive(Debug, Default)]
pub struct StartupTrace(Option<Vec<(&'static str, u64)>>);

impl StartupTrace {
    /// On when [`ENV`] is set; takes the first stamp, `main`.
    pub fn from_env() -> Self {
        let mut trace = Self(std::env::var_os(ENV).map(|_| Vec::new()));
        trace.mark("main");
        trace
    }

    /// Stamp the end of `step`.
    pub fn mark(&mut self, step: &'static str) {
        if let Some(marks) = &mut self.0 {
            marks.push((step, monotonic_ns()));
        }
    }

    /// The line to print, when tracing is on.
    pub fn line(&self) -> Option<String> {
        let marks = self.0.as_ref()?;
        let words: Vec<String> = marks.iter().map(|(s, ns)| format!("{s}={ns}")).collect();
        Some(format!("{PREFIX}{}", words.join(" ")))
    }
}

/// The stamps of a `STARTUP-TRACE` line, in order; `None` for any other line.
pub fn parse_line(line: &str) -> Option<Vec<(String, u64)>> {
    let rest = line.strip_prefix(PREFIX)?;
    rest.split_whitespace()
        .map(|w| {
            let (step, ns) = w.split_once('=')?;
            Some((step.to_string(), ns.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_round_trips_and_is_off_by_default() {
        let mut t = StartupTrace(Some(Vec::new()));
        t.mark("main");
        t.mark("args");
        let line = t.line().expect("tracing on");
        let steps = parse_line(&line).expect("parses");
        assert_eq!(
            steps.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(),
            ["main", "args"]
        );
        assert!(steps[0].1 <= steps[1].1, "stamps are monotonic: {steps:?}");
        assert_eq!(StartupTrace::default().line(), None);
        assert_eq!(parse_line("LISTENING tcp 127.0.0.1:1"), None);
        assert_eq!(parse_line("STARTUP-TRACE main=x"), None);
    }
}
