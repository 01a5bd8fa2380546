//! The fuzz targets. Every function takes arbitrary bytes; it must never panic.
//!
//! Besides "does not panic", each target checks properties that must hold for any input:
//! buffers stay within their bounds, decoders make progress, verdicts do not depend on how
//! the input was split into reads, and encode/parse round trips agree.

use std::ops::ControlFlow;
use std::sync::Arc;

use clamd_proto::{Command, CommandDecoder, InstreamDecoder, InstreamEvent, COMMAND_BUFFER_SIZE};
use scan_engine::{
    BuiltinOptions, DbFileKind, EicarMode, LoadOptions, SignatureDb, StreamScanner, TreeOptions,
    TreeScanner,
};

/// A fuzz target: name, one-line description, body.
#[derive(Clone, Copy)]
pub struct Target {
    pub name: &'static str,
    pub about: &'static str,
    pub run: fn(&[u8]),
}

/// Every target, in `cargo xtask fuzz --list` order.
pub const TARGETS: &[Target] = &[
    Target {
        name: "clamd_command",
        about: "clamd_proto::CommandDecoder over arbitrary reads (CLAMD-TRANS-4, FRAME-*, PARSE-*)",
        run: clamd_command,
    },
    Target {
        name: "clamd_instream",
        about: "clamd_proto::InstreamDecoder, quota and split independence (CLAMD-INSTREAM-*)",
        run: clamd_instream,
    },
    Target {
        name: "clamd_conf",
        about: "fake_clamd::conf::ClamdConf::parse + Config::from_conf (CLAMD-CONF-*)",
        run: clamd_conf,
    },
    Target {
        name: "svsp_line",
        about: "svsp_proto::LineFramer + parse_line, encode/parse round trip (SVSP-FRAME-*, section 5-7)",
        run: svsp_line,
    },
    Target {
        name: "svsp_response",
        about: "svsp_proto::parse_response, parse/encode/parse round trip (section 13)",
        run: svsp_response,
    },
    Target {
        name: "sigdb",
        about: "scan_engine DbBuilder::add_text for .hdb/.hsb/.ndb, then scan: split independence",
        run: sigdb,
    },
    Target {
        name: "archive",
        about: "scan_engine::scan_reader (tar/gzip/zip) with small limits vs TreeScanner in chunks",
        run: archive,
    },
    Target {
        name: "mail",
        about: "scan_engine mail/MIME/mbox walk (base64, QP, uuencode, nesting): split independence (CLAMD-DET-7)",
        run: mail,
    },
    Target {
        name: "compressed",
        about: "scan_engine bzip2/xz members (and zip bzip2/deflate64): limits, split independence (CLAMD-DET-7)",
        run: compressed,
    },
    Target {
        name: "cpio",
        about: "scan_engine cpio walk (odc/newc/crc/binary LE+BE headers): limits, split independence (CLAMD-DET-7)",
        run: cpio,
    },
    Target {
        name: "sevenz",
        about: "scan_engine 7z walk (sevenz-rust2, memory-limited coders): limits, split independence (CLAMD-DET-7)",
        run: sevenz,
    },
    Target {
        name: "ole2",
        about: "scan_engine OLE2 walk (cfb streams, Ole10Native, PowerPoint objects): limits, split independence (CLAMD-DET-7)",
        run: ole2,
    },
    Target {
        name: "rtf",
        about: "scan_engine RTF \\objdata objects (hex, OLE1 headers): limits, split independence (CLAMD-DET-7)",
        run: rtf,
    },
    Target {
        name: "pdf",
        about: "scan_engine PDF streams (Flate, ASCIIHex, /Length): limits, split independence (CLAMD-DET-7)",
        run: pdf,
    },
    Target {
        name: "html",
        about: "scan_engine HTML data: URIs (as mail messages): limits, split independence (CLAMD-DET-7)",
        run: html,
    },
    Target {
        name: "legacy",
        about: "scan_engine BinHex/SZDD/TNEF/CAB/SIS/ARJ/CHM/zip-implode walks (clamd's older containers): limits, split independence (CLAMD-DET-7)",
        run: legacy,
    },
];

