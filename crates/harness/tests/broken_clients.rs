//! The deliberately broken clients in conformance/test-clients/ must each be caught with
//! the right rule ID; the correct test clients must pass (so the checks are not vacuous).

mod common;
use common::*;

use std::collections::BTreeMap;

use harness::case::{self, Case};
use harness::judge::Status;
use harness::profile::ClientProfile;
use harness::runner::CaseResult;

async fn run(profile: &str, case_ids: &[&str]) -> Vec<CaseResult> {
    let root = root();
    let p = ClientProfile::load(
        &root
            .join("conformance/test-clients/profiles")
            .join(format!("{profile}.toml")),
    )
    .unwrap();
    let cases: Vec<Case> = case::load_dir(&root.join("conformance/cases/client")).unwrap();
    let selected: Vec<(ClientProfile, Case)> = cases
        .into_iter()
        .filter(|c| c.applies_to(&p) && (case_ids.is_empty() || case_ids.contains(&c.id.as_str())))
        .map(|c| (p.clone(), c))
        .collect();
    assert!(
        case_ids.is_empty() || selected.len() == case_ids.len(),
        "unknown case id in {case_ids:?}"
    );
    let scratch = tempfile::tempdir().unwrap();
    let ctx = common::context(scratch.path());
    harness::cli::run_pairs(selected, ctx, 4, &BTreeMap::new()).await
}

fn get<'a>(rs: &'a [CaseResult], id: &str) -> &'a CaseResult {
    rs.iter()
        .find(|r| r.case_id == id)
        .unwrap_or_else(|| panic!("no result for {id}"))
}

/// The result of case `id`, which has `status` (the failures are shown when not).
fn with_status<'a>(rs: &'a [CaseResult], id: &str, status: Status) -> &'a CaseResult {
    let r = get(rs, id);
    assert_eq!(r.status, status, "{id}: {:?}", r.failures);
    r
}

/// The result of `profile` on case `id` alone, which has `status`.
async fn run_one(profile: &str, id: &str, status: Status) -> CaseResult {
    let rs = run(profile, &[id]).await;
    with_status(&rs, id, status).clone()
}

fn rules(r: &CaseResult) -> Vec<&str> {
    r.failures.iter().map(|f| f.rule.as_str()).collect()
}

/// Every result passed (a correct client), each failure shown with its case.
fn assert_all_pass(rs: &[CaseResult]) {
    for r in rs {
        assert_eq!(
            r.status,
            Status::Pass,
            "{}: {:?} {:?}",
            r.case_id,
            r.failures,
            r.note
        );
    }
}

/// The failure of `r` under `rule` (the test has already asserted that there is one).
fn failure<'a>(r: &'a CaseResult, rule: &str) -> &'a harness::judge::Failure {
    r.failures
        .iter()
        .find(|f| f.rule == rule)
        .unwrap_or_else(|| panic!("no {rule} failure in {:?}", r.failures))
}

