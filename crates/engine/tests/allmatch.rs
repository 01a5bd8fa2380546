//! clamd 1.4.6's all-match order (CLAMD-SCAN-9) as `AllMatchSequence` assembles it from a
//! tree scan, and its bounds (hardening). The byte-for-byte comparison with the real clamd is
//! `crates/clamd-oracle/tests/allmatch_differential.rs`.

use std::ops::ControlFlow;
use std::sync::Arc;

use fixtures::tar_of;
use scan_engine::{AllMatchSequence, PartEvent, SignatureDb, TreeOptions, TreeScanner, MAX_LINES};

fn db() -> Arc<SignatureDb> {
    let mut b = SignatureDb::builder();
    b.add_literal("Marker", b"MARKER-XYZ");
    Arc::new(b.build().unwrap())
}

fn all_names(data: &[u8]) -> Vec<String> {
    let mut seq = AllMatchSequence::default();
    let mut visit = |ev: PartEvent<'_>| {
        seq.part(&ev);
        ControlFlow::Continue(())
    };
    TreeScanner::new(db(), TreeOptions::default(), b"root")
        .with_all_matches()
        .scan_reader(data, &mut visit)
        .unwrap();
    seq.finish()
}

/// CLAMD-SCAN-9: text once per match (the normalised text, lower case, misses an upper-case
/// body), binary data twice, a tar's members before the tar's own bytes.
#[test]
fn clamd_scan_9_names_repeat_per_match_pass_and_part() {
    assert_eq!(all_names(b"text MARKER-XYZ and MARKER-XYZ\n").len(), 2);
    // (a NUL-free or evenly aligned start could pass clamd's UTF-16 test and be text)
    let binary = b"\x00\x01\x02\xff\x00\x01MARKER-XYZ".to_vec();
    assert_eq!(all_names(&binary).len(), 2);
    // members: binary twice, text once; then the tar's raw bytes hold both markers
    let tar = tar_of(&[("b.bin", &binary), ("t.txt", b"MARKER-XYZ\n")]);
    assert_eq!(all_names(&tar).len(), 2 + 1 + 2);
}

/// Hardening: a part made of one signature repeated gives at most `MAX_LINES` names.
#[test]
fn all_match_names_are_bounded() {
    let mut data = b"\x00\x01\x02\xff\x00\x01".to_vec();
    data.extend(b"MARKER-XYZ".repeat(MAX_LINES * 3));
    let names = all_names(&data);
    assert_eq!(names.len(), MAX_LINES);
    assert!(names.iter().all(|n| n == "Marker"));
}
