//! Mail expansion (CLAMD-DET-7): RFC 822 / MIME messages and mbox; parts decoded from
//! base64, quoted-printable and uuencode are scanned as members; clamd's limits apply to them
//! like to gzip members (size known only by decoding).

use std::ops::ControlFlow;
use std::sync::Arc;

use scan_engine::{
    eicar, BuiltinOptions, ContainerKind, LimitExceeded, ScanLimits, SignatureDb, TreeOptions,
    TreeScanner, TreeSummary,
};

fn db() -> Arc<SignatureDb> {
    Arc::new(SignatureDb::builtin(&BuiltinOptions::default()))
}

fn b64(data: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for (i, c) in data.chunks(3).enumerate() {
        if i > 0 && i % 19 == 0 {
            out.push_str("\r\n");
        }
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            out.push(if k <= c.len() {
                A[(n >> (18 - 6 * k) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

fn attachment(data: &[u8], name: &str) -> String {
    format!(
        "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename=\"{name}\"\r\n\r\n{}\r\n",
        b64(data)
    )
}

fn message(boundary: &str, parts: &[String]) -> Vec<u8> {
    let mut m = format!(
        "From: a@example.com\r\nSubject: s\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\npreamble\r\n"
    );
    for p in parts {
        m.push_str(&format!("--{boundary}\r\n{p}"));
    }
    m.push_str(&format!("--{boundary}--\r\n"));
    m.into_bytes()
}

type Seen = Vec<(String, u32, Option<ContainerKind>, bool)>;

fn scan_chunked(data: &[u8], limits: ScanLimits, chunk: usize) -> (Seen, TreeSummary) {
    let mut t = TreeScanner::new(db(), TreeOptions::default(), b"m.eml").with_limits(limits);
    for c in data.chunks(chunk.max(1)) {
        t.update(c).unwrap();
    }
    let mut seen = Seen::new();
    let summary = t
        .finish(&mut |p| {
            let chain: Vec<String> = p
                .chain
                .iter()
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect();
            seen.push((chain.join(" -> "), p.depth, p.opened, !p.result.is_clean()));
            ControlFlow::Continue(())
        })
        .unwrap();
    (seen, summary)
}

fn scan(data: &[u8], limits: ScanLimits) -> (Seen, TreeSummary) {
    scan_chunked(data, limits, 64 * 1024)
}

fn infected(seen: &Seen) -> Vec<&str> {
    seen.iter().filter(|s| s.3).map(|s| s.0.as_str()).collect()
}

/// A message of a text part and EICAR attached as `e.com`.
fn text_and_eicar() -> Vec<u8> {
    let text = "Content-Type: text/plain\r\n\r\nhi\r\n".to_string();
    message("b", &[text, attachment(&eicar(), "e.com")])
}

/// `m` under `limits` finds nothing, and the scan says `hit` stopped it.
fn assert_stopped_by(m: &[u8], limits: ScanLimits, hit: LimitExceeded) {
    let (seen, summary) = scan(m, limits);
    assert!(infected(&seen).is_empty(), "{hit:?}: {seen:?}");
    assert_eq!(summary.exceeded, Some(hit));
}

/// CLAMD-DET-7: a base64 attachment is decoded and scanned as a member of the message.
#[test]
fn mail_base64_attachment_is_found_as_a_member() {
    let m = text_and_eicar();
    let (seen, summary) = scan(&m, ScanLimits::default());
    assert_eq!(seen[0].2, Some(ContainerKind::Mail), "root opened as mail");
    assert_eq!(infected(&seen), vec!["e.com"]);
    assert!(
        summary.root.is_clean(),
        "the encoded message itself is clean"
    );
}

/// CLAMD-DET-7: multipart inside multipart inside message/rfc822 inside multipart.
#[test]
fn mail_nested_rfc822_and_multiparts_at_depth() {
    let innermost = message("in3", &[attachment(&eicar(), "deep.com")]);
    let rfc822 = format!(
        "Content-Type: message/rfc822\r\n\r\n{}",
        String::from_utf8(innermost).unwrap()
    );
    let mid = format!(
        "Content-Type: multipart/alternative; boundary=in2\r\n\r\n--in2\r\n{rfc822}--in2--\r\n"
    );
    let m = message("in1", &[mid]);
    let (seen, _) = scan(&m, ScanLimits::default());
    // the enclosed message is an (unnamed) member of its own, as clamd extracts it
    assert_eq!(infected(&seen), vec![" -> deep.com"]);
}

/// CLAMD-DET-7: uuencoded data in a plain (non-MIME) body and mbox with several messages.
#[test]
fn mail_uuencode_outside_mime_and_mbox() {
    // uuencode of the EICAR file, built here
    let e = eicar();
    let uu = fixtures::documents::uuencode("u.com", &e, "\n");
    let mbox = format!(
        "From a Mon Jan  1 00:00:00 2026\nSubject: one\n\nhello\n\n\
From b Mon Jan  1 00:00:01 2026\nSubject: two\n\nsee:\n{uu}bye\n"
    );
    let (seen, _) = scan(mbox.as_bytes(), ScanLimits::default());
    assert_eq!(infected(&seen), vec!["u.com"]);
}

/// CLAMD-DET-3 via mail: a text part is scanned with its line breaks, so a quoted-printable
/// text EICAR is not the 68-byte file (clamd 1.4.6 answers OK under the hash signature);
/// with a soft line break at its end it is.
#[test]
fn mail_quoted_printable_text_keeps_its_line_break() {
    let text = String::from_utf8(eicar()).unwrap();
    let qp = |body: String| {
        message(
            "q",
            &[format!(
                "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{body}\r\n"
            )],
        )
    };
    let db = Arc::new(SignatureDb::builtin(&BuiltinOptions {
        eicar_mode: scan_engine::EicarMode::Exact,
        ..BuiltinOptions::default()
    }));
    let found = |m: &[u8]| {
        let mut hit = false;
        scan_engine::scan_reader(Arc::clone(&db), TreeOptions::default(), b"q", m, &mut |p| {
            hit |= !p.result.is_clean();
            ControlFlow::Continue(())
        })
        .unwrap();
        hit
    };
    assert!(!found(&qp(text.clone())));
    assert!(found(&qp(format!("{text}="))));
}

/// CLAMD-CONF-3 MaxFiles: each decoded part counts as a file; the next one stops the scan.
/// (MaxFileSize cannot cut a part: a decoded part is never larger than its message, and a
/// message over MaxFileSize is not scanned at all.)
#[test]
fn mail_limits_max_files_counts_parts() {
    let m = text_and_eicar();
    let limits = ScanLimits {
        max_files: 1,
        ..ScanLimits::default()
    };
    assert_stopped_by(&m, limits, LimitExceeded::MaxFiles);
    let (seen, _) = scan(
        &m,
        ScanLimits {
            max_files: 2,
            ..ScanLimits::default()
        },
    );
    assert_eq!(infected(&seen), vec!["e.com"]);
}

/// CLAMD-CONF-3 MaxRecursion 1: the message's parts (level 1) are not scanned.
#[test]
fn mail_limits_max_recursion_keeps_the_message_closed() {
    let m = message("b", &[attachment(&eicar(), "e.com")]);
    let limits = ScanLimits {
        max_recursion: 1,
        ..ScanLimits::default()
    };
    assert_stopped_by(&m, limits, LimitExceeded::MaxRecursion);
}

/// CLAMD-CONF-3 MaxScanSize: the budget counts decoded parts; a part that does not fit
/// ends the message.
#[test]
fn mail_limits_max_scan_size_ends_the_message() {
    let filler = vec![b'z'; 4000];
    let m = message(
        "b",
        &[attachment(&filler, "f.bin"), attachment(&eicar(), "e.com")],
    );
    let limits = ScanLimits {
        max_scan_size: m.len() as u64 + 4000 + 10,
        ..ScanLimits::default()
    };
    assert_stopped_by(&m, limits, LimitExceeded::MaxScanSize);
}

/// Bounded memory: a message larger than the spill threshold is spooled to a temporary
/// file and its parts still found; chunking does not change the walk.
#[test]
fn mail_large_message_spools_and_chunking_does_not_matter() {
    let filler = vec![7u8; 6 << 20];
    let m = message(
        "b",
        &[attachment(&filler, "f.bin"), attachment(&eicar(), "e.com")],
    );
    let (a, _) = scan(&m, ScanLimits::default());
    assert_eq!(infected(&a), vec!["e.com"]);
    let small = message(
        "b",
        &[
            "Content-Type: text/plain\r\n\r\nx\r\n".into(),
            attachment(&eicar(), "e.com"),
        ],
    );
    let (whole, _) = scan(&small, ScanLimits::default());
    for chunk in [1, 3, 77] {
        assert_eq!(scan_chunked(&small, ScanLimits::default(), chunk).0, whole);
    }
}
