//! Expectations on a fake daemon, in the manner of wiremock's `Mock::expect`: how many
//! commands of a name, connections, or firings of a fault rule must happen. The daemons
//! (`FakeClamd::expect`, `FakeVfindd::expect`) keep them in an [`Expectations`] list and
//! check it on drop and in `verify()` against what they observed.
//!
//! ```
//! use faults::admin::expect::{Expectation, Expectations, Observed};
//! let list = Expectations::default();
//! list.add(Expectation::command("INSTREAM").exactly(2));
//! list.add(Expectation::connections().at_least(1));
//! let seen = Observed { commands: vec!["PING".into()], connections: 1, ..Default::default() };
//! let err = list.check("fake-clamd", &seen).unwrap_err();
//! assert!(err.to_string().contains("expected exactly 2 INSTREAM commands, received 0"));
//! ```

use std::fmt;
use std::sync::Mutex;

/// How many times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    /// Exactly N.
    Exactly(u64),
    /// N or more.
    AtLeast(u64),
    /// N or fewer.
    AtMost(u64),
    /// From A to B, both included.
    Between(u64, u64),
}

impl Times {
    fn holds(self, n: u64) -> bool {
        match self {
            Times::Exactly(x) => n == x,
            Times::AtLeast(x) => n >= x,
            Times::AtMost(x) => n <= x,
            Times::Between(a, b) => a <= n && n <= b,
        }
    }
}

impl fmt::Display for Times {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Times::Exactly(x) => write!(f, "exactly {x}"),
            Times::AtLeast(x) => write!(f, "at least {x}"),
            Times::AtMost(x) => write!(f, "at most {x}"),
            Times::Between(a, b) => write!(f, "between {a} and {b}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum What {
    Command(String),
    Connections,
    Rule(String),
}

/// One expectation. The default count is "at least 1".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    what: What,
    times: Times,
}

impl Expectation {
    /// Commands of this name (case-insensitive: `INSTREAM`, `PING`, SVSP `SCAN`, ...).
    pub fn command(name: &str) -> Self {
        Self::of(What::Command(name.to_ascii_uppercase()))
    }
    /// Connections accepted (since start or the last reset).
    pub fn connections() -> Self {
        Self::of(What::Connections)
    }
    /// Firings of the fault rule named `name` (its `name`, else `rule<N>-<kind>` as in
    /// `GET /stats`), since its plan was installed.
    pub fn fault_fired(name: &str) -> Self {
        Self::of(What::Rule(name.to_string()))
    }
    fn of(what: What) -> Self {
        Expectation {
            what,
            times: Times::AtLeast(1),
        }
    }
    /// Any count.
    pub fn times(mut self, times: Times) -> Self {
        self.times = times;
        self
    }
    /// Exactly `n`.
    pub fn exactly(self, n: u64) -> Self {
        self.times(Times::Exactly(n))
    }
    /// `n` or more.
    pub fn at_least(self, n: u64) -> Self {
        self.times(Times::AtLeast(n))
    }
    /// `n` or fewer.
    pub fn at_most(self, n: u64) -> Self {
        self.times(Times::AtMost(n))
    }
    /// From `a` to `b`, both included.
    pub fn between(self, a: u64, b: u64) -> Self {
        self.times(Times::Between(a, b))
    }
    /// Never.
    pub fn never(self) -> Self {
        self.exactly(0)
    }

