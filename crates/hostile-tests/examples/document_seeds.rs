//! Writes the fuzz seeds of the document targets (`ole2`, `rtf`, `pdf`, `html`) into
//! `fuzz/seeds/<target>/`: each a selector byte then a document from `fixtures::documents`
//! holding a small gzip file (so the walk goes one level further), no signature body.
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