/// The target called `name`.
pub fn by_name(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// Deterministic read sizes derived from the input (xorshift), so that the fuzzer
/// controls how the bytes are split into "socket reads".
struct Splits(u64);

impl Splits {
    fn new(seed: &[u8]) -> Self {
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        for &b in seed {
            s = (s ^ u64::from(b)).wrapping_mul(0x100_0000_01B3);
        }
        Splits(s | 1)
    }

    /// One-byte reads (xorshift's fixed point 0 always draws 1).
    fn one_byte() -> Self {
        Splits(0)
    }

    /// `data` cut into consecutive reads of the sizes [`Self::next`] draws.
    fn pieces(mut self, mut data: &[u8]) -> impl Iterator<Item = &[u8]> {
        std::iter::from_fn(move || {
            if data.is_empty() {
                return None;
            }
            let (piece, rest) = data.split_at(self.next(data.len()).min(data.len()));
            data = rest;
            Some(piece)
        })
    }

    /// Next read size in 1..=max.
    fn next(&mut self, max: usize) -> usize {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        // mostly small reads, sometimes large ones
        let n = if x & 3 == 0 {
            (x >> 8) as usize % 4096
        } else {
            (x >> 8) as usize % 17
        };
        n.clamp(1, max.max(1))
    }
}

fn split_first(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((b, rest)) => (*b, rest),
        None => (0, data),
    }
}

/// clamd command decoder: the buffer never exceeds its capacity, every request consumes
/// input, an over-long command is reported exactly when a read does not fit (FRAME-9),
/// and `take_buffered` + `restore` (INSTREAM inside a session) never fails.
pub fn clamd_command(data: &[u8]) {
    let (sel, rest) = split_first(data);
    let capacity = if sel & 1 == 0 {
        COMMAND_BUFFER_SIZE
    } else {
        8 + usize::from(sel >> 1)
    };
    let mut dec = CommandDecoder::with_capacity(capacity);
    for read in Splits::new(&[sel]).pieces(rest) {
        let free = dec.free_space();
        let n = read.len();
        match dec.feed(read) {
            Ok(()) => assert!(n <= free, "feed accepted {n} bytes with {free} free"),
            Err(_) => {
                assert!(n > free, "feed refused {n} bytes with {free} free");
                return; // the server closes the connection (CLAMD-FRAME-9)
            }
        }
        assert!(dec.buffered().len() <= dec.capacity());
        let mut guard = 0;
        loop {
            let before = dec.buffered().len();
            let Some(req) = dec.next_request() else { break };
            let after = dec.buffered().len();
            assert!(after < before, "request {req:?} consumed nothing");
            if req.command == Command::Instream {
                let rest = dec.take_buffered();
                assert!(dec.buffered().is_empty());
                dec.restore(&rest)
                    .expect("restoring bytes taken from the buffer must fit");
                assert_eq!(dec.buffered(), &rest[..]);
            }
            guard += 1;
            assert!(guard <= capacity + 1, "next_request does not terminate");
        }
    }
}

fn run_instream(quota: u64, input: &[u8], reads: &mut Splits) -> (Vec<u8>, Option<String>, usize) {
    let mut dec = InstreamDecoder::new(quota);
    let mut payload = Vec::new();
    let mut outcome = None;
    let mut consumed_total = 0;
    let mut rest = input;
    'reads: while !rest.is_empty() {
        let n = reads.next(rest.len()).min(rest.len());
        let mut chunk = &rest[..n];
        rest = &rest[n..];
        loop {
            let (used, ev) = dec.decode(chunk);
            assert!(used <= chunk.len());
            consumed_total += used;
            chunk = &chunk[used..];
            match ev {
                InstreamEvent::Data(d) => {
                    assert!(!d.is_empty(), "empty Data event");
                    payload.extend_from_slice(d);
                }
                InstreamEvent::NeedMore => {
                    assert!(chunk.is_empty() || dec.is_failed());
                    if dec.is_failed() {
                        break 'reads;
                    }
                    break;
                }
                InstreamEvent::End => {
                    assert!(dec.is_done());
                    outcome = Some("end".to_string());
                    break 'reads;
                }
                InstreamEvent::LimitExceeded {
                    requested,
                    remaining,
                } => {
                    assert!(u64::from(requested) > remaining);
                    assert!(dec.is_failed());
                    outcome = Some(format!("limit {requested} {remaining}"));
                    break 'reads;
                }
            }
        }
    }
    assert!(
        payload.len() as u64 <= quota,
        "payload beyond StreamMaxLength"
    );
    assert!(dec.total_announced() <= quota);
    (payload, outcome, consumed_total)
}

