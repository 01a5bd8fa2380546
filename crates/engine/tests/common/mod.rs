//! What the container tests share: a tree scan that lists every part it saw.
// each test binary includes this module and uses a part of it
#![allow(dead_code)]

use std::ops::ControlFlow;
use std::sync::Arc;

use scan_engine::{
    scan_bytes, BuiltinOptions, ContainerKind, ScanLimits, SignatureDb, TreeOptions, TreeScanner,
    TreeSummary,
};

/// (chain, opened, infected) per part.
pub type Seen = Vec<(String, Option<ContainerKind>, bool)>;

/// Scans `data` as an object named `root` with the built-in signatures and `limits`.
pub fn scan_as(root: &[u8], data: &[u8], limits: ScanLimits) -> (Seen, TreeSummary) {
    let db = Arc::new(SignatureDb::builtin(&BuiltinOptions::default()));
    scan_with(db, root, data, limits)
}

/// Scans `data` as an object named `root` with `db` and `limits`.
pub fn scan_with(
    db: Arc<SignatureDb>,
    root: &[u8],
    data: &[u8],
    limits: ScanLimits,
) -> (Seen, TreeSummary) {
    let mut seen = Seen::new();
    let summary = TreeScanner::new(db, TreeOptions::default(), root)
        .with_limits(limits)
        .scan_reader(data, &mut |p| {
            let chain: Vec<String> = p
                .chain
                .iter()
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect();
            seen.push((chain.join(" -> "), p.opened, !p.result.is_clean()));
            ControlFlow::Continue(())
        })
        .expect("scan");
    (seen, summary)
}

/// The chains of every part, in order.
pub fn names(seen: &Seen) -> Vec<&str> {
    seen.iter().map(|s| s.0.as_str()).collect()
}

/// The chains of the infected parts.
pub fn infected(seen: &Seen) -> Vec<&str> {
    seen.iter().filter(|s| s.2).map(|s| s.0.as_str()).collect()
}

/// The names `scan_bytes` reports for `data`, in report order.
pub fn detected(db: &Arc<SignatureDb>, data: &[u8]) -> Vec<String> {
    scan_bytes(db, data)
        .detections
        .into_iter()
        .map(|d| d.name)
        .collect()
}
