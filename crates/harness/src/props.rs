//! `--proptest N`: property tests of clients on the embedded fake daemons. Each run pairs a
//! generated input with a generated daemon behaviour, said as a fault plan in the `faults`
//! vocabulary (the language of `clamd-fault-plans.toml`), and is judged by the same rules as
//! the case suites, FAIL-OPEN included (CLAMD-CLIENT-3/4/5, SVSP-CLIENT-10).
//!
//! The generator leans on the edges where clients break: sizes 0, 1, 4095, 4096, 4097,
//! 8192, StreamMaxLength and StreamMaxLength + 1 come up in most runs, and most daemon
//! behaviours make the scan fail (reset at a byte, close, truncated or garbage reply, error
//! reply, size-limit reply, silence, refusal). A failure is shrunk by proptest (towards the
//! first size and the plainest behaviour) and reported with the seed that replays the run.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

use crate::case::Case;
use crate::daemon::DaemonSpec;
use crate::error::Result;
use crate::input::InputSpec;
use crate::judge::{Failure, Status};
use crate::profile::{ClientProfile, Protocol, Verdict};
use crate::report::Row;
use crate::runner::{availability, run_case, RunContext};
use faults::{DelayAt, Fault, LimitMode, Rule, Trigger};

/// StreamMaxLength of the generated runs' daemons: small, so that the limit and one byte
/// over it stay quick to send (CLAMD-CLIENT-4).
pub const STREAM_MAX_LENGTH: u64 = 64 * 1024;

/// The sizes that break clients: empty, one byte, around clamd's usual 4 KiB chunk, two
/// chunks, and both sides of the stream limit. The first is what shrinking aims for.
pub const EDGE_SIZES: [u64; 8] = [
    0,
    1,
    4095,
    4096,
    4097,
    8192,
    STREAM_MAX_LENGTH,
    STREAM_MAX_LENGTH + 1,
];

/// How the daemon behaves in one run.
#[derive(Debug, Clone, PartialEq)]
pub enum Behaviour {
    /// Answers; replies written `split` bytes at a time (`None`: whole), after `delay_ms`.
    Answers { split: Option<u8>, delay_ms: u64 },
    /// RST once `at_byte` bytes of the connection have arrived (0: at the scan command).
    Reset { at_byte: u64 },
    /// FIN without a reply once `at_byte` bytes of the connection have arrived (0: at the
    /// scan command).
    Close { at_byte: u64 },
    /// The first `keep` bytes of the verdict, no terminator, then FIN.
    Truncated { keep: u8 },
    /// `len` random printable bytes instead of the verdict, then FIN.
    Garbage { len: u8 },
    /// An error reply instead of the verdict.
    ErrorReply(ErrorKind),
    /// The size-limit reply (`INSTREAM size limit exceeded. ERROR`, SVSP `EINVAL`).
    SizeLimit,
    /// Reads the request and never answers: the client's own timeout must fire.
    Silence,
    /// RST at accept, before any byte.
    Refuse,
}

/// The error replies a daemon may give instead of a verdict.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ErrorKind {
    Error,
    Eagain,
    Efault,
    Eacces,
    /// clamd's `COMMAND READ TIMED OUT` (SVSP: a silent close).
    ReadTimeout,
}

/// One generated run.
#[derive(Debug, Clone)]
pub struct Generated {
    pub input: InputSpec,
    pub behaviour: Behaviour,
}

impl Generated {
    /// The bytes the client streams (None: not known up front, a generated zip).
    fn data_len(&self) -> Option<u64> {
        match self.input {
            InputSpec::Clean { size, .. } => Some(size),
            InputSpec::Empty => Some(0),
            InputSpec::Eicar => Some(68),
            _ => None,
        }
    }

    /// What the client must report: the input's verdict when the daemon answers and the
    /// input fits the stream limit, otherwise error (fail closed).
    fn expect(&self) -> Verdict {
        if !matches!(self.behaviour, Behaviour::Answers { .. }) {
            return Verdict::Error;
        }
        if self.data_len().is_some_and(|n| n > STREAM_MAX_LENGTH) {
            return Verdict::Error;
        }
        match self.input {
            InputSpec::Clean { .. } | InputSpec::Empty | InputSpec::ZipClean => Verdict::Clean,
            _ => Verdict::Infected,
        }
    }