/// The correct test clients pass every case of their protocol (at least this many).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_test_clients_pass_every_case_of_their_protocol() {
    need_python!();
    for (profile, at_least) in [("good-clamd", 15), ("good-svsp", 10)] {
        let rs = run(profile, &[]).await;
        assert!(rs.len() >= at_least, "{profile}: {} cases", rs.len());
        assert_all_pass(&rs);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_on_error_is_fail_open_clamd_client_5_3_10() {
    need_python!();
    let rs = run(
        "broken-clean-on-error",
        &[
            "clamd.reply-error",
            "clamd.refused",
            "clamd.close-before-reply",
            "clamd.silent",
            "clamd.eicar",
        ],
    )
    .await;
    for (id, rule) in [
        ("clamd.reply-error", "CLAMD-CLIENT-5"),
        ("clamd.refused", "CLAMD-CLIENT-3"),
        ("clamd.close-before-reply", "CLAMD-CLIENT-3"),
        ("clamd.silent", "CLAMD-CLIENT-10"),
    ] {
        let r = with_status(&rs, id, Status::FailOpen);
        assert_eq!(r.failures[0].rule, rule, "{id}");
        assert_eq!(r.failures[0].kind, "fail-open");
    }
    // It is not broken when nothing goes wrong.
    assert_eq!(get(&rs, "clamd.eicar").status, Status::Pass);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_zero_length_chunk_is_clamd_client_2() {
    need_python!();
    let r = run_one("broken-no-terminator", "clamd.clean", Status::Fail).await;
    let f = failure(&r, "CLAMD-CLIENT-2");
    assert!(f.happened.contains("zero-length chunk"), "{}", f.happened);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unprefixed_commands_are_clamd_client_1() {
    need_python!();
    let r = run_one("broken-unprefixed", "clamd.eicar", Status::Fail).await;
    let f = failure(&r, "CLAMD-CLIENT-1");
    assert!(
        f.excerpt.contains("⟦INSTREAM"),
        "excerpt marks the offending bytes: {}",
        f.excerpt
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignoring_size_limit_is_fail_open_clamd_client_4() {
    need_python!();
    let rs = run(
        "broken-ignores-size-limit",
        &["clamd.over-limit", "clamd.exact-limit"],
    )
    .await;
    let r = with_status(&rs, "clamd.over-limit", Status::FailOpen);
    assert_eq!(r.failures[0].rule, "CLAMD-CLIENT-4");
    assert_eq!(get(&rs, "clamd.exact-limit").status, Status::Pass);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_without_end_is_clamd_client_9() {
    need_python!();
    let r = run_one("broken-no-end", "clamd.clean", Status::Fail).await;
    assert_eq!(
        rules(&r),
        ["CLAMD-CLIENT-9"],
        "verdict was right, only the protocol is wrong"
    );
}

/// CLAMD-CLIENT-9, CLAMD-SESSION-3, CLAMD-SESSION-4: a client that pairs a session's replies
/// with its requests by position, not by their number, passes only when the fake answers in
/// arrival order. With clamd's own order (its PING, sent last, answered before the scans),
/// reversed or shuffled, its verdicts land on the wrong files: the per-file check says so
/// even where the run's overall verdict happens to be right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairing_replies_by_position_is_clamd_client_9_under_every_order_but_arrival() {
    need_python!();
    let ids = ["clamd", "arrival", "reverse", "random"].map(|o| format!("clamd.session-files.{o}"));
    let rs = run(
        "broken-pairs-by-position",
        &ids.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
    let arrival = get(&rs, "clamd.session-files.arrival");
    assert_eq!(arrival.status, Status::Pass, "{:?}", arrival.failures);
    for order in ["clamd", "reverse", "random"] {
        let r = with_status(&rs, &format!("clamd.session-files.{order}"), Status::Fail);
        let f = r
            .failures
            .iter()
            .find(|f| f.kind == "file-verdict")
            .unwrap_or_else(|| panic!("{order}: no file-verdict failure in {:?}", r.failures));
        assert_eq!(f.rule, "CLAMD-CLIENT-9", "{order}");
        assert!(
            f.expected.starts_with("2-eicar.com") || f.happened.contains("by position"),
            "{order}: {f:?}"
        );
    }
    // clamd's order and reverse put EICAR's FOUND on a clean file: the overall verdict is
    // right and only the per-file check catches the client
    for order in ["clamd", "reverse"] {
        let r = get(&rs, &format!("clamd.session-files.{order}"));
        assert_eq!(r.got, Some(harness::profile::Verdict::Infected), "{order}");
        assert!(
            r.failures.iter().all(|f| f.kind == "file-verdict"),
            "{order}: {:?}",
            r.failures
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_queued_hangs_svsp_client_8() {
    need_python!();
    let rs = run("broken-needs-queued", &["svsp.queued-never", "svsp.eicar"]).await;
    let r = with_status(&rs, "svsp.queued-never", Status::Fail);
    assert_eq!(r.failures[0].rule, "SVSP-CLIENT-8");
    assert_eq!(r.failures[0].kind, "hung");
    // With QUEUED present (fake default) the same client passes.
    assert_eq!(get(&rs, "svsp.eicar").status, Status::Pass);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svsp_clean_on_error_is_fail_open_svsp_client_10() {
    need_python!();
    let rs = run(
        "broken-svsp-clean-on-error",
        &["svsp.eacces", "svsp.efault"],
    )
    .await;
    for id in ["svsp.eacces", "svsp.efault"] {
        let r = with_status(&rs, id, Status::FailOpen);
        assert_eq!(r.failures[0].rule, "SVSP-CLIENT-10");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_before_ready_is_svsp_client_1() {
    need_python!();
    let r = run_one("broken-svsp-no-wait-ready", "svsp.clean", Status::Fail).await;
    failure(&r, "SVSP-CLIENT-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_suites_pass_against_the_embedded_fakes() {
    let rows = harness::server::run_embedded(&root(), &[]).await.unwrap();
    assert!(rows.len() >= 20);
    for r in &rows {
        assert_eq!(r.status, Status::Pass, "{}: {:?}", r.id, r.failures);
    }
}
