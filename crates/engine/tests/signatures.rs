//! Signature matching: built-ins, the ClamAV file formats, match order (CLAMD-DET-*).

mod common;

use common::detected;

use std::sync::Arc;

use scan_engine::{
    eicar, scan_bytes, BuiltinOptions, DbError, DbFileKind, EicarMode, LoadOptions, ScanOptions,
    SignatureDb, StreamScanner, EICAR_SHA1, MARKER_BYTES, MARKER_NAME,
};

fn builtin(mode: EicarMode) -> Arc<SignatureDb> {
    Arc::new(SignatureDb::builtin(&BuiltinOptions {
        eicar_mode: mode,
        ..Default::default()
    }))
}

fn db_from(kind: DbFileKind, text: &str) -> Arc<SignatureDb> {
    db_of(&[(kind, text, "test.db")])
}

/// One database from several files (kind, text, file name), loaded in this order.
fn db_of(files: &[(DbFileKind, &str, &str)]) -> Arc<SignatureDb> {
    let mut b = SignatureDb::builder();
    for (kind, text, name) in files {
        b.add_text(*kind, text, name, &LoadOptions::default())
            .unwrap();
    }
    Arc::new(b.build().unwrap())
}

/// CLAMD-DET-1.
#[test]
fn clamd_det_1_exact_eicar_is_win_test_eicar_hdb_1() {
    let db = builtin(EicarMode::Exact);
    assert_eq!(detected(&db, &eicar()), vec!["Win.Test.EICAR_HDB-1"]);
}

/// CLAMD-DET-3.
#[test]
fn clamd_det_3_eicar_with_newline_or_embedded_is_clean_in_exact_mode() {
    let db = builtin(EicarMode::Exact);
    let e = eicar();
    assert!(detected(&db, &[e.as_slice(), b"\n"].concat()).is_empty());
    assert!(detected(&db, &[b"prefix".as_slice(), &e].concat()).is_empty());
}

#[test]
fn standard_mode_accepts_trailing_whitespace_only() {
    let db = builtin(EicarMode::Standard);
    let e = eicar();
    assert_eq!(
        detected(&db, &[e.as_slice(), b"\r\n"].concat()),
        vec!["Win.Test.EICAR_HDB-1"]
    );
    assert!(detected(&db, &[b" ".as_slice(), &e].concat()).is_empty());
}

#[test]
fn anywhere_mode_reports_the_end_offset() {
    let db = builtin(EicarMode::Anywhere);
    let mut data = vec![b'a'; 1000];
    data.extend(eicar());
    data.extend(vec![b'b'; 1000]);
    let r = scan_bytes(&db, &data);
    assert_eq!(r.detections.len(), 1);
    assert_eq!(r.detections[0].end_offset, Some(1068));
}

/// CLAMD-DET-9.
#[test]
fn clamd_det_9_builtin_marker_matches_anywhere() {
    let db = builtin(EicarMode::Exact);
    let mut data = b"hello ".to_vec();
    data.extend_from_slice(MARKER_BYTES);
    assert_eq!(detected(&db, &data), vec![MARKER_NAME]);
    let off = SignatureDb::builtin(&BuiltinOptions {
        marker: false,
        ..Default::default()
    });
    assert!(detected(&Arc::new(off), &data).is_empty());
}

#[test]
fn sha1_is_computed_in_the_same_pass_and_can_be_disabled() {
    let db = builtin(EicarMode::Exact);
    assert_eq!(scan_bytes(&db, &eicar()).sha1_hex().unwrap(), EICAR_SHA1);
    let mut s = StreamScanner::with_options(
        db,
        ScanOptions {
            sha1: false,
            ..ScanOptions::default()
        },
    );
    s.update(&eicar());
    let r = s.finish();
    assert_eq!(r.sha1, None);
    assert_eq!(r.detections.len(), 1, "disabling SHA-1 keeps detection");
}

