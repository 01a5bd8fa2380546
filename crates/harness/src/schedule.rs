//! When each case of a run starts. Most of a suite's wall time is spent waiting (on a
//! client's own time-out, on a fault's sleeps), not computing, so:
//!
//! * cases start longest first, by a duration known before the run: the one recorded for the
//!   same (client, case) by an earlier run in this checkout, else what the case's faults make
//!   it wait at least (a `never-reply` waits for the client's time-out, bounded by the
//!   profile's `timeout_secs`, as does a raw `reply` without a line or record end;
//!   `delay`, `split-*` and `slow-read` sleep their `ms`);
//! * a case expected to wait at least [`WAITING_SECS`] runs in a lane of its own, beyond
//!   `--jobs` (which bounds the cases that use the CPU), up to [`MAX_WAITING`] at once.
//!
//! A case's reported time is still its own: it is measured from the moment it starts, never
//! from when it was queued.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use faults::Fault;

use crate::case::Case;
use crate::judge::Status;
use crate::profile::{ClientProfile, Protocol};
use crate::runner::{CaseResult, SVSP_GREETING_HOLD};

/// A case expected to take at least this long (seconds) is a waiting case.
pub const WAITING_SECS: f64 = 0.25;
/// Most waiting cases running at once (each holds a daemon, a proxy and a client process).
pub const MAX_WAITING: usize = 32;
/// Most entries kept in the durations file.
const MAX_ENTRIES: usize = 10_000;

/// Which semaphore a case takes before it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Bounded by `--jobs`.
    Cpu,
    /// Mostly waiting: bounded by [`MAX_WAITING`].
    Waiting,
}

/// Case durations recorded by earlier runs, keyed by `client/case`.
#[derive(Debug, Default)]
pub struct Durations {
    path: Option<PathBuf>,
    recorded: BTreeMap<String, f64>,
}

fn key(client: &str, case: &str) -> String {
    format!("{client}/{case}")
}

impl Durations {
    /// Durations recorded at `path` (none: nothing recorded, nothing saved). A missing,
    /// unreadable or malformed file is an empty record: it only orders the run.
    pub fn load(path: Option<PathBuf>) -> Self {
        let recorded = path
            .as_deref()
            .filter(|p| p.is_file())
            .and_then(|p| crate::profile::read_config_text(p, "durations file").ok())
            .and_then(|text| serde_json::from_str::<BTreeMap<String, f64>>(&text).ok())
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, s)| s.is_finite() && *s >= 0.0)
            .collect();
        Durations { path, recorded }
    }

    /// The file of a run rooted at `root` (a checkout: its cargo target directory).
    pub fn default_path(root: &Path) -> PathBuf {
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"))
            .join("avc-conformance")
            .join("durations.json")
    }

    /// Seconds `case` is expected to take with `profile`, known before it runs.
    pub fn expected(&self, profile: &ClientProfile, case: &Case) -> f64 {
        self.recorded
            .get(&key(&profile.name, &case.id))
            .copied()
            .unwrap_or_else(|| known_wait(profile, case))
    }

    /// Records the durations of the cases that ran (best effort: the file only orders later
    /// runs). Written to a temporary file and renamed, so a concurrent run never reads half.
    pub fn save(&mut self, results: &[CaseResult]) {
        let Some(path) = self.path.clone() else {
            return;
        };
        for r in results {
            if !matches!(r.status, Status::NotAvailable | Status::HarnessError) {
                self.recorded.insert(key(&r.client, &r.case_id), r.seconds);
            }
        }
        while self.recorded.len() > MAX_ENTRIES {
            self.recorded.pop_first();
        }
        let Ok(text) = serde_json::to_string_pretty(&self.recorded) else {
            return;
        };
        let tmp = path.with_extension(format!("json.{}", std::process::id()));
        let written = crate::out_file::write(&tmp, text + "\n").and_then(|()| {
            std::fs::rename(&tmp, &path).map_err(|e| crate::HarnessError::io("renaming", e))
        });
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            tracing::debug!(path = %path.display(), error = %e, "case durations not saved");
        }
    }
}

/// What a case waits at least, from its faults and protocol (seconds).
pub fn known_wait(profile: &ClientProfile, case: &Case) -> f64 {
    let hold = match case.protocol {
        Protocol::Svsp => SVSP_GREETING_HOLD.as_secs_f64(),
        Protocol::Clamd => 0.0,
    };
    let faults: f64 = case
        .faults
        .iter()
        .map(|r| match &r.fault {
            // Until the client's own time-out fires; the profile's bounds it.
            Fault::NeverReply | Fault::StopReading { .. } => profile.timeout.as_secs_f64(),
            // A raw reply without a line or record end leaves the client waiting for it.
            Fault::Reply { text, raw: true }
                if !faults::unescape(text)
                    .unwrap_or_default()
                    .iter()
                    .any(|b| matches!(b, b'\n' | 0)) =>
            {
                profile.timeout.as_secs_f64()
            }
            Fault::Delay { ms, .. }
            | Fault::SlowRead { ms, .. }
            | Fault::SplitReply { ms, .. }
            | Fault::SplitEvery { ms, .. } => *ms as f64 / 1e3,
            _ => 0.0,
        })
        .sum();
    hold + faults
}

