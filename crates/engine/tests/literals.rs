//! Literal body signatures are found at their first end, whatever the chunking, by both
//! searches the matcher picks between (one substring search per literal for a few of them,
//! Aho-Corasick for more; issue 17). The reference is a plain window search over the whole
//! input.

use std::sync::Arc;

use proptest::prelude::*;
use scan_engine::{SignatureDb, StreamScanner};

/// The end just past the leftmost occurrence of `lit` in `data`.
fn first_end(data: &[u8], lit: &[u8]) -> Option<u64> {
    data.windows(lit.len())
        .position(|w| w == lit)
        .map(|p| (p + lit.len()) as u64)
}

/// Literals over a small alphabet so that they overlap, repeat and prefix each other.
fn literals() -> impl Strategy<Value = Vec<Vec<u8>>> {
    proptest::collection::vec(proptest::collection::vec(b'a'..=b'd', 1..7), 1..20)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 768, ..ProptestConfig::default() })]

    #[test]
    fn every_literal_is_found_at_its_first_end_whatever_the_chunking(
        lits in literals(),
        data in proptest::collection::vec(b'a'..=b'e', 0..200),
        cuts in proptest::collection::vec(0usize..201, 0..10),
    ) {
        let mut b = SignatureDb::builder();
        for (i, l) in lits.iter().enumerate() {
            b.add_literal(&format!("Lit.{i}"), l);
        }
        let db = Arc::new(b.build().unwrap());
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
        points.sort_unstable();
        let mut s = StreamScanner::new(db);
        let mut last = 0;
        for p in points {
            s.update(&data[last..p]);
            last = p;
        }
        s.update(&data[last..]);
        let mut got: Vec<(String, Option<u64>)> = s
            .finish()
            .detections
            .into_iter()
            .map(|d| (d.name, d.end_offset))
            .collect();
        got.sort();
        let mut want: Vec<(String, Option<u64>)> = lits
            .iter()
            .enumerate()
            .filter_map(|(i, l)| first_end(&data, l).map(|e| (format!("Lit.{i}"), Some(e))))
            .collect();
        want.sort();
        prop_assert_eq!(got, want, "{} literals", lits.len());
    }
}
