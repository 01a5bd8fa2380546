//! Documents as clamd 1.4.6 unpacks them (CLAMD-DET-7): OLE2 compound files (streams,
//! `Ole10Native` payloads, PowerPoint's embedded objects), RTF `\objdata` objects, PDF
//! streams and HTML `data:` URIs.

mod common;

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

use scan_engine::{LoadOptions, SignatureDb, TreeOptions, TreeScanner};

const TESTFILES: &str = "/usr/share/clamav-testfiles";

/// A database holding one hash signature: the MD5 and size of `clam.exe`.
fn clam_exe_db(clam_exe: &[u8]) -> Arc<SignatureDb> {
    let dir = tempfile::tempdir().expect("tempdir");
    let md5 = hex::encode(<md5::Md5 as md5::Digest>::digest(clam_exe));
    let line = format!("{md5}:{}:Clam.Exe.Testfile-1\n", clam_exe.len());
    std::fs::write(dir.path().join("clamexe.hdb"), line).expect("write hdb");
    Arc::new(SignatureDb::load_dir(dir.path(), &LoadOptions::default()).expect("db"))
}

/// (chain, infected) of every part of `data`.
fn parts(db: &Arc<SignatureDb>, name: &str, data: &[u8]) -> Vec<(String, bool)> {
    let (seen, _) = common::scan_with(Arc::clone(db), name.as_bytes(), data, Default::default());
    seen.into_iter()
        .map(|(chain, _, infected)| (chain, infected))
        .collect()
}

/// CLAMD-DET-7: clamd finds `clam.exe` (by its hash) inside the Word, PowerPoint, RTF, PDF
/// and HTML test files of clamav-testfiles; so does the engine, in the part clamd finds it.
#[test]
fn clamav_testfiles_documents_hold_clam_exe_where_clamd_finds_it() {
    let dir = Path::new(TESTFILES);
    let Ok(clam_exe) = std::fs::read(dir.join("clam.exe")) else {
        assert!(
            std::env::var("AVC_REQUIRE_CLAMD").as_deref() != Ok("1"),
            "AVC_REQUIRE_CLAMD=1 but {TESTFILES} is missing"
        );
        println!("SKIP: {TESTFILES}/clam.exe missing (apt-get install clamav-testfiles)");
        return;
    };
    let db = clam_exe_db(&clam_exe);
    for (file, part) in [
        (
            "clam.ole.doc",
            "ObjectPool/_1279313719/\u{1}Ole10Native/payload",
        ),
        ("clam.ppt", "ppt00001152.doc -> \u{1}Ole10Native/payload"),
        ("clam.exe.rtf", "objdata 1"),
        ("clam.pdf", "15 0 obj"),
        ("clam.exe.html", "data 1 -> "),
    ] {
        let data = std::fs::read(dir.join(file)).expect("read test file");
        let seen = parts(&db, file, &data);
        let infected: Vec<&str> = seen
            .iter()
            .filter(|(_, bad)| *bad)
            .map(|(c, _)| c.as_str())
            .collect();
        println!("{file}: {seen:?}");
        assert_eq!(infected, [part], "{file}");
    }
}

/// CLAMD-DET-7, bounded memory: a PDF larger than the spill threshold is read from its
/// temporary file (two passes, seeks) and its stream still yields EICAR, whole.
#[test]
fn pdf_spooled_to_a_temporary_file_still_yields_its_streams() {
    let db = Arc::new(SignatureDb::builtin(&scan_engine::BuiltinOptions::default()));
    let mut pdf = b"%PDF-1.4\n".to_vec();
    pdf.resize(300_000, b' ');
    pdf.extend_from_slice(b"\n4 0 obj\n<</Length 68>>\nstream\n");
    pdf.extend_from_slice(&scan_engine::eicar());
    pdf.extend_from_slice(b"\nendstream\nendobj\n%%EOF\n");
    let opts = TreeOptions {
        spill_threshold: 64 << 10,
        ..TreeOptions::default()
    };
    let mut infected = Vec::new();
    TreeScanner::new(db, opts, b"big.pdf")
        .scan_reader(&pdf[..], &mut |p| {
            if !p.result.is_clean() {
                infected.push(p.chain.concat());
            }
            ControlFlow::Continue(())
        })
        .expect("scan");
    assert_eq!(infected, [b"4 0 obj".to_vec()]);
}

/// CLAMD-DET-7: every committed fuzz seed of the document targets (a selector byte, then a
/// document: PDFs whose streams use the filters and lengths clamd decodes, Flate, ASCIIHex,
/// ASCII85, LZW with `/EarlyChange 0`, RunLength, an indirect `/Length` (also one in an
/// object stream), a page's `/Contents`, Flate after a stray line; compound files v3 and
/// v4; RTF object data, also restarted by `\objdata`; HTML `data:` URIs) gets the walk
/// into the gzip file it holds, so the fuzzer starts past the document layer.
#[test]
fn document_fuzz_seeds_reach_their_gzip_payload() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
    for (target, at_least) in [("pdf", 10), ("ole2", 4), ("rtf", 4), ("html", 2)] {
        let mut seeds: Vec<_> = std::fs::read_dir(root.join(target))
            .expect("fuzz/seeds/<target>")
            .map(|e| e.expect("entry").path())
            .collect();
        seeds.sort();
        assert!(seeds.len() >= at_least, "{seeds:?}");
        for seed in seeds {
            let data = std::fs::read(&seed).expect("read seed");
            let (seen, _) = common::scan_as(b"seed", &data[1..], Default::default());
            let gzips = seen
                .iter()
                .filter(|(_, opened, _)| *opened == Some(scan_engine::ContainerKind::Gzip))
                .count();
            assert!(gzips >= 1, "{}: {seen:?}", seed.display());
        }
    }
}