    /// `None` when met, else why not.
    fn failure(&self, seen: &Observed) -> Option<String> {
        let t = self.times;
        match &self.what {
            What::Command(name) => {
                let n = seen
                    .commands
                    .iter()
                    .filter(|c| c.eq_ignore_ascii_case(name))
                    .count() as u64;
                (!t.holds(n)).then(|| {
                    let mut m = format!("expected {t} {name} commands, received {n}");
                    if !seen.recording {
                        m.push_str(" (commands are not recorded: recording is off)");
                    } else {
                        m.push_str(&format!(" (commands: {})", summary(&seen.commands)));
                    }
                    m
                })
            }
            What::Connections => {
                let n = seen.connections;
                (!t.holds(n)).then(|| format!("expected {t} connections, saw {n}"))
            }
            What::Rule(name) => {
                let rules = seen
                    .rules
                    .iter()
                    .map(|(r, n)| format!("{r}={n}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let rules = if rules.is_empty() {
                    "none".to_string()
                } else {
                    rules
                };
                match seen.rules.iter().find(|(r, _)| r == name) {
                    None => Some(format!(
                        "expected fault rule {name:?} to fire {t} times, but the plan has no rule of that name (rules: {rules})"
                    )),
                    Some((_, n)) => (!t.holds(*n)).then(|| {
                        format!("expected fault rule {name:?} to fire {t} times, fired {n} (rules: {rules})")
                    }),
                }
            }
        }
    }
}

/// Command names in order, runs of one name folded (`PING, INSTREAM x3`), at most 20.
fn summary(cmds: &[String]) -> String {
    if cmds.is_empty() {
        return "none".to_string();
    }
    let mut runs: Vec<(String, usize)> = Vec::new();
    for c in cmds {
        match runs.last_mut() {
            Some((n, k)) if n == c => *k += 1,
            _ => runs.push((c.clone(), 1)),
        }
    }
    let more = runs.len().saturating_sub(20);
    let mut s = runs
        .iter()
        .take(20)
        .map(|(n, k)| {
            if *k > 1 {
                format!("{n} x{k}")
            } else {
                n.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    if more > 0 {
        s.push_str(&format!(", ... {more} more"));
    }
    s
}

/// What a daemon observed, for checking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Command names in order (upper case).
    pub commands: Vec<String>,
    /// Connections accepted.
    pub connections: u64,
    /// Each rule of the plan with its fire count.
    pub rules: Vec<(String, u64)>,
    /// Whether commands were recorded at all.
    pub recording: bool,
}

impl Observed {
    /// What a fake daemon observed: connections and rule firings from its fault set, and
    /// the command names in its record (`None`: it does not record).
    pub fn of_daemon<C: crate::record::Recorded>(
        faults: &crate::FaultSet,
        recorder: Option<&crate::record::Recorder<C>>,
    ) -> Observed {
        let stats = faults.stats();
        Observed {
            commands: recorder.map_or_else(Vec::new, |r| r.command_names()),
            connections: stats.connections,
            rules: stats.rules.into_iter().map(|r| (r.name, r.fired)).collect(),
            recording: recorder.is_some(),
        }
    }
}

impl Default for Observed {
    fn default() -> Self {
        Observed {
            commands: Vec::new(),
            connections: 0,
            rules: Vec::new(),
            recording: true,
        }
    }
}

/// Expectations that were not met, with one readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyError {
    /// One line per unmet expectation.
    pub failures: Vec<String>,
    who: String,
    total: usize,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} of {} expectations not met:",
            self.who,
            self.failures.len(),
            self.total
        )?;
        for m in &self.failures {
            write!(f, "\n  - {m}")?;
        }
        Ok(())
    }
}

impl std::error::Error for VerifyError {}

/// A daemon's list of expectations (thread-safe).
#[derive(Debug, Default)]
pub struct Expectations {
    list: Mutex<Vec<Expectation>>,
}

impl Expectations {
    /// Adds one.
    pub fn add(&self, e: Expectation) {
        self.list.lock().unwrap_or_else(|p| p.into_inner()).push(e);
    }

    /// True when none was added (nothing to observe).
    pub fn is_empty(&self) -> bool {
        self.list
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// Checks every expectation against `seen`; `who` starts the message.
    pub fn check(&self, who: &str, seen: &Observed) -> Result<(), VerifyError> {
        let list = self.list.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let failures: Vec<String> = list.iter().filter_map(|e| e.failure(seen)).collect();
        if failures.is_empty() {
            Ok(())
        } else {
            Err(VerifyError {
                failures,
                who: who.to_string(),
                total: list.len(),
            })
        }
    }

    /// For `Drop` of a daemon handle: panics with the message when an expectation is not
    /// met, unless the thread is already panicking (a second panic would abort and hide
    /// the first).
    pub fn verify_on_drop(&self, who: &str, seen: impl FnOnce() -> Observed) {
        if std::thread::panicking() || self.is_empty() {
            return;
        }
        if let Err(e) = self.check(who, &seen()) {
            panic!("{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen() -> Observed {
        Observed {
            commands: vec!["PING".into(), "INSTREAM".into(), "INSTREAM".into()],
            connections: 2,
            rules: vec![("rule1-reset".into(), 1)],
            recording: true,
        }
    }

    /// Expectations: counts compare as stated; names are case-insensitive.
    #[test]
    fn counts_hold_or_fail_with_a_readable_line() {
        let l = Expectations::default();
        l.add(Expectation::command("instream").exactly(2));
        l.add(Expectation::connections().between(1, 2));
        l.add(Expectation::fault_fired("rule1-reset").exactly(1));
        l.add(Expectation::command("VERSION").never());
        assert_eq!(l.check("x", &seen()), Ok(()));
        l.add(Expectation::command("PING").at_least(2));
        l.add(Expectation::fault_fired("nope"));
        let e = l.check("fake-clamd", &seen()).unwrap_err();
        let m = e.to_string();
        assert!(
            m.starts_with("fake-clamd: 2 of 6 expectations not met:"),
            "{m}"
        );
        assert!(
            m.contains(
                "expected at least 2 PING commands, received 1 (commands: PING, INSTREAM x2)"
            ),
            "{m}"
        );
        assert!(
            m.contains("no rule of that name (rules: rule1-reset=1)"),
            "{m}"
        );
    }
}
