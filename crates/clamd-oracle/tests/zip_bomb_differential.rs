//! Non-recursive zip bombs (CLAMD-DET-7): a zip whose members overlap one another (David
//! Fifield's construction, `fixtures::overlapping_zip`) gets from the fake the reply clamd
//! 1.4.6 gives: past five overlapping members clamd unpacks nothing and raises
//! `Heuristics.Zip.OverlappingFiles` (unzip.c `index_the_central_directory`), reported when
//! the scan finds nothing else; with `HeuristicScanPrecedence yes` it ends the scan at once,
//! with `HeuristicAlerts no` it is not raised; all-match lists it after the detections.
//! Sent by INSTREAM and by ALLMATCHSCAN of a file to both servers under each setting.
//! Prints SKIP when clamd is not installed (fails with AVC_REQUIRE_CLAMD=1).

mod common;

use std::path::Path;
use std::time::Duration;

use clamd_oracle::{OracleEnv, Target};
use fixtures::{overlapping_zip, tar_of, MARKER_A};

const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// The inputs, by name: bombs of 6 (five overlapping pairs: read as usual) to 30 members,
/// one whose kernel carries the marker, and bombs beside EICAR in a tar, in both orders.
fn inputs() -> Vec<(&'static str, Vec<u8>)> {
    let clean = b"a clean kernel ".repeat(60);
    let mut marked = b"x".repeat(200);
    marked.extend_from_slice(MARKER_A);
    let bomb = overlapping_zip(8, &clean);
    let eicar = fixtures::eicar();
    vec![
        ("six-members", overlapping_zip(6, &clean)),
        ("seven-members", overlapping_zip(7, &clean)),
        ("thirty-members", overlapping_zip(30, &clean)),
        ("marker-kernel", overlapping_zip(8, &marked)),
        (
            "tar-bomb-then-eicar",
            tar_of(&[("bomb.zip", &bomb), ("e.com", &eicar)]),
        ),
        (
            "tar-eicar-then-bomb",
            tar_of(&[("e.com", &eicar), ("bomb.zip", &bomb)]),
        ),
        (
            "tar-two-bombs",
            tar_of(&[("a.zip", &bomb), ("b.zip", &bomb)]),
        ),
    ]
}

fn converse(target: &Target, request: &[u8]) -> Vec<u8> {
    clamd_oracle::runner::converse(target, request, 1 << 16, IO_TIMEOUT).expect("connect")
}

/// (INSTREAM reply, ALLMATCHSCAN reply of the same bytes as a file at `path`), compared
/// whole: clamd 1.4.6 repeats a name for each match (two bombs in a tar give the alert twice
/// with `HeuristicScanPrecedence yes`), and so does the fake (CLAMD-SCAN-9).
fn replies(target: &Target, path: &Path, data: &[u8]) -> (String, String) {
    let allmatch = fixtures::clamd_wire::path_command("ALLMATCHSCAN", path);
    let instream = converse(target, &fixtures::clamd_wire::instream_chunked(data, 4096));
    let all = converse(target, &allmatch);
    (
        String::from_utf8_lossy(&instream).into_owned(),
        String::from_utf8_lossy(&all).into_owned(),
    )
}

/// CLAMD-DET-7, CLAMD-CONF-3: the fake's replies to zip bombs equal clamd 1.4.6's with
/// heuristic alerts on (the default), with `HeuristicScanPrecedence yes` and with
/// `HeuristicAlerts no`.
#[test]
fn clamd_det_7_zip_bombs_get_clamds_overlapping_files_alert() {
    if !common::real_clamd_or_skip() {
        return;
    }
    let env = OracleEnv::create().expect("oracle env");
    let files = common::write_inputs(&env, "bombs", inputs());
    let mut differ = Vec::new();
    let mut alerts = 0;
    for (label, conf) in [
        ("defaults", vec![]),
        (
            "precedence",
            vec!["HeuristicScanPrecedence yes".to_string()],
        ),
        ("alerts-off", vec!["HeuristicAlerts no".to_string()]),
    ] {
        let pair = common::Pair::start(&env, &format!("bombs-{label}"), &conf);
        for (name, path, data) in &files {
            let real = replies(&pair.real, path, data);
            let fake = replies(&pair.fake, path, data);
            println!("{label} {name}: real {real:?}, fake {fake:?}");
            alerts += usize::from(real.0.contains("Heuristics.Zip.OverlappingFiles"));
            if real != fake {
                differ.push(format!("{label} {name}: real {real:?}, fake {fake:?}"));
            }
        }
    }
    common::assert_no_differences(&differ);
    // the inputs reach the alert: three bombs alone under the defaults, those and two
    // beside a signature with precedence (clamd 1.4.6, 2026-12-06)
    assert_eq!(alerts, 8, "INSTREAM replies of clamd that name the alert");
}