/// INSTREAM decoder: the payload never exceeds the quota (CLAMD-INSTREAM-4), and payload,
/// outcome and consumed length do not depend on how the stream is split into reads.
pub fn clamd_instream(data: &[u8]) {
    if data.len() < 3 {
        return;
    }
    let quota = u64::from(u16::from_be_bytes([data[0], data[1]]));
    let seed = data[2];
    let stream = &data[3..];
    let whole = run_instream(quota, stream, &mut Splits::one_byte());
    let split = run_instream(quota, stream, &mut Splits::new(&[seed]));
    assert_eq!(whole, split, "INSTREAM result depends on read boundaries");
}

/// clamd.conf: parsing never panics; a parsed file converts to a `Config` or a clear error.
pub fn clamd_conf(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(conf) = fake_clamd::conf::ClamdConf::parse(&text, "fuzz.conf") {
        let _ = fake_clamd::Config::from_conf(&conf);
        // `set` with the first line split at the first space, like an override flag
        let mut conf = conf;
        if let Some(line) = text.lines().next() {
            if let Some((k, v)) = line.split_once(' ') {
                let _ = conf.set(k, v);
            }
        }
    }
}

fn svsp_cfg(sel: u8) -> svsp_proto::ParseConfig {
    svsp_proto::ParseConfig {
        profile: if sel & 1 == 0 {
            svsp_proto::Profile::Full
        } else {
            svsp_proto::Profile::FirstVersion
        },
        enable_future: sel & 2 != 0,
        stream_max_length: if sel & 4 == 0 { 1 << 20 } else { u64::MAX },
    }
}

/// SVSP command lines: the framer bounds lines (SVSP-FRAME-4); `parse_line` never panics;
/// a parsed command that the client encoder can write parses back to the same command.
pub fn svsp_line(data: &[u8]) {
    let (sel, rest) = split_first(data);
    let cfg = svsp_cfg(sel);
    let max_line = if sel & 8 == 0 {
        64
    } else {
        svsp_proto::DEFAULT_MAX_LINE
    };
    let mut framer = svsp_proto::LineFramer::new(max_line);
    for read in Splits::new(&[sel]).pieces(rest) {
        framer.push(read);
        while let Some(frame) = framer.next_frame() {
            if let svsp_proto::Frame::Line(line) = frame {
                assert!(line.len() <= max_line);
                assert!(!line.contains(&b'\n'));
                check_svsp_line(&line, &cfg);
            }
        }
        assert!(
            framer.buffered() <= max_line + 1,
            "framer buffers {} bytes with max_line {max_line}",
            framer.buffered()
        );
    }
    // the unframed input as one line, too
    check_svsp_line(rest, &cfg);
}

fn check_svsp_line(line: &[u8], cfg: &svsp_proto::ParseConfig) {
    let parsed = svsp_proto::parse_line(line, cfg);
    if let svsp_proto::Parsed::Command { id, command } = &parsed {
        if let Ok(wire) = command.encode(id.as_ref(), svsp_proto::Eol::Lf) {
            let body = wire.strip_suffix(b"\n").expect("encode ends with the EOL");
            let again = svsp_proto::parse_line(body, cfg);
            assert_eq!(
                again,
                parsed,
                "round trip changed the command: {:?} -> {:?}",
                String::from_utf8_lossy(line),
                String::from_utf8_lossy(body)
            );
        }
    }
}

/// SVSP responses: `parse_response` never panics on raw bytes; each line as a client's
/// framer delivers it (LF split, CR stripped) parses to a response that, re-encoded with
/// `to_wire`, parses back to the same value.
pub fn svsp_response(data: &[u8]) {
    let _ = svsp_proto::parse_response(data);
    let mut framer = svsp_proto::LineFramer::new(svsp_proto::DEFAULT_MAX_LINE);
    framer.push(data);
    framer.push(b"\n");
    while let Some(frame) = framer.next_frame() {
        let svsp_proto::Frame::Line(line) = frame else {
            continue;
        };
        if let Ok(Some(mut resp)) = svsp_proto::parse_response(&line) {
            // SVSP-ID-3: READY and DENIED never carry an id; the tolerant parser accepts
            // one, the encoder (rightly) drops it.
            if matches!(
                resp.body,
                svsp_proto::Body::Ready | svsp_proto::Body::Denied
            ) {
                resp.id = None;
            }
            let wire = resp.to_wire();
            let again = svsp_proto::parse_response(&wire);
            assert_eq!(
                again.as_ref().ok().and_then(|r| r.as_ref()),
                Some(&resp),
                "{:?} -> {:?} -> {:?}",
                String::from_utf8_lossy(&line),
                String::from_utf8_lossy(&wire),
                again
            );
        }
    }
}

