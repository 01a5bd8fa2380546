//! `--proptest` finds what matters (issue 14 item 2): on the embedded fakes with generated
//! fault plans it catches a client with an empty-stream bug and a client that fails open
//! after a reset, shrinks each to a minimal case and prints the seed; a correct client
//! passes. The clients are crates/harness/tests/clients/clamd_defects.py.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::path::Path;

use harness::judge::Status;
use harness::profile::ClientProfile;
use harness::report::Row;

fn profile(name: &str, defect: &str) -> ClientProfile {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/clamd_defects.py");
    let defect = if defect.is_empty() {
        String::new()
    } else {
        format!("--defect {defect} ")
    };
    let text = format!(
        r#"description = "clamd_defects.py {defect}"
protocol = "clamd"
command = "python3 '{}' --timeout 2 {defect}{{addr}} {{file}}"
timeout_secs = 8
snapshots = false

[verdicts]
clean = {{ exit = 0 }}
infected = {{ exit = 1 }}
error = {{ exit = 2 }}
"#,
        script.display()
    );
    let mut p = ClientProfile::from_toml(&text, Path::new(name)).unwrap();
    p.name = name.to_string();
    p
}

async fn proptest(p: ClientProfile, n: u32, seed: u64) -> Row {
    let scratch = tempfile::tempdir().unwrap();
    let ctx = common::context(scratch.path());
    let mut rows = harness::props::run(&[p], &ctx, n, Some(seed), &BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    rows.remove(0)
}

/// CLAMD-CLIENT-2 (issue 14 item 2): a client that sends only the terminator for an empty
/// stream is caught by `--proptest 200`, shrunk to the 0-byte input, with the seed printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proptest_200_finds_the_empty_stream_bug_and_shrinks_it_to_zero_bytes() {
    need_python!();
    let row = proptest(
        profile("empty-terminator-only", "empty-terminator-only"),
        200,
        42,
    )
    .await;
    assert!(
        matches!(row.status, Status::Fail | Status::FailOpen),
        "{:?} {}",
        row.status,
        row.detail
    );
    assert!(
        row.detail.contains("minimal failing case: clean 0 bytes"),
        "{}",
        row.detail
    );
    let f = &row.failures[0];
    assert!(f.happened.contains("--seed 42"), "{}", f.happened);
}

/// CLAMD-CLIENT-3 (issue 14 item 2): a client that says clean after a reset is FAIL-OPEN
/// under `--proptest 200`, and the minimal case is a reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proptest_200_finds_the_client_that_says_clean_after_a_reset_as_fail_open() {
    need_python!();
    let row = proptest(profile("clean-after-reset", "clean-after-reset"), 200, 42).await;
    assert_eq!(row.status, Status::FailOpen, "{}", row.detail);
    assert!(row.detail.contains("RST"), "{}", row.detail);
    assert_eq!(row.failures[0].rule, "CLAMD-CLIENT-3", "{:?}", row.failures);
    assert!(
        row.failures[0].happened.contains("--seed 42"),
        "{}",
        row.failures[0].happened
    );
}

/// Control (issue 14 item 2): the same client without a defect passes generated runs with
/// every kind of failing daemon, so the two findings above are the defects, not noise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proptest_passes_the_same_client_without_a_defect() {
    need_python!();
    let row = proptest(profile("correct", ""), 60, 42).await;
    assert_eq!(
        row.status,
        Status::Pass,
        "{} {:?}",
        row.detail,
        row.failures
    );
    assert!(row.detail.contains("60 runs passed"), "{}", row.detail);
}