/// The order in which `pairs` start (indices, longest expected first) and each one's lane.
pub fn plan(pairs: &[(ClientProfile, Case)], durations: &Durations) -> Vec<(usize, Lane)> {
    let mut v: Vec<(usize, f64)> = pairs
        .iter()
        .enumerate()
        .map(|(i, (p, c))| (i, durations.expected(p, c)))
        .collect();
    // Stable: equal expectations keep the order of the case files.
    v.sort_by(|a, b| b.1.total_cmp(&a.1));
    v.into_iter()
        .map(|(i, secs)| {
            let lane = if secs >= WAITING_SECS {
                Lane::Waiting
            } else {
                Lane::Cpu
            };
            (i, lane)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// The repository's client cases, each paired with a one-off client of `timeout` seconds.
    fn pairs(timeout: u64) -> Vec<(ClientProfile, Case)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/cases/client");
        let cases = crate::case::load_dir(&dir).expect("cases load");
        cases
            .into_iter()
            .map(|c| {
                let p = ClientProfile::one_off(
                    "client {file}",
                    c.protocol,
                    Duration::from_secs(timeout),
                )
                .expect("profile");
                (p, c)
            })
            .collect()
    }

    fn find<'a>(pairs: &'a [(ClientProfile, Case)], id: &str) -> &'a (ClientProfile, Case) {
        pairs.iter().find(|(_, c)| c.id == id).expect("case exists")
    }

    /// A case's known wait comes from its faults: a never-answering daemon or a raw reply
    /// without an end waits for the client's time-out, sleeps add their `ms`, SVSP adds the
    /// greeting hold; a plain clamd case waits for nothing.
    #[test]
    fn known_waits_come_from_the_faults() {
        let v = pairs(7);
        let wait = |id: &str| {
            let (p, c) = find(&v, id);
            known_wait(p, c)
        };
        assert_eq!(wait("clamd.clean"), 0.0);
        assert_eq!(wait("clamd.fault-never-reply"), 7.0);
        assert_eq!(
            wait("clamd.garbage-reply"),
            7.0,
            "raw reply without a terminator"
        );
        assert_eq!(
            wait("clamd.fault-garbage-text"),
            0.0,
            "framed reply, then FIN"
        );
        assert_eq!(wait("clamd.fault-delay-reply"), 0.5);
        let hold = SVSP_GREETING_HOLD.as_secs_f64();
        assert_eq!(wait("svsp.clean"), hold);
        assert_eq!(wait("svsp.fault-never-reply"), 7.0 + hold);
    }

    /// The plan starts the longest cases first, puts those expected to wait in the waiting
    /// lane, keeps the case-file order among equals, and a recorded duration wins over the
    /// estimate.
    #[test]
    fn plan_is_longest_first_with_waiting_cases_in_their_lane() {
        let v = pairs(7);
        let plan = plan(&v, &Durations::default());
        assert_eq!(plan.len(), v.len());
        let expected: Vec<f64> = plan
            .iter()
            .map(|(i, _)| known_wait(&v[*i].0, &v[*i].1))
            .collect();
        assert!(expected.windows(2).all(|w| w[0] >= w[1]), "{expected:?}");
        for ((i, lane), secs) in plan.iter().zip(&expected) {
            let want = if *secs >= WAITING_SECS {
                Lane::Waiting
            } else {
                Lane::Cpu
            };
            assert_eq!(*lane, want, "{}", v[*i].1.id);
        }
        let zero: Vec<usize> = plan
            .iter()
            .zip(&expected)
            .filter(|(_, s)| **s == 0.0)
            .map(|((i, _), _)| *i)
            .collect();
        assert!(
            zero.windows(2).all(|w| w[0] < w[1]),
            "file order among equals"
        );

        let mut d = Durations::default();
        d.recorded.insert(key("client-cmd", "clamd.clean"), 30.0);
        let plan = super::plan(&v, &d);
        let (first, lane) = plan[0];
        assert_eq!(v[first].1.id, "clamd.clean");
        assert_eq!(lane, Lane::Waiting);
    }

    /// Durations survive a save and a load; results that did not run are not recorded; a
    /// malformed file orders nothing (and breaks nothing).
    #[test]
    fn durations_round_trip_and_a_bad_file_is_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join("durations.json");
        let v = pairs(7);
        let (p, c) = find(&v, "clamd.clean");
        let mut ran = CaseResult::not_available(c, p, "x");
        ran.status = Status::Pass;
        ran.seconds = 1.25;
        let (p2, c2) = find(&v, "clamd.silent");
        let missing = CaseResult::not_available(c2, p2, "not installed");
        let mut d = Durations::load(Some(path.clone()));
        d.save(&[ran, missing]);
        let back = Durations::load(Some(path.clone()));
        assert_eq!(back.expected(p, c), 1.25);
        assert_eq!(back.expected(p2, c2), known_wait(p2, c2));
        std::fs::write(&path, "{ not json").expect("write");
        let bad = Durations::load(Some(path));
        assert_eq!(bad.expected(p, c), known_wait(p, c));
    }
}
