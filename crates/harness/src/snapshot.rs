//! Transcript snapshots: a protocol-aware, redacted rendering of what a client sent and
//! received, stored as insta snapshots under `conformance/snapshots/<client>/<case>.snap`.
//!
//! Rendering drops timing and TCP segmentation (which vary run to run) and keeps framing
//! (commands, chunk lengths, reply records, lines), so a diff means the client's protocol
//! behaviour changed. Ports, scratch paths and times are redacted.

use std::path::{Path, PathBuf};

use regex::Regex;

use crate::checks::clamd::{parse_client, split_replies, ClientFrame};
use crate::input::escape;
use crate::profile::{Protocol, Verdict};
use crate::transcript::{DataSource, Dir, Transcript};

/// Values to replace in rendered text.
#[derive(Debug, Clone, Default)]
pub struct Redactions {
    /// (literal, replacement), applied in order.
    pub literals: Vec<(String, String)>,
}

impl Redactions {
    pub fn apply(&self, s: &str) -> String {
        let mut out = s.to_string();
        for (lit, rep) in &self.literals {
            if !lit.is_empty() {
                out = out.replace(lit.as_str(), rep);
            }
        }
        // Any port announced on the wire (SVSP SEND/ENOENT) and any leftover tmp path.
        static_res().iter().fold(out, |acc, (re, rep)| {
            re.replace_all(&acc, *rep).into_owned()
        })
    }
}

fn static_res() -> Vec<(Regex, &'static str)> {
    [
        (r"SEND \d+", "SEND [PORT]"),
        (r"port \d+", "port [PORT]"),
        // The client's own port in SCAN/PORT (SVSP-SCAN-PORT-1).
        (r"(?i)(SCAN//?PORT[ \t]+)\d+", "${1}[PORT]"),
        (r"/tmp/[A-Za-z0-9._/-]+", "[TMP]"),
    ]
    .into_iter()
    .filter_map(|(p, r)| Regex::new(p).ok().map(|re| (re, r)))
    .collect()
}

/// Renders a transcript for a snapshot.
pub fn render(
    protocol: Protocol,
    case_id: &str,
    expect: Verdict,
    got: Option<Verdict>,
    t: &Transcript,
    red: &Redactions,
) -> String {
    let mut s = format!(
        "case: {case_id}\nexpect: {expect}\ngot: {}\n",
        got.map(|v| v.to_string())
            .unwrap_or_else(|| "unclassified".into())
    );
    for (i, conn) in t.connections().into_iter().enumerate() {
        s.push_str(&format!("connection {}:\n", i + 1));
        // Whether the server closed while the client was still uploading: then FIN or RST
        // is a matter of timing (CLAMD-TRANS-5), and the snapshot must not record which.
        let mut end_depends_on_timing = false;
        let c = t.bytes(conn, Dir::C2S);
        let srv = t.bytes(conn, Dir::S2C);
        match protocol {
            Protocol::Clamd => {
                // A stream the server cut short (no reply to it, or the size-limit error) has a
                // timing-dependent length.
                let cut_by_server = !srv.windows(8).any(|w| w == b"stream: ")
                    || srv
                        .windows(28)
                        .any(|w| w == b"INSTREAM size limit exceeded");
                end_depends_on_timing = render_clamd_client(&c, cut_by_server, &mut s);
                for (r, terminated) in split_replies(&srv) {
                    s.push_str(&format!(
                        "  S: {}{}\n",
                        escape(&r),
                        if terminated { "" } else { "  (no terminator)" }
                    ));
                }
            }
            Protocol::Svsp => {
                for (label, data) in [("C", &c), ("S", &srv)] {
                    for piece in data.split_inclusive(|b| *b == b'\n') {
                        s.push_str(&format!("  {label}: {}\n", escape(piece)));
                    }
                }
            }
        }
        end_line(t, conn, end_depends_on_timing, "  ", &mut s);
        if protocol == Protocol::Svsp {
            for (j, (dc, source)) in t.data_channels(conn).into_iter().enumerate() {
                render_data_channel(t, j + 1, dc, source, &mut s);
            }
        }
    }
    red.apply(&s)
}

