//! Runs a set of cases against servers started per profile (real clamd, the fake, or an
//! already running server), concurrently and bounded.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use crate::case::{Case, CaseFile, Profile, Step};
use crate::env::OracleEnv;
use crate::real::RealClamd;
use crate::runner::{run_case, Observed, Target};
use crate::transcript::{compare, Mismatch, Redact, Transcript, TranscriptFile};
use crate::Error;

/// A started server; stopped when dropped.
pub trait RunningServer: Send + Sync {
    fn target(&self) -> Target;
    /// Time from start to ready (first PONG / LISTENING), if measured.
    fn startup(&self) -> Option<Duration> {
        None
    }
}

/// Starts a server for a profile.
pub trait Launcher: Sync {
    fn start(
        &self,
        env: &OracleEnv,
        profile_name: &str,
        profile: &Profile,
    ) -> Result<Box<dyn RunningServer>, Error>;
}

impl RunningServer for RealClamd {
    fn target(&self) -> Target {
        RealClamd::target(self).clone()
    }
    fn startup(&self) -> Option<Duration> {
        Some(self.startup)
    }
}

/// Launches the real clamd.
pub struct RealLauncher;

impl Launcher for RealLauncher {
    fn start(
        &self,
        env: &OracleEnv,
        profile_name: &str,
        profile: &Profile,
    ) -> Result<Box<dyn RunningServer>, Error> {
        Ok(Box::new(RealClamd::start(env, profile_name, profile)?))
    }
}

/// A server that is already running (replay `--server ADDR`): every profile maps to it.
pub struct Existing(pub Target);

struct ExistingHandle(Target);
impl RunningServer for ExistingHandle {
    fn target(&self) -> Target {
        self.0.clone()
    }
}

impl Launcher for Existing {
    fn start(&self, _: &OracleEnv, _: &str, _: &Profile) -> Result<Box<dyn RunningServer>, Error> {
        Ok(Box::new(ExistingHandle(self.0.clone())))
    }
}

/// Outcome of running a set of cases.
pub struct RunOutput {
    /// In case-file order.
    pub results: Vec<(Case, Result<Observed, Error>)>,
    /// Startup times of the servers started (profile name, duration).
    pub startups: Vec<(String, Duration)>,
}

fn estimate_ms(case: &Case) -> u64 {
    let sleeps: u64 = case
        .steps
        .iter()
        .map(|s| match s {
            Step::SleepMs(ms) => *ms,
            Step::SendSplit {
                bytes,
                size,
                gap_ms,
            } => gap_ms * (bytes.len() / size.max(&1)) as u64,
            _ => 0,
        })
        .sum();
    sleeps + if case.wait_ms > 3000 { case.wait_ms } else { 0 }
}

/// Runs `cases` (all from `file`), starting one server per profile (or per case for
/// `fresh_per_case` profiles) with `launcher`, at most `parallel` conversations at once, slow
/// cases first.
pub fn run_cases(
    file: &CaseFile,
    cases: &[Case],
    env: &OracleEnv,
    launcher: &dyn Launcher,
    parallel: usize,
) -> Result<RunOutput, Error> {
    let vars = env.vars();
    let mut shared: BTreeMap<String, Box<dyn RunningServer>> = BTreeMap::new();
    let mut startups = Vec::new();
    for case in cases {
        let profile = file
            .profiles
            .get(&case.profile)
            .ok_or_else(|| Error::Cases(format!("unknown profile {}", case.profile)))?;
        if !profile.fresh_per_case && !shared.contains_key(&case.profile) {
            let s = launcher.start(env, &case.profile, profile)?;
            if let Some(d) = s.startup() {
                startups.push((case.profile.clone(), d));
            }
            shared.insert(case.profile.clone(), s);
        }
    }
    let mut order: Vec<usize> = (0..cases.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(estimate_ms(&cases[i])));
    let queue = Mutex::new(order.into_iter().collect::<VecDeque<usize>>());
    let results: Mutex<Vec<Option<Result<Observed, Error>>>> =
        Mutex::new((0..cases.len()).map(|_| None).collect());
    let fresh_startups = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..parallel.max(1) {
            scope.spawn(|| loop {
                let Some(i) = queue.lock().ok().and_then(|mut q| q.pop_front()) else {
                    return;
                };
                let case = &cases[i];
                let res = match shared.get(&case.profile) {
                    Some(server) => run_case(&server.target(), case, &vars),
                    None => file
                        .profiles
                        .get(&case.profile)
                        .ok_or_else(|| Error::Cases(format!("unknown profile {}", case.profile)))
                        .and_then(|p| launcher.start(env, &case.profile, p))
                        .and_then(|server| {
                            if let (Some(d), Ok(mut v)) = (server.startup(), fresh_startups.lock())
                            {
                                v.push((case.profile.clone(), d));
                            }
                            run_case(&server.target(), case, &vars)
                        }),
                };
                if let Ok(mut r) = results.lock() {
                    r[i] = Some(res);
                }
            });
        }
    });
    drop(shared);
    startups.extend(fresh_startups.into_inner().unwrap_or_default());
    let results = results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .zip(cases.iter())
        .map(|(r, c)| {
            (
                c.clone(),
                r.unwrap_or_else(|| Err(Error::Cases("case not run".into()))),
            )
        })
        .collect();
    Ok(RunOutput { results, startups })
}

/// Turns run results into a transcript file (errors abort: a recording must be complete).
pub fn to_transcripts(
    out: &RunOutput,
    env: &OracleEnv,
    version: &str,
) -> Result<TranscriptFile, Error> {
    let redact = Redact::new(&env.vars(), version);
    let mut ts = Vec::new();
    for (case, res) in &out.results {
        match res {
            Ok(obs) => ts.push(Transcript::from_observed(case, obs, &redact)),
            Err(e) => return Err(Error::Clamd(format!("case {}: {e}", case.name))),
        }
    }
    Ok(TranscriptFile::new(version, ts))
}

/// Compares run results with a recording. Cases missing from the recording and cases that
/// failed to run count as mismatches.
pub fn diff(
    out: &RunOutput,
    recorded: &TranscriptFile,
    env: &OracleEnv,
    version: &str,
) -> Vec<Mismatch> {
    let redact = Redact::new(&env.vars(), version);
    let mut all = Vec::new();
    for (case, res) in &out.results {
        let Some(exp) = recorded.get(&case.name) else {
            all.push(Mismatch {
                case: case.name.clone(),
                what: "recording",
                expected: "a recorded transcript".into(),
                got: "none (run `cargo xtask oracle record`)".into(),
            });
            continue;
        };
        match res {
            Ok(obs) => all.extend(compare(
                case,
                exp,
                &Transcript::from_observed(case, obs, &redact),
            )),
            Err(e) => all.push(Mismatch {
                case: case.name.clone(),
                what: "run",
                expected: exp.reply.clone(),
                got: format!("error: {e}"),
            }),
        }
    }
    all
}