/// CLAMD-DET-2.
#[test]
fn clamd_det_2_unofficial_suffix_and_clam_suffix_removal() {
    let db = db_from(
        DbFileKind::Hdb,
        "44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test (Clam)\n",
    );
    assert_eq!(detected(&db, &eicar()), vec!["Eicar-Test.UNOFFICIAL"]);
    let mut b = SignatureDb::builder();
    b.add_text(
        DbFileKind::Hdb,
        "44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test\n",
        "x",
        &LoadOptions {
            unofficial_suffix: false,
        },
    )
    .unwrap();
    assert_eq!(
        detected(&Arc::new(b.build().unwrap()), &eicar()),
        vec!["Eicar-Test"]
    );
}

/// CLAMD-DET-4.
#[test]
fn clamd_det_4_hsb_sha1_sha256_and_wildcard_size() {
    let text = format!(
        "{EICAR_SHA1}:68:ViaSha1\n\
         275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f:*:ViaSha256:73\n\
         44d88612fea8a8f36de82e1278abb02f:69:WrongSize\n"
    );
    let db = db_from(DbFileKind::Hsb, &text);
    assert_eq!(
        detected(&db, &eicar()),
        vec!["ViaSha1.UNOFFICIAL", "ViaSha256.UNOFFICIAL"]
    );
}

/// CLAMD-DET-5.
#[test]
fn clamd_det_5_ndb_offsets_and_wildcards() {
    let text = "\
AtZero:0:0:48454c4c4f
InWindow:0:2,3:574f524c44
AtEof:0:EOF-3:454e44
Wild:0:*:41??43*44{1-2}45(46|47)
Nibble:0:*:5a4?5a
";
    let db = db_from(DbFileKind::Ndb, text);
    assert_eq!(detected(&db, b"HELLO"), vec!["AtZero.UNOFFICIAL"]);
    assert_eq!(detected(&db, b"xxxWORLD"), vec!["InWindow.UNOFFICIAL"]);
    assert!(
        detected(&db, b"xxxxxxWORLD").is_empty(),
        "outside the window"
    );
    assert_eq!(detected(&db, b"the END"), vec!["AtEof.UNOFFICIAL"]);
    assert!(detected(&db, b"the END.").is_empty(), "EOF-3 is exact");
    assert_eq!(detected(&db, b"AxC....DzzEG"), vec!["Wild.UNOFFICIAL"]);
    assert!(detected(&db, b"AxC....DzzzEG").is_empty(), "gap too long");
    assert_eq!(detected(&db, b"ZOZ"), vec!["Nibble.UNOFFICIAL"]);
    assert!(detected(&db, b"ZaZ").is_empty());
}

/// CLAMD-DET-6, as clamd 1.4.6 orders its matches (it stops at the first body match before it
/// looks the hash up): body signatures by lowest match end, ties in DB order, then hash ones.
#[test]
fn clamd_det_6_order_lowest_match_end_then_db_order_then_hash() {
    let db = db_of(&[
        (
            DbFileKind::Ndb,
            "Late:0:*:4c415445\nEarly:0:*:4541524c59\nTieB:0:*:5449\nTieA:0:*:49\n",
            "b.ndb",
        ),
        (
            DbFileKind::Hsb,
            "a822a72bc8d20f1dc2182da8b242d4d24c5c06cb:14:Whole\n",
            "a.hsb",
        ),
    ]);
    // Ends: Early 5, TieB 9, TieA 9 (DB order breaks the tie), Late 14; the hash comes last.
    assert_eq!(
        detected(&db, b"EARLY..TI.LATE"),
        [
            "Early.UNOFFICIAL",
            "TieB.UNOFFICIAL",
            "TieA.UNOFFICIAL",
            "Late.UNOFFICIAL",
            "Whole.UNOFFICIAL"
        ]
    );
    assert_eq!(
        detected(&db, b"EARLY..TI.LATE!"),
        [
            "Early.UNOFFICIAL",
            "TieB.UNOFFICIAL",
            "TieA.UNOFFICIAL",
            "Late.UNOFFICIAL"
        ],
        "a different file does not match the hash"
    );
}