/// How a connection ended (the last line of its block).
fn end_line(t: &Transcript, conn: u32, end_depends_on_timing: bool, indent: &str, s: &mut String) {
    let reset = t.events.iter().any(|e| {
        e.conn == conn
            && matches!(
                &e.kind,
                crate::transcript::EventKind::Error { dir: Dir::S2C, .. }
            )
    });
    if end_depends_on_timing {
        s.push_str(&format!(
            "{indent}server closed during the upload (FIN or RST depends on timing)\n"
        ));
    } else if reset {
        s.push_str(&format!("{indent}server reset the connection\n"));
    } else {
        let ended = |d: Dir| {
            if t.end_of(conn, d).is_some() {
                "closed"
            } else {
                "open"
            }
        };
        s.push_str(&format!(
            "{indent}client side: {}, server side: {}\n",
            ended(Dir::C2S),
            ended(Dir::S2C)
        ));
    }
}

/// An SVSP data channel, under its control connection. The data is shown by length and
/// SHA-1 (it is the scanned file: binary, and possibly EICAR, which is never stored in plain
/// form). When the daemon ended the stream first (a size limit), how much the client got to
/// send depends on timing, so neither is shown.
fn render_data_channel(t: &Transcript, n: usize, dc: u32, source: DataSource, s: &mut String) {
    let who = match source {
        DataSource::Request => "client connected to the SEND port",
        DataSource::Port => "daemon connected to the client's port",
    };
    s.push_str(&format!(
        "  data channel {n} ({}, {who}):\n",
        source.command()
    ));
    if let Some(err) = t.upstream_error(dc) {
        s.push_str(&format!("    not relayed: {err}\n"));
        return;
    }
    let opened = t
        .events
        .iter()
        .any(|e| e.conn == dc && matches!(e.kind, crate::transcript::EventKind::Open { .. }));
    if !opened {
        // The line was sent but nobody connected before the case ended (for example the
        // daemon rejected the command).
        s.push_str("    no connection\n");
        return;
    }
    let c = t.bytes(dc, Dir::C2S);
    let srv = t.bytes(dc, Dir::S2C);
    let client_end = t.end_of(dc, Dir::C2S);
    let server_end = t.end_of(dc, Dir::S2C);
    let errored = t
        .events
        .iter()
        .any(|e| e.conn == dc && matches!(e.kind, crate::transcript::EventKind::Error { .. }));
    let cut = errored
        || match (client_end, server_end) {
            (None, _) => true,
            (Some(ce), Some(se)) => se < ce,
            (Some(_), None) => false,
        };
    if cut {
        s.push_str(
            "    C: <data; the daemon ended the stream early, the length depends on timing>\n",
        );
    } else if t.truncated(dc) {
        let len: usize = t
            .events
            .iter()
            .filter(|e| e.conn == dc)
            .map(|e| match e.kind {
                crate::transcript::EventKind::Data {
                    dir: Dir::C2S, len, ..
                } => len,
                _ => 0,
            })
            .sum();
        s.push_str(&format!("    C: <{len} bytes, not all kept>\n"));
    } else {
        use sha1::Digest;
        let sum = hex::encode(sha1::Sha1::digest(&c));
        s.push_str(&format!("    C: <{} bytes, sha1 {sum}>\n", c.len()));
    }
    for piece in srv.split_inclusive(|b| *b == b'\n') {
        s.push_str(&format!(
            "    S: {}\n",
            crate::transcript::shorten(piece, 120)
        ));
    }
    end_line(t, dc, cut, "    ", s);
}

