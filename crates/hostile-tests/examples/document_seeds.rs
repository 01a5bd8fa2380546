//! Writes the fuzz seeds of the document targets (`ole2`, `rtf`, `pdf`, `html`) into
//! `fuzz/seeds/<target>/`: each a selector byte then a document from `fixtures::documents`
//! holding a small gzip file (so the walk goes one level further), no signature body. Also
//! the shapes clamd 1.4.6 reads in its own way: a version 4 compound file, a PDF object
//! stream (an indirect length and an action object in it), a Flate stream after a stray
//! line, RTF object data ended early by `\objdata`.
//!
//! `cargo run -p hostile-tests --example document_seeds [-- OUT_DIR]`

use std::path::PathBuf;

use fixtures::documents::*;

fn main() -> std::io::Result<()> {
    let root = std::env::args_os().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds"),
        PathBuf::from,
    );
    let payload = fixtures::gzip_of(Some("note.txt"), b"a harmless fuzz seed payload\n");
    let seeds: Vec<(&str, &str, Vec<u8>)> = vec![
        ("ole2", "package", ole2_with_package("note.gz", &payload)),
        ("ole2", "stream", ole2_of(&[("/Data", &payload)])),
        (
            "ole2",
            "ppt",
            ppt_with_object(&ole2_with_package("note.gz", &payload)),
        ),
        ("rtf", "package", rtf_with_package("note.gz", &payload)),
        (
            "rtf",
            "ole2",
            rtf_with_objdata(&ole1_object(
                "Word.Document.8",
                &ole2_of(&[("/Data", &payload)]),
            )),
        ),
        (
            "pdf",
            "raw",
            pdf_with_embedded_file("n.gz", &payload, PdfEncoding::Raw),
        ),
        (
            "pdf",
            "flate",
            pdf_with_embedded_file("n.gz", &payload, PdfEncoding::Flate),
        ),
        (
            "pdf",
            "hex-flate",
            pdf_with_embedded_file("n.gz", &payload, PdfEncoding::HexFlate),
        ),
        (
            "ole2",
            "v4-package",
            // the Package alone: clamd's v4 walk reaches it (see the v4 differential)
            ole2_v4_of(&[(
                "/ObjectPool/_1/\u{1}Ole10Native",
                &ole10_native("note.gz", &payload),
            )]),
        ),
        ("pdf", "objstm-length", pdf_objstm_seed(&payload)),
        (
            "pdf",
            "flate-junk-line",
            pdf_with_embedded_stream(
                "/Filter /FlateDecode",
                &[&b"junk\r\n"[..], &zlib(&payload)].concat(),
                &[],
            ),
        ),
        ("rtf", "objdata-restart", rtf_restart_seed(&payload)),
        ("html", "base64", html_with_data_uri(&payload, true)),
        ("html", "escaped", html_with_data_uri(&payload, false)),
    ];
    for (target, name, doc) in seeds {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir)?;
        let mut seed = vec![7u8];
        seed.extend_from_slice(&doc);
        std::fs::write(dir.join(name), seed)?;
        println!("{}/{name}: {} bytes", dir.display(), doc.len() + 1);
    }
    Ok(())
}

/// A PDF whose object stream holds object 7 (an indirect length, read as the token after
/// it) and an `/OpenAction` dictionary, then a stream `/Length 7 0 R` holding `payload`.
fn pdf_objstm_seed(payload: &[u8]) -> Vec<u8> {
    let len = payload.len().to_string();
    let (text, first) = object_stream(&[
        (7, b"0"),
        (8, len.as_bytes()),
        (9, b"<< /OpenAction << /S /URI /URI (http://x/) >> >>"),
    ]);
    let data = zlib(&text);
    let dict = format!(
        "<< /Type/ObjStm /N 3 /First {first} /Filter /FlateDecode /Length {} >>",
        data.len()
    );
    pdf_of_objects(&[
        (1, b"<< /Type /Catalog >>".to_vec(), None),
        (3, dict.into_bytes(), Some(data)),
        (5, b"<< /Length 7 0 R >>".to_vec(), Some(payload.to_vec())),
    ])
}

/// An RTF object group whose first object is cut short by `\objdata `, which starts the
/// next one (a Package holding `payload`) in the same group.
fn rtf_restart_seed(payload: &[u8]) -> Vec<u8> {
    let hex = |b: &[u8]| -> String { b.iter().map(|x| format!("{x:02x}")).collect() };
    let mut cut = ole1_object("Package", &[0u8; 64]);
    cut.truncate(40);
    let native = ole10_native("note.gz", payload);
    let good = ole1_object("Package", &native[4..]);
    format!(
        "{{\\rtf1{{\\object\\objemb{{\\*\\objdata {}\\objdata {}}}}}}}\r\n",
        hex(&cut),
        hex(&good)
    )
    .into_bytes()
}
