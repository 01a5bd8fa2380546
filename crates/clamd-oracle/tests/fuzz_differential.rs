//! Differential fuzzer against the real clamd (issue 18): generated conversations (framings
//! z/n/legacy, IDSESSION with 1-5 commands, INSTREAM chunkings with EICAR split anywhere,
//! streams around StreamMaxLength, path scans on the corpus, malformed commands) sent to the
//! real clamd and to the fake from the same clamd.conf, compared race-aware
//! (`equiv::race_records`), shrunk on divergence. One real clamd and one fake serve every
//! conversation.
//!
//! Seed: `PROPTEST_RNG_SEED` if set; a fixed seed in CI (`CI` or `AVC_REQUIRE_CLAMD=1`); else
//! a fresh one (local runs explore; the seed is printed). `FUZZ_CONVERSATIONS` (default 1000)
//! sets the count. Prints SKIP when clamd is not installed (fails with AVC_REQUIRE_CLAMD=1).

mod common;

use clamd_oracle::fuzz::Pair;
use clamd_oracle::{CaseFile, Launcher, OracleEnv, Profile, RealLauncher, RunningServer, Target};

const FIXED_SEED: u64 = 18;

/// CLAMD-SESSION-4/5/7, CLAMD-CONN-3, CLAMD-SCAN-6, CLAMD-INSTREAM-5: the fake is
/// indistinguishable from clamd 1.4.6 on at least 1000 generated conversations.
#[test]
fn fuzz_fake_agrees_with_real_clamd_on_generated_conversations() {
    if !common::real_clamd_or_skip() {
        return;
    }
    let n: usize = clamd_oracle::explore::count_from_env("FUZZ_CONVERSATIONS", 1000);
    let seed = clamd_oracle::explore::seed(FIXED_SEED);
    let file = CaseFile::load(&clamd_oracle::default_cases_path()).expect("cases");
    let profile = file.profiles.get("main").expect("main profile").clone();
    let env = OracleEnv::create().expect("oracle env");
    let real = RealLauncher
        .start(&env, "main", &profile)
        .expect("real clamd");
    let launcher = common::FakeLauncher::new();
    let fake = launcher.start(&env, "main", &profile).expect("fake");
    let mut pair = Pair {
        reference: real.target(),
        candidate: fake.target(),
        vars: env.vars(),
    };
    let self_check = std::env::var_os("FUZZ_SELF_CHECK").is_some();
    // clamd 1.4.6 can abort ("malloc(): unaligned tcache chunk detected") in a long
    // exploration: a new one takes over and the conversation is listed (MISMATCHES.md)
    let mut revived = Vec::new();
    let mut revive = reviver(&RealLauncher, &env, &profile, &mut revived);
    let rep = pair.explore(seed, n, self_check, 5, &mut revive);
    println!("fuzz seed {seed}: {}", rep.summary());
    for conv in &rep.reference_crashes {
        println!("REFERENCE CRASH (clamd stopped answering during or after): {conv:?}");
    }
    for (i, (conv, diff)) in rep.divergences.iter().enumerate() {
        println!("DIVERGENCE {i}: {diff}\n  {conv:?}");
        println!(
            "  gen_cases.py: {}",
            conv.gen_cases_line(&format!("fuzz_{seed}_{i}"), &[])
        );
    }
    assert!(rep.conversations >= n, "generated {}", rep.conversations);
    assert!(
        rep.divergences.is_empty(),
        "seed {seed}: {} minimal diverging conversations (above); record them as oracle cases",
        rep.divergences.len()
    );
}

/// A reference that stops answering (clamd 1.4.6 can abort on heap corruption in a long
/// exploration) is a reference crash, not a divergence of the fake: a new reference takes over
/// and every conversation is still run. Fake against fake, so no clamd is needed.
#[test]
fn fuzz_reference_that_stops_answering_is_revived_not_counted_as_divergence() {
    let file = CaseFile::load(&clamd_oracle::default_cases_path()).expect("cases");
    let profile = file.profiles.get("main").expect("main profile").clone();
    let env = OracleEnv::create().expect("oracle env");
    let launcher = common::FakeLauncher::new();
    let candidate = launcher.start(&env, "main", &profile).expect("fake");
    // a port nobody listens on any more: the reference is "dead" from the start
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("ephemeral port");
    let mut pair = Pair {
        reference: Target {
            tcp: dead,
            unix: None,
        },
        candidate: candidate.target(),
        vars: env.vars(),
    };
    let mut revived = Vec::new();
    let rep = pair.explore(
        7,
        30,
        false,
        5,
        &mut reviver(&launcher, &env, &profile, &mut revived),
    );
    assert_eq!(rep.conversations, 30, "{}", rep.summary());
    assert_eq!(rep.reference_crashes.len(), 1, "{}", rep.summary());
    assert!(rep.divergences.is_empty(), "{:?}", rep.divergences);
    assert_eq!(revived.len(), 1);
}

/// The `revive` of [`Pair::explore`]: a new reference (profile `main`) from `launcher`, kept
/// running in `started` until the exploration ends.
fn reviver<'a>(
    launcher: &'a dyn Launcher,
    env: &'a OracleEnv,
    profile: &'a Profile,
    started: &'a mut Vec<Box<dyn RunningServer>>,
) -> impl FnMut() -> Option<Target> + 'a {
    move || {
        let server = launcher.start(env, "main", profile).ok()?;
        let target = server.target();
        started.push(server);
        Some(target)
    }
}