/// Renders the client's side; returns true when the upload was cut short by the server.
fn render_clamd_client(c: &[u8], cut_by_server: bool, s: &mut String) -> bool {
    let frames = parse_client(c);
    // How far a client gets with an upload the server cut short depends on timing: show
    // such a stream without chunk counts, so the snapshot is stable.
    let cut = frames
        .iter()
        .any(|f| matches!(f, ClientFrame::Command { name, .. } if name.as_slice() == b"INSTREAM"))
        && (cut_by_server
            || !frames
                .iter()
                .any(|f| matches!(f, ClientFrame::Terminator { .. })));
    if cut {
        for f in &frames {
            if let ClientFrame::Command { at, end, .. } = f {
                s.push_str(&format!("  C: {}\n", escape(&c[*at..*end])));
            }
        }
        let first = frames.iter().find_map(|f| match f {
            ClientFrame::Chunk { len, .. } => Some(*len),
            _ => None,
        });
        s.push_str(&match first {
            Some(n) => format!("  C: <chunks, the first of {n} bytes; the server ended the stream early, the rest depends on timing>\n"),
            None => "  C: <no data chunk; the server ended the stream early>\n".to_string(),
        });
        return true;
    }
    let mut i = 0;
    while i < frames.len() {
        match &frames[i] {
            ClientFrame::Command { at, end, .. } => {
                s.push_str(&format!("  C: {}\n", escape(&c[*at..*end])))
            }
            ClientFrame::Legacy { at, end } | ClientFrame::Unterminated { at, end } => s.push_str(
                &format!("  C: {}\n", crate::transcript::shorten(&c[*at..*end], 120)),
            ),
            ClientFrame::Chunk { len, complete, .. } => {
                // Collapse runs of equal complete chunks.
                let mut n = 1;
                while *complete
                    && matches!(frames.get(i + n), Some(ClientFrame::Chunk { len: l2, complete: true, .. }) if l2 == len)
                {
                    n += 1;
                }
                let times = if n > 1 {
                    format!(" x{n}")
                } else {
                    String::new()
                };
                let note = if *complete { "" } else { " (incomplete)" };
                s.push_str(&format!("  C: <chunk {len} bytes{note}>{times}\n"));
                i += n;
                continue;
            }
            ClientFrame::PartialHeader { at, end } => s.push_str(&format!(
                "  C: <partial chunk header {}>\n",
                escape(&c[*at..*end])
            )),
            ClientFrame::Terminator { .. } => s.push_str("  C: <chunk 0: end of stream>\n"),
            ClientFrame::Insane { len, .. } => {
                s.push_str(&format!("  C: <chunk header {len}: framing out of step>\n"))
            }
        }
        i += 1;
    }
    false
}

/// Outcome of comparing with the stored snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotOutcome {
    Matched,
    /// No snapshot existed; it was written.
    Written,
    /// Accepted by `--update-snapshots`.
    Updated,
    /// Differs; the unified diff (a `.snap.new` was written for `cargo insta review`).
    Mismatch(String),
    /// Could not read/write the snapshot.
    Error(String),
}

/// Snapshot file of a case.
pub fn path_for(root: &Path, client: &str, case_id: &str) -> PathBuf {
    root.join(client).join(format!("{case_id}.snap"))
}

/// Prepares insta's process-wide settings; call once before any comparison (insta reads
/// its environment once). `update`: accept all differences.
pub fn init_insta(workspace: &Path, update: bool) {
    std::env::set_var("INSTA_WORKSPACE_ROOT", workspace);
    std::env::set_var("INSTA_UPDATE", if update { "always" } else { "unseen" });
    if std::env::var_os("INSTA_OUTPUT").is_none() {
        std::env::set_var("INSTA_OUTPUT", "none");
    }
}