/// Signature files: `add_text` never panics; a database that builds gives the same
/// verdict for a payload whether scanned at once or in arbitrary chunks.
/// Input: kind selector, signature text, 0xFF, payload.
pub fn sigdb(data: &[u8]) {
    let (sel, rest) = split_first(data);
    let kind = match sel % 3 {
        0 => DbFileKind::Hdb,
        1 => DbFileKind::Hsb,
        _ => DbFileKind::Ndb,
    };
    let (text, payload) = match rest.iter().position(|&b| b == 0xFF) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let text = String::from_utf8_lossy(text);
    let mut builder = SignatureDb::builder();
    let opts = LoadOptions {
        unofficial_suffix: sel & 0x80 != 0,
    };
    if builder.add_text(kind, &text, "fuzz", &opts).is_err() {
        return;
    }
    let Ok(db) = builder.build() else { return };
    let db = Arc::new(db);
    let whole = scan_engine::scan_bytes(&db, payload);
    assert_eq!(whole.size, payload.len() as u64);
    let mut scanner = StreamScanner::new(Arc::clone(&db));
    for read in Splits::new(&[sel]).pieces(payload) {
        scanner.update(read);
    }
    let chunked = scanner.finish();
    assert_eq!(whole, chunked, "verdict depends on chunking");
}

fn archive_opts() -> TreeOptions {
    TreeOptions {
        max_depth: Some(4),
        max_members: 64,
        max_expanded_bytes: 1 << 20,
        spill_threshold: 64 << 10,
        ..TreeOptions::default()
    }
}

/// Built once per process: compiling the matcher per input would dominate the run time.
fn archive_db() -> Arc<SignatureDb> {
    static DB: std::sync::OnceLock<Arc<SignatureDb>> = std::sync::OnceLock::new();
    Arc::clone(DB.get_or_init(|| {
        Arc::new(SignatureDb::builtin(&BuiltinOptions {
            eicar_mode: EicarMode::Anywhere,
            ..BuiltinOptions::default()
        }))
    }))
}

/// One line per visited part: chain, depth, container kind, size, detections.
type PartLog = Vec<String>;

fn log_part(log: &mut PartLog, ev: &scan_engine::PartEvent<'_>) {
    let names: Vec<String> = ev
        .chain
        .iter()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    let dets: Vec<&str> = ev
        .result
        .detections
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    log.push(format!(
        "{names:?} d={} {:?} size={} {dets:?}",
        ev.depth, ev.opened, ev.result.size
    ));
}

/// Archives: `scan_reader` with small limits never panics, stays within its member limit,
/// reports the root size, and agrees with a `TreeScanner` fed in arbitrary chunks.
pub fn archive(data: &[u8]) {
    let (sel, body) = split_first(data);
    let db = archive_db();
    let opts = archive_opts();
    let mut log_a = PartLog::new();
    let a = scan_engine::scan_reader(
        Arc::clone(&db),
        opts.clone(),
        b"fuzz.bin",
        body,
        &mut |ev| {
            log_part(&mut log_a, &ev);
            ControlFlow::Continue(())
        },
    );
    let mut tree = TreeScanner::new(db, opts.clone(), b"fuzz.bin");
    // stops at the first refused read, as the daemon does
    let fed = Splits::new(&[sel])
        .pieces(body)
        .try_for_each(|read| tree.update(read));
    let mut log_b = PartLog::new();
    let b = fed.and_then(|()| {
        tree.finish(&mut |ev| {
            log_part(&mut log_b, &ev);
            ControlFlow::Continue(())
        })
    });
    match (&a, &b) {
        (Ok(sa), Ok(sb)) => {
            assert_eq!(sa.root.size, body.len() as u64);
            assert_eq!(sa.root, sb.root);
            assert_eq!((sa.parts, sa.truncated), (sb.parts, sb.truncated));
            assert_eq!(log_a, log_b, "tree walk depends on chunking");
            // members beyond the root: bounded by max_members
            assert!(
                sa.parts <= opts.max_members + 1,
                "{} parts with max_members {}",
                sa.parts,
                opts.max_members
            );
        }
        (Err(_), Err(_)) => {}
        _ => panic!("scan_reader {a:?} vs chunked TreeScanner {b:?}"),
    }
}

