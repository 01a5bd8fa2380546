//! clamd's Max* limits in the tree walk (hardening item 3, spec section 19 "Limits"). The same
//! inputs are differential against the real clamd in the oracle case table (`limits_*`).

use fixtures::zip_of;
use std::ops::ControlFlow;
use std::sync::Arc;

use scan_engine::{
    BuiltinOptions, CancelFlag, LimitExceeded, ScanLimits, SignatureDb, TreeOptions, TreeScanner,
    TreeSummary, MARKER_BYTES,
};

const MIB: usize = 1 << 20;

fn db() -> Arc<SignatureDb> {
    Arc::new(SignatureDb::builtin(&BuiltinOptions::default()))
}

/// Scan `data` with `limits`: (detection names, summary).
fn scan(data: &[u8], limits: ScanLimits) -> (Vec<String>, TreeSummary) {
    let mut names = Vec::new();
    let mut visit = |ev: scan_engine::PartEvent<'_>| {
        names.extend(ev.result.detections.iter().map(|d| d.name.clone()));
        ControlFlow::Continue(())
    };
    let summary = TreeScanner::new(db(), TreeOptions::default(), b"x")
        .with_limits(limits)
        .scan_reader(data, &mut visit)
        .expect("scan");
    (names, summary)
}

/// `data` under `limits` finds nothing, and the scan says `hit` stopped it.
fn assert_stopped_by(data: &[u8], limits: ScanLimits, hit: LimitExceeded) {
    let (names, s) = scan(data, limits);
    assert!(names.is_empty(), "{hit:?}: {names:?}");
    assert_eq!(s.exceeded, Some(hit));
}

fn marker_then(n: usize) -> Vec<u8> {
    [MARKER_BYTES, &vec![b'A'; n]].concat()
}

fn file_size(n: u64) -> ScanLimits {
    ScanLimits {
        max_file_size: n,
        ..ScanLimits::default()
    }
}

fn scan_size(n: u64) -> ScanLimits {
    ScanLimits {
        max_scan_size: n,
        ..ScanLimits::default()
    }
}

/// The object itself over MaxFileSize / MaxScanSize is not scanned at all.
#[test]
fn limits_root_over_a_size_limit_is_not_scanned() {
    let data = marker_then(MIB);
    assert_stopped_by(&data, file_size(MIB as u64), LimitExceeded::MaxFileSize);
    assert_stopped_by(&data, scan_size(MIB as u64), LimitExceeded::MaxScanSize);
    let (names, s) = scan(&data, ScanLimits::default());
    assert_eq!(names.len(), 1, "0 = unlimited");
    assert_eq!(s.exceeded, None);
}

/// A zip member over MaxFileSize is scanned truncated to MaxFileSize, and the scan goes on.
#[test]
fn limits_member_over_max_file_size_is_truncated_and_the_scan_goes_on() {
    let before = [
        vec![b'B'; MIB - 100],
        MARKER_BYTES.to_vec(),
        vec![b'B'; MIB],
    ]
    .concat();
    let after = [vec![b'B'; MIB + 10], MARKER_BYTES.to_vec()].concat();
    let (names, _) = scan(&zip_of(&[("a", &before)], true), file_size(MIB as u64));
    assert_eq!(names.len(), 1, "marker inside the first MiB is found");
    let (names, _) = scan(&zip_of(&[("a", &after)], true), file_size(MIB as u64));
    assert!(names.is_empty(), "marker past the first MiB is not read");
    let (names, _) = scan(
        &zip_of(&[("a", &after), ("b", MARKER_BYTES)], true),
        file_size(MIB as u64),
    );
    assert_eq!(names.len(), 1, "the next member is still scanned");
}

/// MaxScanSize ends the container whose member does not fit; the parent goes on.
#[test]
fn limits_scan_budget_ends_the_container_not_the_parent() {
    let k600 = vec![b'C'; 600 << 10];
    let flat = zip_of(&[("a", &k600), ("b", &k600), ("c", MARKER_BYTES)], true);
    assert_stopped_by(&flat, scan_size(MIB as u64), LimitExceeded::MaxScanSize);
    let inner = zip_of(&[("a", &k600), ("b", &k600)], true);
    let nested = zip_of(&[("inner.zip", &inner), ("m", MARKER_BYTES)], true);
    let (names, s) = scan(&nested, scan_size(MIB as u64));
    assert_eq!(names.len(), 1, "the parent's next member fits the budget");
    assert_eq!(s.exceeded, Some(LimitExceeded::MaxScanSize));
}

/// A member at level L is scanned only if L < MaxRecursion.
#[test]
fn limits_max_recursion_counts_levels_like_clamd() {
    let level1 = zip_of(&[("m", MARKER_BYTES)], true);
    let level2 = zip_of(&[("x.zip", &level1)], true);
    let rec = |n| ScanLimits {
        max_recursion: n,
        ..ScanLimits::default()
    };
    assert_stopped_by(&level1, rec(1), LimitExceeded::MaxRecursion);
    assert_eq!(scan(&level1, rec(2)).0.len(), 1);
    assert!(scan(&level2, rec(2)).0.is_empty());
    assert_eq!(scan(&level2, rec(3)).0.len(), 1);
    assert_eq!(scan(&level2, rec(0)).0.len(), 1, "0 = unlimited");
}

/// MaxFiles: the member after the MaxFiles-th stops the scan.
#[test]
fn limits_max_files_stops_after_that_many_members() {
    let z = zip_of(&[("a", b"a"), ("b", b"b"), ("m", MARKER_BYTES)], true);
    let files = |n| ScanLimits {
        max_files: n,
        ..ScanLimits::default()
    };
    assert_stopped_by(&z, files(2), LimitExceeded::MaxFiles);
    assert_eq!(scan(&z, files(3)).0.len(), 1);
}

/// A set cancel flag stops a scan with `Interrupted` (daemon shutdown, hardening item 2).
#[test]
fn limits_cancel_flag_interrupts_a_scan() {
    let cancel = CancelFlag::new();
    cancel.cancel();
    let mut visit = |_: scan_engine::PartEvent<'_>| ControlFlow::Continue(());
    let err = TreeScanner::new(db(), TreeOptions::default(), b"x")
        .with_cancel(cancel)
        .scan_reader(&marker_then(10)[..], &mut visit)
        .expect_err("cancelled");
    assert_eq!(err.kind(), std::io::ErrorKind::Interrupted);
}