/// Compares `content` with the stored snapshot, writing/updating through insta.
pub fn check(
    root: &Path,
    client: &str,
    case_id: &str,
    content: &str,
    update: bool,
) -> SnapshotOutcome {
    let path = path_for(root, client, case_id);
    let existing = if path.exists() {
        match insta::Snapshot::from_file(&path) {
            Ok(s) => s.contents().as_text().map(|t| t.to_string()),
            Err(e) => return SnapshotOutcome::Error(format!("{}: {e}", path.display())),
        }
    } else {
        None
    };
    let normalized = content.trim_end();
    if existing.as_deref() == Some(normalized) {
        return SnapshotOutcome::Matched;
    }
    let dir = root.join(client);
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(&dir);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_description(format!(
        "conformance transcript: client {client}, case {case_id}"
    ));
    let name = case_id.to_string();
    let body = content.to_string();
    let prev_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        settings.bind(|| insta::assert_snapshot!(name, body));
    }));
    std::panic::set_hook(prev_hook);
    match (existing, res.is_ok()) {
        (None, true) => SnapshotOutcome::Written,
        (Some(_), true) if update => SnapshotOutcome::Updated,
        (Some(old), _) => {
            let diff = similar::TextDiff::from_lines(old.as_str(), normalized)
                .unified_diff()
                .context_radius(2)
                .header("stored", "this run")
                .to_string();
            SnapshotOutcome::Mismatch(diff)
        }
        (None, false) => SnapshotOutcome::Error(format!("could not write {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::transcript::{Event, EventKind};

    fn ev(conn: u32, ms: u64, kind: EventKind) -> Event {
        Event {
            conn,
            at: Duration::from_millis(ms),
            kind,
        }
    }

    fn data(dir: Dir, b: &[u8]) -> EventKind {
        EventKind::Data {
            dir,
            bytes: b.to_vec(),
            len: b.len(),
            truncated: false,
        }
    }

    fn open() -> EventKind {
        EventKind::Open {
            upstream_error: None,
        }
    }

    fn snap(events: Vec<Event>) -> String {
        render(
            Protocol::Svsp,
            "svsp.x",
            Verdict::Clean,
            Some(Verdict::Clean),
            &Transcript { events },
            &Redactions::default(),
        )
    }

    #[test]
    fn svsp_scan_request_1_data_channel_under_its_control_connection() {
        let request = EventKind::DataChannel {
            of: 1,
            source: DataSource::Request,
        };
        let s = snap(vec![
            ev(1, 0, open()),
            ev(1, 1, data(Dir::S2C, b"READY\r\n")),
            ev(1, 2, data(Dir::C2S, b"1 SCAN/REQUEST n\r\n")),
            ev(2, 3, request.clone()),
            ev(1, 4, data(Dir::S2C, b"1 SEND 4321\r\n")),
            ev(2, 5, open()),
            ev(2, 6, data(Dir::C2S, b"abc")),
            ev(2, 7, EventKind::Eof { dir: Dir::C2S }),
            ev(2, 8, EventKind::Eof { dir: Dir::S2C }),
            // A second channel nobody connected to, and a third the daemon cut short.
            ev(3, 9, request.clone()),
            ev(4, 10, request),
            ev(4, 11, open()),
            ev(4, 12, data(Dir::C2S, b"xyz")),
            ev(4, 13, EventKind::Eof { dir: Dir::S2C }),
        ]);
        assert!(s.ends_with(
            "connection 1:\n  C: 1 SCAN/REQUEST n\\r\\n\n  S: READY\\r\\n\n  S: 1 SEND [PORT]\\r\\n\n  client side: open, server side: open\n  data channel 1 (SCAN/REQUEST, client connected to the SEND port):\n    C: <3 bytes, sha1 a9993e364706816aba3e25717850c26c9cd0d89d>\n    client side: closed, server side: closed\n  data channel 2 (SCAN/REQUEST, client connected to the SEND port):\n    no connection\n  data channel 3 (SCAN/REQUEST, client connected to the SEND port):\n    C: <data; the daemon ended the stream early, the length depends on timing>\n    server closed during the upload (FIN or RST depends on timing)\n"
        ), "{s}");
        assert!(!s.contains("connection 2"), "{s}");
    }

    #[test]
    fn svsp_scan_port_1_port_redacted() {
        let s = snap(vec![
            ev(1, 0, open()),
            ev(
                1,
                2,
                data(Dir::C2S, b"1 SCAN/PORT 4321 n\r\n2 scan//port 99\r\n"),
            ),
        ]);
        assert!(
            s.contains("1 SCAN/PORT [PORT] n\\r\\n\n  C: 2 scan//port [PORT]\\r\\n"),
            "{s}"
        );
    }
}