    /// The rule a failure of this run is cited under first.
    fn rule(&self, protocol: Protocol) -> &'static str {
        let over = self.data_len().is_some_and(|n| n > STREAM_MAX_LENGTH);
        match (protocol, &self.behaviour) {
            (Protocol::Clamd, Behaviour::SizeLimit) => "CLAMD-CLIENT-4",
            (Protocol::Clamd, Behaviour::Answers { .. }) if over => "CLAMD-CLIENT-4",
            (Protocol::Clamd, Behaviour::Answers { .. }) => "CLAMD-CLIENT-2",
            (Protocol::Clamd, Behaviour::ErrorReply(_)) => "CLAMD-CLIENT-5",
            (Protocol::Clamd, Behaviour::Silence) => "CLAMD-CLIENT-10",
            (Protocol::Clamd, _) => "CLAMD-CLIENT-3",
            (Protocol::Svsp, Behaviour::Answers { .. }) => "SVSP-CLIENT-12",
            (Protocol::Svsp, _) => "SVSP-CLIENT-10",
        }
    }

    /// The behaviour as fault rules (the `faults` of a case).
    fn fault_rules(&self, protocol: Protocol) -> Vec<Rule> {
        // Reply faults fire at the scan command: the fake reads the whole request, then
        // applies them to its reply (as clamd-fault-plans.toml and svsp-fault-plans.toml).
        let at_scan = Trigger::command(match protocol {
            Protocol::Clamd => "INSTREAM",
            Protocol::Svsp => "SCAN",
        });
        let at = |fault: Fault| vec![Rule::new(at_scan.clone(), fault)];
        match &self.behaviour {
            Behaviour::Answers { split, delay_ms } => {
                let mut rules = Vec::new();
                if let Some(n) = split {
                    let split = Fault::SplitEvery {
                        bytes: usize::from(*n),
                        ms: 0,
                    };
                    rules.push(Rule::new(Trigger::always(), split));
                }
                if *delay_ms > 0 {
                    rules.extend(at(Fault::Delay {
                        ms: *delay_ms,
                        at: DelayAt::Reply,
                    }));
                }
                rules
            }
            Behaviour::Reset { at_byte } if protocol == Protocol::Clamd && *at_byte > 0 => {
                vec![Rule::new(Trigger::bytes(*at_byte), Fault::Reset)]
            }
            Behaviour::Reset { .. } => at(Fault::Reset),
            Behaviour::Close { at_byte } if protocol == Protocol::Clamd && *at_byte > 0 => {
                let drop = Fault::Drop { after_bytes: None };
                vec![Rule::new(Trigger::bytes(*at_byte), drop)]
            }
            Behaviour::Close { .. } => at(Fault::Drop { after_bytes: None }),
            Behaviour::Truncated { keep } => {
                // SVSP's `DONE 0` is 6 bytes: keep fewer, so the line is really cut
                let keep = match protocol {
                    Protocol::Svsp => (*keep).min(3),
                    Protocol::Clamd => *keep,
                };
                at(Fault::Truncate {
                    keep: Some(usize::from(keep)),
                    through: None,
                })
            }
            Behaviour::Garbage { len } => at(Fault::Garbage {
                text: None,
                len: usize::from(*len),
            }),
            Behaviour::ErrorReply(kind) => at(match kind {
                ErrorKind::Error => Fault::Error {
                    text: "Can't allocate memory".into(),
                },
                ErrorKind::Eagain => Fault::Eagain,
                ErrorKind::Efault => Fault::Efault,
                ErrorKind::Eacces => Fault::Errno {
                    name: "EACCES".into(),
                    text: Some("Permission denied".into()),
                },
                ErrorKind::ReadTimeout => Fault::Timeout,
            }),
            Behaviour::SizeLimit => at(Fault::StreamLimit {
                mode: match protocol {
                    Protocol::Clamd => LimitMode::ReplyDrain,
                    Protocol::Svsp => LimitMode::default(),
                },
            }),
            Behaviour::Silence => at(Fault::NeverReply),
            Behaviour::Refuse => vec![Rule::new(Trigger::always(), Fault::Refuse)],
        }
    }

    fn title(&self) -> String {
        format!("{}; daemon: {}", self.input.label(), self.behaviour.label())
    }

    fn case(&self, protocol: Protocol, n: u32) -> Case {
        let faults = self.fault_rules(protocol);
        Case {
            id: format!("proptest.{protocol}.{n}"),
            protocol,
            rules: vec![self.rule(protocol).into()],
            title: self.title(),
            input: self.input.clone(),
            daemon: DaemonSpec {
                stream_max_length: Some(STREAM_MAX_LENGTH),
                ..DaemonSpec::default()
            },
            fault_seed: (!faults.is_empty()).then_some(1),
            faults,
            expect: self.expect(),
            tags: vec!["proptest".into()],
            session_orders: Vec::new(),
            applies_if_sent: None,
            applies_why: None,
        }
    }
}

