//! `--proptest N`: property tests of clients. Generated inputs (size, content, EICAR at a
//! random offset or inside nested zips) and daemon behaviours (replies split at random byte
//! boundaries, delays) run through the scripted daemon; a failure is shrunk to a minimal
//! case by proptest and reported with the seed that replays the run.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

use crate::case::Case;
use crate::daemon::{DaemonKind, DaemonSpec};
use crate::error::Result;
use crate::input::InputSpec;
use crate::judge::{Failure, Status};
use crate::profile::{ClientProfile, Protocol, Verdict};
use crate::report::Row;
use crate::runner::{availability, run_case, RunContext};

/// One generated case.
#[derive(Debug, Clone)]
pub struct Generated {
    pub input: InputSpec,
    pub split_reply: Option<usize>,
    pub delay_ms: u64,
}

impl Generated {
    fn expect(&self) -> Verdict {
        match self.input {
            InputSpec::Clean { .. } | InputSpec::Empty | InputSpec::ZipClean => Verdict::Clean,
            _ => Verdict::Infected,
        }
    }

    fn case(&self, protocol: Protocol, n: u32) -> Case {
        Case {
            id: format!("proptest.{protocol}.{n}"),
            protocol,
            rules: vec![match protocol {
                Protocol::Clamd => "CLAMD-CLIENT-2".into(),
                Protocol::Svsp => "SVSP-CLIENT-12".into(),
            }],
            title: format!(
                "{} (split {:?}, delay {} ms)",
                self.input.label(),
                self.split_reply,
                self.delay_ms
            ),
            input: self.input.clone(),
            daemon: DaemonSpec {
                kind: DaemonKind::Scripted,
                split_reply: self.split_reply,
                delay_ms: (self.delay_ms > 0).then_some(self.delay_ms),
                eicar_anywhere: true,
                ..DaemonSpec::default()
            },
            faults: Vec::new(),
            fault_seed: None,
            expect: self.expect(),
            tags: vec!["proptest".into()],
        }
    }
}

/// The generator: inputs and daemon behaviours.
pub fn strategy() -> impl Strategy<Value = Generated> {
    let input = prop_oneof![
        (0u64..300_000, any::<u64>()).prop_map(|(size, seed)| InputSpec::Clean { size, seed }),
        Just(InputSpec::Eicar),
        (68u64..200_000, 0.0f64..1.0, any::<u64>()).prop_map(|(size, frac, seed)| {
            let offset = ((size - 68) as f64 * frac) as u64;
            InputSpec::EicarAt { offset, size, seed }
        }),
        (1u32..4).prop_map(|depth| InputSpec::ZipEicar { depth }),
        Just(InputSpec::ZipClean),
    ];
    let split = prop_oneof![Just(None), (1usize..24).prop_map(Some)];
    (input, split, 0u64..3).prop_map(|(input, split_reply, delay_ms)| Generated {
        input,
        split_reply,
        delay_ms,
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
        let mut row = Row {
            suite: format!("client:{}", p.name),
            id: format!("proptest.{}", p.protocol),
            rules: vec![],
            title: format!("{n} generated inputs and daemon behaviours, seed {seed}"),
            status: Status::Pass,
            detail: String::new(),
            failures: Vec::new(),
            warnings: Vec::new(),
            note: None,
            seconds: 0.0,
            transcript: String::new(),
        };
        if let Some(why) = availability(p, ctx) {
            row.status = Status::NotAvailable;
            row.note = Some(why);
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
                    Status::Pass => Ok(()),
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