/// Mail headers that make any input a MIME message with a few boundaries the fuzzer can hit.
const MAIL_PREFIX: &[u8] = b"From: f\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n";

/// Mail: the input, behind headers that make it a multipart message, is walked like any
/// archive (same properties as [`archive`]: no panic, member limit, split independence).
pub fn mail(data: &[u8]) {
    let (sel, body) = split_first(data);
    archive_behind(sel, (sel & 1 == 0).then_some(MAIL_PREFIX), body);
}

/// The selector byte, then `prefix` (if any), then `body`, walked like any archive.
fn archive_behind(sel: u8, prefix: Option<&[u8]>, body: &[u8]) {
    let prefix = prefix.unwrap_or_default();
    let mut input = Vec::with_capacity(1 + prefix.len() + body.len());
    input.push(sel);
    input.extend_from_slice(prefix);
    input.extend_from_slice(body);
    archive(&input);
}

/// bzip2 / xz: the same walk and properties as [`archive`]; the seeds are compressed files,
/// so the fuzzer starts inside these decoders.
pub fn compressed(data: &[u8]) {
    archive(data);
}

/// The cpio header magics, one picked by the selector byte.
const CPIO_MAGICS: [&[u8]; 5] = [b"070707", b"070701", b"070702", b"\xc7\x71", b"\x71\xc7"];

/// cpio: the input behind a cpio magic (picked by the selector; none for selectors >= 5, so
/// that seeds which are whole archives are fuzzed as they are), walked like any archive.
pub fn cpio(data: &[u8]) {
    let (sel, body) = split_first(data);
    archive_behind(sel, CPIO_MAGICS.get(usize::from(sel % 8)).copied(), body);
}

/// The 7z signature and version 0.4.
const SEVENZ_SIGNATURE: &[u8] = b"7z\xbc\xaf\x27\x1c\x00\x04";

/// 7z: the input, behind the 7z signature when it lacks one, walked like any archive (the
/// seeds are small 7z files with Copy and LZMA coders).
pub fn sevenz(data: &[u8]) {
    behind_magic(data, SEVENZ_SIGNATURE, 6);
}

/// The input behind `magic` when its first `check` bytes are not those of `magic` (seeds
/// that are whole files are fuzzed as they are), walked like any archive.
fn behind_magic(data: &[u8], magic: &[u8], check: usize) {
    let (sel, body) = split_first(data);
    archive_behind(
        sel,
        (!body.starts_with(&magic[..check])).then_some(magic),
        body,
    );
}

const OLE2_SIGNATURE: &[u8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1";

/// OLE2: the input behind the compound file signature (seeds: Word Package, PowerPoint
/// embedded object, plain stream), walked like any archive.
pub fn ole2(data: &[u8]) {
    behind_magic(data, OLE2_SIGNATURE, 8);
}

/// RTF: the input behind `{\rtf1` (seeds: `\objdata` Package and OLE2 objects).
pub fn rtf(data: &[u8]) {
    behind_magic(data, b"{\\rtf1", 5);
}

/// PDF: the input behind `%PDF-1.4` (seeds: embedded files raw, Flate, ASCIIHex+Flate).
pub fn pdf(data: &[u8]) {
    behind_magic(data, b"%PDF-1.4\n", 5);
}

/// HTML: the input behind `<html>` (seeds: `data:` URIs, base64 and %-escaped).
pub fn html(data: &[u8]) {
    behind_magic(data, b"<html>", 5);
}

/// The older containers clamd unpacks (BinHex, SZDD, TNEF, CAB, SIS, ARJ, CHM, zip implode):
/// walked like any archive from seeds of each format, so one target covers every parser of
/// the tree scanner that these formats reach.
pub fn legacy(data: &[u8]) {
    archive(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_accepts_empty_and_small_inputs() {
        for t in TARGETS {
            (t.run)(b"");
            (t.run)(b"\0");
            (t.run)(b"zPING\0nPONG\nSCAN /x\n");
        }
    }

    #[test]
    fn target_names_are_unique_and_found() {
        for t in TARGETS {
            assert_eq!(by_name(t.name).map(|x| x.name), Some(t.name));
        }
        assert!(by_name("nope").is_none());
    }
}