impl Behaviour {
    fn label(&self) -> String {
        match self {
            Behaviour::Answers {
                split: None,
                delay_ms: 0,
            } => "answers".into(),
            Behaviour::Answers { split, delay_ms } => format!(
                "answers{}{}",
                split.map_or(String::new(), |n| format!(", {n} bytes at a time")),
                if *delay_ms > 0 {
                    format!(", after {delay_ms} ms")
                } else {
                    String::new()
                }
            ),
            Behaviour::Reset { at_byte: 0 } => "RST at the scan command".into(),
            Behaviour::Reset { at_byte } => format!("RST once {at_byte} bytes arrived"),
            Behaviour::Close { at_byte: 0 } => "FIN, no reply, at the scan command".into(),
            Behaviour::Close { at_byte } => format!("FIN, no reply, once {at_byte} bytes arrived"),
            Behaviour::Truncated { keep } => format!("reply cut after {keep} bytes, then FIN"),
            Behaviour::Garbage { len } => format!("{len} bytes of garbage instead of the reply"),
            Behaviour::ErrorReply(k) => format!("error reply ({k:?})"),
            Behaviour::SizeLimit => "size-limit reply".into(),
            Behaviour::Silence => "silence (never replies)".into(),
            Behaviour::Refuse => "connection refused (nothing listens)".into(),
        }
    }
}

/// Input sizes: an edge size in three runs of four, any size up to one chunk past the
/// limit otherwise. Shrinks towards 0 (the first edge).
fn size() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => prop::sample::select(EDGE_SIZES.to_vec()),
        1 => 0u64..=STREAM_MAX_LENGTH + 8192,
    ]
}

fn input() -> impl Strategy<Value = InputSpec> {
    prop_oneof![
        6 => (size(), any::<u64>()).prop_map(|(size, seed)| InputSpec::Clean { size, seed }),
        2 => Just(InputSpec::Eicar),
        1 => (1u32..4).prop_map(|depth| InputSpec::ZipEicar { depth }),
        1 => Just(InputSpec::ZipClean),
    ]
}

/// Daemon behaviours: most runs make the scan fail; silence is rare (each costs the
/// client's own timeout).
fn behaviour() -> impl Strategy<Value = Behaviour> {
    let error = prop::sample::select(vec![
        ErrorKind::Error,
        ErrorKind::Eagain,
        ErrorKind::Efault,
        ErrorKind::Eacces,
        ErrorKind::ReadTimeout,
    ]);
    prop_oneof![
        4 => (prop::option::of(1u8..9), prop::sample::select(vec![0u64, 0, 5, 50]))
            .prop_map(|(split, delay_ms)| Behaviour::Answers { split, delay_ms }),
        3 => (0u64..=STREAM_MAX_LENGTH).prop_map(|at_byte| Behaviour::Reset { at_byte }),
        2 => (0u64..=8192).prop_map(|at_byte| Behaviour::Close { at_byte }),
        1 => (0u8..=6).prop_map(|keep| Behaviour::Truncated { keep }),
        1 => (1u8..=40).prop_map(|len| Behaviour::Garbage { len }),
        2 => error.prop_map(Behaviour::ErrorReply),
        1 => Just(Behaviour::SizeLimit),
        1 => Just(Behaviour::Refuse),
        1 => Just(Behaviour::Silence),
    ]
}

/// The generator: an input and a daemon behaviour per run.
pub fn strategy() -> impl Strategy<Value = Generated> {
    (input(), behaviour()).prop_map(|(input, mut behaviour)| {
        // Byte triggers stay within the upload, so the fault fires before the verdict
        // (a generated zip is a few hundred bytes).
        let limit = match input {
            InputSpec::Clean { size, .. } => size,
            InputSpec::Empty => 0,
            InputSpec::Eicar => 68,
            _ => 100,
        };
        if let Behaviour::Reset { at_byte } | Behaviour::Close { at_byte } = &mut behaviour {
            *at_byte = (*at_byte).min(limit);
        }
        Generated { input, behaviour }
    })
}

fn rng_from(seed: u64) -> TestRng {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&seed.rotate_left(17).to_le_bytes());
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

