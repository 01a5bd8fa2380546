//! Replays EVERY committed oracle transcript (recorded from the real clamd 1.4.6 by
//! `cargo xtask oracle record`) against the fake clamd started in-process, and requires the
//! same reply bytes, connection end and timing class (spec section 18: "The fake MUST match
//! every case that is not nondeterministic, after path templating and unordered comparison
//! for sessions/MULTISCAN").

mod common;

use clamd_oracle::{tasks, OracleEnv};

#[test]
fn clamd_oracle_replay_all_recorded_cases_against_fake() {
    let env = OracleEnv::create().expect("oracle env");
    let launcher = common::FakeLauncher::new();
    let (n, mismatches) = tasks::replay_with(
        &clamd_oracle::default_cases_path(),
        &clamd_oracle::default_transcripts_path(),
        std::env::var("ORACLE_FILTER").ok().as_deref(),
        &launcher,
        &env,
    )
    .expect("replay runs");
    assert!(n >= 300, "expected the full case table, got {n} cases");
    let bad: std::collections::BTreeSet<&str> =
        mismatches.iter().map(|m| m.case.as_str()).collect();
    for m in &mismatches {
        eprintln!("MISMATCH {m}");
    }
    eprintln!(
        "{} cases replayed against fake-clamd, {} matched, {} mismatched",
        n,
        n - bad.len(),
        bad.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} of {n} recorded cases differ on the fake: {:?}",
        bad.len(),
        bad
    );
}
