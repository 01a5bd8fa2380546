//! What both differential fuzzers (`fuzz`, `content_fuzz`) share: the seed rule, a runner
//! replaying a seed, and the shrink loop over a proptest value tree.

use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// The exploration seed: `PROPTEST_RNG_SEED` if set; `fixed` in CI (`CI` or
/// `AVC_REQUIRE_CLAMD=1`), so CI replays the same inputs; else a fresh one (local runs
/// explore; callers print it).
pub fn seed(fixed: u64) -> u64 {
    if let Some(s) = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return s;
    }
    let ci = std::env::var_os("CI").is_some()
        || std::env::var("AVC_REQUIRE_CLAMD").as_deref() == Ok("1");
    if ci {
        fixed
    } else {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(fixed, |d| d.as_nanos() as u64)
    }
}

/// A count from the environment variable `var` (how many inputs, how many divergences to
/// show), else `default`. With [`seed`], the size of an exploration:
/// `(count_from_env("FUZZ_CONVERSATIONS", 1000), seed(FIXED_SEED))`.
pub fn count_from_env(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Every 1000 items of a long exploration (more than 1000), one line on stderr saying how
/// far it is: `<what> seed <seed>: <done>/<n> <items>, <diverging> diverging, <secs> s`.
pub fn progress(
    what: &str,
    items: &str,
    seed: u64,
    (done, n): (usize, usize),
    diverging: usize,
    since: std::time::Instant,
) {
    if done % 1000 == 0 && n > 1000 {
        eprintln!(
            "{what} seed {seed}: {done}/{n} {items}, {diverging} diverging, {:.0} s",
            since.elapsed().as_secs_f64()
        );
    }
}

/// A test runner whose values come from `seed` alone (never from the environment), with no
/// failure persistence; `max_local_rejects` for strategies that filter.
pub fn runner(seed: u64, max_local_rejects: u32) -> TestRunner {
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        rng_algorithm: RngAlgorithm::ChaCha,
        failure_persistence: None,
        max_local_rejects,
        ..Config::default()
    };
    TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    )
}

/// Shrinks `tree` (whose current value fails with `first`) for at most `steps` moves:
/// `fails` says whether a value still fails, and how. The smallest failing value reached.
pub fn shrink<T: ValueTree, F>(
    mut tree: T,
    first: F,
    steps: usize,
    mut fails: impl FnMut(&T::Value) -> Option<F>,
) -> (T::Value, F) {
    let mut best = (tree.current(), first);
    let mut failing = true;
    for _ in 0..steps {
        let moved = if failing {
            tree.simplify()
        } else {
            tree.complicate()
        };
        if !moved {
            break;
        }
        let cur = tree.current();
        match fails(&cur) {
            Some(f) => {
                failing = true;
                best = (cur, f);
            }
            None => failing = false,
        }
    }
    best
}