/// Runs `n` generated cases per profile.
pub async fn run(
    profiles: &[ClientProfile],
    ctx: &Arc<RunContext>,
    n: u32,
    seed: Option<u64>,
    build_errors: &BTreeMap<String, String>,
) -> Result<Vec<Row>> {
    let seed = seed.unwrap_or_else(rand::random);
    eprintln!("conformance: proptest with {n} cases per client, seed {seed} (replay: --proptest {n} --seed {seed})");
    let mut rows = Vec::new();
    for p in profiles {
        let start = std::time::Instant::now();
        let mut row = Row::new(
            format!("client:{}", p.name),
            format!("proptest.{}", p.protocol),
            vec![],
            format!("{n} generated inputs and daemon behaviours, seed {seed}"),
        );
        if let Some(why) = availability(p, ctx) {
            row.status = Status::NotAvailable;
            row.note = Some(why);
            rows.push(row);
            continue;
        }
        if let Some(why) = takes_no_single_file(p) {
            row.status = Status::NotApplicable;
            row.detail = format!("not applicable: {why}");
            rows.push(row);
            continue;
        }
        if let Some(e) = build_errors.get(&p.name) {
            row.status = Status::HarnessError;
            row.note = Some(e.clone());
            rows.push(row);
            continue;
        }
        let (profile, ctx2) = (p.clone(), ctx.clone());
        let handle = tokio::runtime::Handle::current();
        let outcome = tokio::task::spawn_blocking(move || {
            let config = Config {
                cases: n,
                failure_persistence: None,
                max_shrink_iters: 128,
                ..Config::default()
            };
            let mut runner = TestRunner::new_with_rng(config, rng_from(seed));
            let counter = std::cell::Cell::new(0u32);
            let last_failure: std::cell::RefCell<Option<(crate::runner::CaseResult, Generated)>> =
                Default::default();
            let res = runner.run(&strategy(), |g| {
                counter.set(counter.get() + 1);
                let case = g.case(profile.protocol, counter.get());
                let r = handle.block_on(run_case(&case, &profile, &ctx2));
                match r.status {
                    // a fault the client's path never met proves nothing either way
                    Status::Pass | Status::NotApplicable => Ok(()),
                    _ => {
                        let msg = r
                            .failures
                            .first()
                            .map(|f| format!("{}: {}", f.rule, f.happened))
                            .or_else(|| r.note.clone())
                            .unwrap_or_default();
                        *last_failure.borrow_mut() = Some((r, g.clone()));
                        Err(TestCaseError::fail(msg))
                    }
                }
            });
            (res, last_failure.into_inner(), counter.get())
        })
        .await;
        row.seconds = start.elapsed().as_secs_f64();
        match outcome {
            Ok((Ok(()), _, runs)) => row.detail = format!("{runs} runs passed"),
            Ok((Err(TestError::Fail(reason, minimal)), last, runs)) => {
                row.status = Status::Fail;
                let case = minimal.case(p.protocol, 0);
                row.detail = format!("{runs} runs; minimal failing case: {}", case.title);
                let mut f = Failure {
                    rule: case.rules[0].clone(),
                    kind: "proptest".into(),
                    expected: format!("verdict {} for {}", case.expect, case.title),
                    happened: format!("{reason} (replay: --proptest {n} --seed {seed})"),
                    excerpt: format!("{minimal:?}"),
                };
                if let Some((r, _)) = last {
                    if r.status == Status::FailOpen {
                        row.status = Status::FailOpen;
                    }
                    row.transcript = r.transcript_log.clone();
                    f.rule = r.failures.first().map(|x| x.rule.clone()).unwrap_or(f.rule);
                    let all: Vec<String> = r
                        .failures
                        .iter()
                        .map(|x| format!("{} ({})", x.rule, x.kind))
                        .collect();
                    if !all.is_empty() {
                        f.happened = format!(
                            "{}; all findings of the minimal case: {}",
                            f.happened,
                            all.join(", ")
                        );
                    }
                }
                row.failures.push(f);
            }
            Ok((Err(TestError::Abort(why)), _, _)) => {
                row.status = Status::HarnessError;
                row.note = Some(format!("proptest aborted: {why}"));
            }
            Err(e) => {
                row.status = Status::HarnessError;
                row.note = Some(format!("proptest task failed: {e}"));
            }
        }
        eprintln!(
            "[proptest] {:<13} {:<12} {}",
            row.status.label(),
            p.name,
            row.detail
        );
        rows.push(row);
    }
    Ok(rows)
}

