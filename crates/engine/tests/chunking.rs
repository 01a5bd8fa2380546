//! The invariant: a verdict never depends on how the stream was chunked (issue 3).

use std::sync::Arc;

use proptest::prelude::*;
use scan_engine::{
    eicar, scan_bytes, DbFileKind, EicarMode, LoadOptions, ScanResult, SignatureDb, StreamScanner,
};

fn mixed_db() -> Arc<SignatureDb> {
    let mut b = SignatureDb::builder();
    b.add_eicar("Eicar-Hash", EicarMode::Exact);
    b.add_eicar("Eicar-Anywhere", EicarMode::Anywhere);
    b.add_literal("Marker", b"MARKER-XYZ");
    b.add_text(
        DbFileKind::Ndb,
        "Wild:0:*:41??43*44{1-3}45\nTail:0:EOF-4:54??4c4c\nHead:0:0,3:48454144\n",
        "mixed.ndb",
        &LoadOptions::default(),
    )
    .unwrap();
    b.add_eicar("Eicar-Standard", EicarMode::Standard);
    Arc::new(b.build().unwrap())
}

/// More literals than are searched one by one: the Aho-Corasick path.
fn many_literals_db() -> Arc<SignatureDb> {
    let mut b = SignatureDb::builder();
    b.add_literal("Marker", b"MARKER-XYZ");
    for i in 0..10 {
        b.add_literal(
            &format!("Other{i}"),
            format!("other-literal-{i}").as_bytes(),
        );
    }
    Arc::new(b.build().unwrap())
}

fn scan_split(db: &Arc<SignatureDb>, data: &[u8], cuts: &[usize]) -> ScanResult {
    split_with(StreamScanner::new(Arc::clone(db)), data, cuts)
}

fn split_with(mut s: StreamScanner, data: &[u8], cuts: &[usize]) -> ScanResult {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    points.sort_unstable();
    let mut last = 0;
    for p in points {
        s.update(&data[last..p]);
        last = p;
    }
    s.update(&data[last..]);
    s.finish()
}

/// Inputs built from pieces that contain every signature, or near misses of them.
fn input() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(eicar()),
        Just(b"MARKER-XYZ".to_vec()),
        Just(b"MARKER-XY".to_vec()),
        Just(b"AbC..DxE".to_vec()),
        Just(b"HEAD".to_vec()),
        Just(b"TxLL".to_vec()),
        Just(b"\r\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..40),
    ];
    proptest::collection::vec(piece, 0..8).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn verdict_is_independent_of_chunking(
        data in input(),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let db = mixed_db();
        let whole = scan_bytes(&db, &data);
        let split = scan_split(&db, &data, &cuts);
        prop_assert_eq!(whole, split);
    }

    /// CLAMD-SCAN-9: all-match records every match, overlapping ones included, whatever the
    /// chunking (a marker found twice over a chunk boundary counts once).
    #[test]
    fn all_matches_are_independent_of_chunking(
        data in input(),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        for db in [mixed_db(), many_literals_db()] {
            let all = || StreamScanner::new(Arc::clone(&db)).with_all_matches();
            let whole = split_with(all(), &data, &[]);
            let split = split_with(all(), &data, &cuts);
            let ones: Vec<usize> = (0..data.len()).collect();
            prop_assert_eq!(&whole, &split);
            prop_assert_eq!(&whole, &split_with(all(), &data, &ones));
            let markers = data.windows(10).filter(|w| w == b"MARKER-XYZ").count();
            let found = whole.all.as_ref().unwrap().raw.iter().filter(|d| d.name == "Marker").count();
            prop_assert_eq!(markers, found);
        }
    }

    #[test]
    fn one_byte_chunks_equal_one_chunk(data in input()) {
        let db = mixed_db();
        let cuts: Vec<usize> = (0..data.len()).collect();
        prop_assert_eq!(scan_bytes(&db, &data), scan_split(&db, &data, &cuts));
    }

    #[test]
    fn eicar_is_found_at_any_offset_split_anywhere(
        prefix in proptest::collection::vec(any::<u8>(), 0..300),
        cut in 0usize..400,
    ) {
        let db = mixed_db();
        let mut data = prefix.clone();
        data.extend(eicar());
        let r = scan_split(&db, &data, &[cut]);
        let found = r.detections.iter().find(|d| d.name == "Eicar-Anywhere");
        prop_assert_eq!(found.and_then(|d| d.end_offset), Some(prefix.len() as u64 + 68));
    }
}