#[test]
fn bad_lines_name_the_file_and_line() {
    let mut b = SignatureDb::builder();
    let err = b
        .add_text(
            DbFileKind::Ndb,
            "Good:0:*:4142\n\nBad:0:*:4\n",
            "/db/x.ndb",
            &LoadOptions::default(),
        )
        .expect_err("odd hex must fail");
    match &err {
        DbError::Parse { origin, line, .. } => {
            assert_eq!(origin, "/db/x.ndb");
            assert_eq!(*line, 3);
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(err.to_string().starts_with("/db/x.ndb:3: "), "{err}");
}

#[test]
fn load_dir_reads_hdb_hsb_ndb_and_ignores_other_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("eicar.hdb"),
        "44d88612fea8a8f36de82e1278abb02f:68:Win.Test.EICAR_HDB-1\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("m.ndb"),
        "Oracle.Test.MarkerA-1:0:*:434c414d442d4f5241434c452d4d41524b45522d41\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("readme.txt"), "not a db").unwrap();
    let db = Arc::new(SignatureDb::load_dir(dir.path(), &LoadOptions::default()).unwrap());
    assert_eq!(db.len(), 2);
    assert_eq!(detected(&db, &eicar()), ["Win.Test.EICAR_HDB-1.UNOFFICIAL"]);
    assert_eq!(
        detected(&db, b"xCLAMD-ORACLE-MARKER-Ax"),
        ["Oracle.Test.MarkerA-1.UNOFFICIAL"]
    );
    std::fs::write(dir.path().join("broken.hdb"), "nothex:68:X\n").unwrap();
    let err = SignatureDb::load_dir(dir.path(), &LoadOptions::default()).unwrap_err();
    assert!(err.to_string().contains("broken.hdb:1:"), "{err}");
}

/// The names `StreamScanner` reports for `data` with clamd's text pass on or off.
fn detected_with_text_pass(db: &Arc<SignatureDb>, data: &[u8], on: bool) -> Vec<String> {
    let mut s = StreamScanner::with_options(
        Arc::clone(db),
        ScanOptions {
            normalized_text: on,
            ..ScanOptions::default()
        },
    );
    for piece in data.chunks(7) {
        s.update(piece);
    }
    s.finish().detections.into_iter().map(|d| d.name).collect()
}

/// CLAMD-DET-6, measured on clamd 1.4.6: a text part is scanned raw and then as normalised
/// text (lower case, UTF-16 read as text), so a lower-case body signature matches upper-case
/// and UTF-16 text, after what the raw pass found; a part typed by its magic (an
/// executable) gets no such pass, and with the pass off (SVSP, byte-exact) neither matches.
#[test]
fn clamd_det_6_the_text_pass_finds_what_only_normalised_text_matches() {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let db = db_of(&[(
        DbFileKind::Ndb,
        &format!(
            "Lower:0:*:{}\nUpper:0:*:{}\n",
            hex(b"lower-case-sig"),
            hex(b"RAW-UPPER")
        ),
        "t.ndb",
    )]);
    let upper = b"Some text with LOWER-CASE-SIG and RAW-UPPER in it\n";
    let mut utf16 = vec![0xff, 0xfe];
    for b in b"utf16 text lower-case-sig end" {
        utf16.extend_from_slice(&[*b, 0]);
    }
    // an executable is typed by its magic, not as text
    let mut binary = b"MZ".to_vec();
    binary.extend_from_slice(&[0; 200]);
    binary.extend_from_slice(b"LOWER-CASE-SIG");
    assert_eq!(
        detected_with_text_pass(&db, upper, true),
        ["Upper.UNOFFICIAL", "Lower.UNOFFICIAL"]
    );
    assert_eq!(
        detected_with_text_pass(&db, upper, false),
        ["Upper.UNOFFICIAL"]
    );
    assert_eq!(
        detected_with_text_pass(&db, &utf16, true),
        ["Lower.UNOFFICIAL"]
    );
    assert!(detected_with_text_pass(&db, &utf16, false).is_empty());
    assert!(detected_with_text_pass(&db, &binary, true).is_empty());
}