/// Every generated input is one file: a profile that takes only directories (`inputs =
/// ["dir"]`, e.g. `fave-pipeline`) would be handed a file where it expects a directory and
/// fail every run for a reason that is the harness's, not the client's.
fn takes_no_single_file(p: &ClientProfile) -> Option<String> {
    (!p.inputs.contains(&crate::profile::InputKind::File)).then(|| {
        "the profile takes directories only (`inputs = [\"dir\"]`); generated inputs are single files"
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;

    /// A directory-only profile is not given generated single files.
    #[test]
    fn directory_only_profiles_are_not_applicable_to_generated_files() {
        let dir_only = ClientProfile::from_toml(
            "protocol = \"clamd\"\ncommand = \"x {file}\"\ninputs = [\"dir\"]\n[verdicts]\nclean = { exit = 0 }\n",
            std::path::Path::new("dir-only.toml"),
        )
        .expect("profile");
        assert!(takes_no_single_file(&dir_only).is_some());
        let both = ClientProfile::from_toml(
            "protocol = \"clamd\"\ncommand = \"x {file}\"\ninputs = [\"file\", \"dir\"]\n[verdicts]\nclean = { exit = 0 }\n",
            std::path::Path::new("both.toml"),
        )
        .expect("profile");
        assert_eq!(takes_no_single_file(&both), None);
    }

    fn sample(n: usize) -> Vec<Generated> {
        let mut runner = TestRunner::new_with_rng(Config::default(), rng_from(7));
        let s = strategy();
        (0..n)
            .map(|_| s.new_tree(&mut runner).map(|t| t.current()))
            .collect::<std::result::Result<_, _>>()
            .unwrap_or_default()
    }

    /// Issue 14 item 2: every edge size (0, 1, 4095..4097, 8192, StreamMaxLength and one
    /// over, CLAMD-CLIENT-2/4) comes up, and edge sizes make most of the sized inputs.
    #[test]
    fn generator_puts_every_edge_size_in_the_runs_with_high_weight() {
        let runs = sample(1000);
        assert_eq!(runs.len(), 1000);
        let sizes: Vec<u64> = runs
            .iter()
            .filter_map(|g| match g.input {
                InputSpec::Clean { size, .. } => Some(size),
                _ => None,
            })
            .collect();
        for edge in EDGE_SIZES {
            let hits = sizes.iter().filter(|s| **s == edge).count();
            assert!(hits >= 20, "size {edge} drawn {hits} times in 1000 runs");
        }
        let on_edge = sizes.iter().filter(|s| EDGE_SIZES.contains(s)).count();
        assert!(
            on_edge * 3 >= sizes.len() * 2,
            "{on_edge} of {}",
            sizes.len()
        );
    }

    /// Issue 14 item 2: most runs have a daemon that makes the scan fail, each failing
    /// behaviour comes up, and each runs as a valid fault plan on the fake (CLAMD-CLIENT-3/
    /// 4/5/10), expecting error.
    #[test]
    fn generator_makes_most_scans_fail_with_valid_fault_plans() {
        let runs = sample(1000);
        let failing = runs
            .iter()
            .filter(|g| !matches!(g.behaviour, Behaviour::Answers { .. }))
            .count();
        assert!(failing > 600, "{failing} of 1000");
        for probe in [
            "Reset",
            "Close",
            "Truncated",
            "Garbage",
            "ErrorReply",
            "SizeLimit",
            "Silence",
            "Refuse",
        ] {
            assert!(
                runs.iter()
                    .any(|g| format!("{:?}", g.behaviour).starts_with(probe)),
                "{probe} never generated"
            );
        }
        for g in &runs {
            for protocol in [Protocol::Clamd, Protocol::Svsp] {
                let case = g.case(protocol, 1);
                let plan = case.fault_plan();
                let answers = matches!(g.behaviour, Behaviour::Answers { .. });
                assert_eq!(plan.is_some(), !case.faults.is_empty());
                if !answers {
                    assert!(plan.is_some(), "{g:?} has no fault plan");
                    assert_eq!(case.expect, Verdict::Error, "{g:?}");
                }
            }
        }
    }

    /// CLAMD-CLIENT-4: one byte over StreamMaxLength must be an error even when the daemon
    /// answers; at the limit the content decides.
    #[test]
    fn over_the_stream_limit_expects_error_at_the_limit_clean() {
        let answers = Behaviour::Answers {
            split: None,
            delay_ms: 0,
        };
        let g = |size| Generated {
            input: InputSpec::Clean { size, seed: 1 },
            behaviour: answers.clone(),
        };
        assert_eq!(g(STREAM_MAX_LENGTH).expect(), Verdict::Clean);
        assert_eq!(g(STREAM_MAX_LENGTH + 1).expect(), Verdict::Error);
        assert_eq!(
            g(STREAM_MAX_LENGTH + 1).rule(Protocol::Clamd),
            "CLAMD-CLIENT-4"
        );
    }
}
