//! Transcript snapshots: a protocol-aware, redacted rendering of what a client sent and
//! received, stored as plain files in insta's format under
//! `<snapshots>/<client>/<case>.snap` (default `conformance/snapshots/`).
//!
//! A snapshot is a function of the client's behaviour only. Rendering drops what depends on
//! scheduling: timing, how the kernel split writes (each direction is read as one byte
//! string), the order in which concurrent connections were accepted (connections are
//! listed by content), and how much of a stream the server cut short got through. It keeps
//! framing (commands, chunk lengths, reply records, lines). Ports and scratch paths are
//! redacted.

use std::path::{Path, PathBuf};

use regex::Regex;

use crate::checks::clamd::{parse_client, server_closed_first, split_replies, ClientFrame};
use crate::input::escape;
use crate::profile::{Protocol, Verdict};
use crate::session_sort::{self, SnapshotOrder, Unit};
use crate::transcript::{DataSource, Dir, Transcript};

/// Values to replace in rendered text.
#[derive(Debug, Clone, Default)]
pub struct Redactions {
    /// (literal, replacement), applied in order.
    pub literals: Vec<(String, String)>,
}

impl Redactions {
    pub fn apply(&self, s: &str) -> String {
        // Bodies first: a path redaction could cut one so that it is no longer recognised.
        let mut out = crate::redact::text(s);
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
        // The daemon's own descriptor number in a FILDES reply (CLAMD-FILDES-2,
        // CLAMD-CLIENT-14): it depends on what else the daemon has open (also in a reply
        // cut inside it).
        (r"fd\[\d+", "fd[N"),
    ]
    .into_iter()
    .filter_map(|(p, r)| Regex::new(p).ok().map(|re| (re, r)))
    .collect()
}

/// Renders a transcript for a snapshot (`order`: the profile's `snapshot_order`).
pub fn render(
    protocol: Protocol,
    case_id: &str,
    expect: Verdict,
    got: Option<Verdict>,
    t: &Transcript,
    red: &Redactions,
    order: SnapshotOrder,
) -> String {
    let mut s = red.apply(&format!(
        "case: {case_id}\nexpect: {expect}\ngot: {}\n",
        got.map(|v| v.to_string())
            .unwrap_or_else(|| "unclassified".into())
    ));
    // Each connection is rendered on its own, then the blocks are listed in order of their
    // content: which of several connections the proxy accepted first is scheduling, not
    // client behaviour (a probe connection opened beside the scan one).
    let mut blocks: Vec<String> = t
        .connections()
        .into_iter()
        .map(|conn| red.apply(&render_connection(protocol, t, conn, order)))
        .collect();
    // Redacted first: ports and paths differ run to run and must not decide the order.
    blocks.sort();
    for (i, b) in blocks.iter().enumerate() {
        s.push_str(&format!("connection {}:\n{b}", i + 1));
    }
    s
}

/// [`render`] for a case whose client gave the expected `verdict`, with nothing redacted: a
/// transcript as the tests of the proxy and of rendering read it.
pub fn render_as_expected(
    protocol: Protocol,
    case_id: &str,
    verdict: Verdict,
    t: &Transcript,
) -> String {
    render(
        protocol,
        case_id,
        verdict,
        Some(verdict),
        t,
        &Redactions::default(),
        SnapshotOrder::AsSent,
    )
}

/// One control connection (and its data channels), without its header line.
fn render_connection(
    protocol: Protocol,
    t: &Transcript,
    conn: u32,
    order: SnapshotOrder,
) -> String {
    let mut s = String::new();
    if let Some(line) = refusal_line(t, conn) {
        s.push_str(line);
        return s;
    }
    let c = t.bytes(conn, Dir::C2S);
    let srv = t.bytes(conn, Dir::S2C);
    // A client that resets its connection left reply bytes unread (a close with nothing
    // unread is a FIN): how much of the daemon's reply the proxy had relayed by then, and
    // whether the daemon's close was seen, is the daemon's progress at that instant (a
    // delayed or split reply), not the client's behaviour. The client's bytes stay.
    if reset_by(t, conn, Dir::C2S) {
        match protocol {
            // the client's bytes as it sent them: no reply is taken as cutting its stream
            Protocol::Clamd => {
                let fds = t.descriptors(conn);
                render_clamd_client(
                    &c,
                    &fds,
                    false,
                    0,
                    cut_text(t, conn),
                    &mut s,
                    &mut Vec::new(),
                );
            }
            Protocol::Svsp => render_svsp_side("C", &c, &mut s),
        }
        if !srv.is_empty() {
            s.push_str("  S: <a reply the client did not read to its end>\n");
        }
        s.push_str(
            "  client reset the connection (what of the reply reached it depends on timing)\n",
        );
    } else {
        match protocol {
            Protocol::Clamd => {
                let mut replies = split_replies(&srv);
                let no_stream_reply = !srv.windows(8).any(|w| w == b"stream: ");
                // An upload with no reply that the client ended first (its own timeout on a
                // silent server) was not cut by the server, whatever the server did after:
                // what the client sent is its own doing and shown as it was.
                let uploaded = parse_client(&c).any(|f| {
                    matches!(f, ClientFrame::Command { name, .. } if name.as_slice() == b"INSTREAM")
                });
                // A reply that is no verdict, then both sides closed: which closed first is a
                // race (Exim closes as it parses a garbage `OK` the daemon sent just before
                // its own FIN), so such an end is "both closed", never "client first".
                let server_answered_and_closed =
                    !srv.is_empty() && t.end_of(conn, Dir::S2C).is_some();
                // Who closed first is the daemon's account where it gave one: it read the
                // client's end before closing (a silent daemon the client gave up on), or it
                // closed by its own decision (a client that half-closes after its upload races
                // the daemon's FIN to the proxy).
                let client_closed_first = uploaded
                    && no_stream_reply
                    && !server_answered_and_closed
                    && t.end_of(conn, Dir::C2S).is_some()
                    && t.daemon_read_client_end(conn)
                        .unwrap_or_else(|| !server_closed_first(t, conn, &replies));
                let (cut_by_server, answered) = match t.streams_read_whole(conn) {
                    // The daemon's own account (CLAMD-INSTREAM-2): the streams it read
                    // through their terminator are shown whole, whatever it did next (an
                    // odd reply, a close); the next one, if any, it did not read to its end.
                    Some(read) => (instreams(&c) as u64 > read, read as usize),
                    // No account (a transcript from elsewhere): the proxy's view. A stream
                    // with no reply that the server ended the connection on, or the size
                    // limit error, was taken as cut short.
                    None => {
                        let limit = clamd_proto::reply::INSTREAM_SIZE_LIMIT_EXCEEDED.as_bytes();
                        let cut = (no_stream_reply && !client_closed_first)
                            || srv.windows(limit.len()).any(|w| w == limit);
                        (cut, srv.windows(8).filter(|w| *w == b"stream: ").count())
                    }
                };
                let mut starts = Vec::new();
                let end_depends_on_timing = render_clamd_client(
                    &c,
                    &t.descriptors(conn),
                    cut_by_server,
                    answered,
                    cut_text(t, conn),
                    &mut s,
                    &mut starts,
                );
                if order == SnapshotOrder::ByContent && !end_depends_on_timing {
                    let units = units_of(&s, &c, starts);
                    if let Some((sorted, renumbered)) = session_sort::by_content(&units, &replies) {
                        s = sorted.into_iter().map(|u| u.text).collect();
                        replies = renumbered;
                    }
                }
                for (r, terminated) in replies {
                    s.push_str(&format!(
                        "  S: {}{}\n",
                        escape(&r),
                        if terminated { "" } else { "  (no terminator)" }
                    ));
                }
                if client_closed_first {
                    s.push_str("  client closed first, with no scan result for its stream (how the server's side ended depends on timing)\n");
                } else {
                    end_line(t, conn, end_depends_on_timing, "  ", &mut s);
                }
            }
            Protocol::Svsp => {
                render_svsp_side("C", &c, &mut s);
                render_svsp_side("S", &srv, &mut s);
                end_line(t, conn, false, "  ", &mut s);
            }
        }
    }
    if protocol == Protocol::Svsp {
        for (j, (dc, source)) in t.data_channels(conn).into_iter().enumerate() {
            render_data_channel(t, j + 1, dc, source, &mut s);
        }
    }
    s
}

/// The one line of a connection that never reached a daemon's reading (CLAMD-CLIENT-3: the
/// client gets `ECONNRESET` or EOF with no reply), or None.
///
/// A connection the daemon says it refused at accept (fault `refuse`, e.g. at `connection =
/// 3`) read nothing: whether the proxy's connect already saw the reset (then nothing of the
/// client was read) or relayed the client's first bytes and then read the reset is timing,
/// so neither its bytes nor how its end looked are shown, by the daemon's account. Without
/// the account, a connection the proxy could not open to the daemon says why.
fn refusal_line(t: &Transcript, conn: u32) -> Option<&'static str> {
    if t.refused_by_daemon(conn) == Some(true) {
        return Some("  server refused the connection at accept (reset before reading a byte)\n");
    }
    t.upstream_error(conn)
        .map(|_| "  not relayed: the proxy could not open its connection to the server\n")
}

/// One side of an SVSP control connection, a line at a time.
fn render_svsp_side(label: &str, data: &[u8], s: &mut String) {
    for piece in data.split_inclusive(|b| *b == b'\n') {
        s.push_str(&format!("  {label}: {}\n", escape(piece)));
    }
}

/// How many INSTREAM commands the client sent.
fn instreams(c: &[u8]) -> usize {
    parse_client(c)
        .filter(
            |f| matches!(f, ClientFrame::Command { name, .. } if name.as_slice() == b"INSTREAM"),
        )
        .count()
}

/// Whether the server stopped reading and left the connection open (fault `stop-reading`,
/// CLAMD-CLIENT-10, SVSP-CLIENT-19): it neither closed nor reset it.
fn stopped_reading(t: &Transcript, conn: u32) -> bool {
    !reset_by(t, conn, Dir::S2C) && t.end_of(conn, Dir::S2C).is_none()
}

/// The line that stands for a stream the server did not read to its end: how much of it
/// the client got to send before the server's close (or before its buffers filled) is
/// timing, so it is not shown.
fn cut_text(t: &Transcript, conn: u32) -> &'static str {
    if stopped_reading(t, conn) {
        "  C: <stream data; the server stopped reading it, how much was sent depends on timing>\n"
    } else {
        "  C: <stream data; the server ended the stream early, how much arrived depends on timing>\n"
    }
}

/// Whether reading the `dir` side of a connection failed (a reset by that side).
fn reset_by(t: &Transcript, conn: u32, dir: Dir) -> bool {
    t.events.iter().any(|e| {
        e.conn == conn
            && matches!(&e.kind, crate::transcript::EventKind::Error { dir: d, .. } if *d == dir)
    })
}

/// How a connection ended (the last line of its block).
fn end_line(t: &Transcript, conn: u32, end_depends_on_timing: bool, indent: &str, s: &mut String) {
    let reset = reset_by(t, conn, Dir::S2C);
    if end_depends_on_timing && stopped_reading(t, conn) {
        // the daemon stopped reading (fault `stop-reading`, CLAMD-CLIENT-10): the upload
        // blocked and the connection was still open when the case ended
        s.push_str(&format!(
            "{indent}upload blocked: the server stopped reading, the connection was still open\n"
        ));
    } else if end_depends_on_timing {
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
    if cut && stopped_reading(t, dc) {
        s.push_str("    C: <data; the daemon stopped reading it, the length depends on timing>\n");
    } else if cut {
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

/// Where a command starts: in the rendered text, its name, in the bytes sent.
type CommandStart = (usize, Vec<u8>, usize);

/// The rendered client side `text` of the bytes `sent` cut into one unit per command (its
/// line and its chunks'), from where each command starts.
fn units_of(text: &str, sent: &[u8], starts: Vec<CommandStart>) -> Vec<Unit> {
    let mut units = Vec::new();
    if let Some((first, _, first_sent)) = starts.first() {
        // nothing is rendered before the first command, but keep it if it ever is
        if *first > 0 {
            units.push(Unit {
                name: Vec::new(),
                text: text[..*first].to_string(),
                sent: sent[..*first_sent].to_vec(),
            });
        }
    }
    let ends: Vec<(usize, usize)> = starts
        .iter()
        .skip(1)
        .map(|(at, _, sent_at)| (*at, *sent_at))
        .chain([(text.len(), sent.len())])
        .collect();
    for ((at, name, sent_at), (end, sent_end)) in starts.into_iter().zip(ends) {
        units.push(Unit {
            name,
            text: text[at..end].to_string(),
            sent: sent[sent_at..sent_end].to_vec(),
        });
    }
    units
}

/// Renders the client's side; returns true when the upload was cut short by the server.
/// `starts` gets, for each command rendered, where its line starts in `s` and its name.
fn render_clamd_client(
    c: &[u8],
    fds: &[(usize, usize, bool)],
    cut_by_server: bool,
    answered: usize,
    cut_line: &str,
    s: &mut String,
    starts: &mut Vec<CommandStart>,
) -> bool {
    // How far a client gets with an upload the server cut short depends on timing: show
    // such a stream without chunk counts, so the snapshot is stable.
    let cut = parse_client(c)
        .any(|f| matches!(f, ClientFrame::Command { name, .. } if name.as_slice() == b"INSTREAM"))
        && (cut_by_server || !parse_client(c).any(|f| matches!(f, ClientFrame::Terminator { .. })));
    if cut {
        // Only the commands up to the stream the server cut are stable: how many chunks (or
        // later commands) got through before its close is scheduling. `answered` streams got
        // a reply; the next INSTREAM is the cut one.
        let mut instreams = 0;
        for f in parse_client(c) {
            if let ClientFrame::Command { at, end, name, .. } = f {
                s.push_str(&format!("  C: {}\n", escape(&c[at..end])));
                push_descriptors(fds, at, request_end(&name, end), s);
                if name.as_slice() == b"INSTREAM" {
                    instreams += 1;
                    if instreams > answered {
                        break;
                    }
                }
            }
        }
        s.push_str(cut_line);
        return true;
    }
    let mut frames = parse_client(c).peekable();
    while let Some(f) = frames.next() {
        match f {
            ClientFrame::Command { at, end, name, .. } => {
                let req_end = request_end(&name, end);
                starts.push((s.len(), name, at));
                s.push_str(&format!("  C: {}\n", escape(&c[at..end])));
                push_descriptors(fds, at, req_end, s);
            }
            ClientFrame::Legacy { at, end } | ClientFrame::Unterminated { at, end } => {
                s.push_str(&format!(
                    "  C: {}\n",
                    crate::transcript::shorten(&c[at..end], 120)
                ));
                push_descriptors(fds, at, end, s);
            }
            ClientFrame::Chunk { len, complete, .. } => {
                // Collapse runs of equal complete chunks, counted as they are parsed.
                let mut n = 1;
                while complete
                    && frames
                        .next_if(|f| matches!(f, ClientFrame::Chunk { len: l2, complete: true, .. } if *l2 == len))
                        .is_some()
                {
                    n += 1;
                }
                let times = if n > 1 {
                    format!(" x{n}")
                } else {
                    String::new()
                };
                let note = if complete { "" } else { " (incomplete)" };
                s.push_str(&format!("  C: <chunk {len} bytes{note}>{times}\n"));
            }
            ClientFrame::PartialHeader { at, end } => s.push_str(&format!(
                "  C: <partial chunk header {}>\n",
                escape(&c[at..end])
            )),
            ClientFrame::Terminator { .. } => s.push_str("  C: <chunk 0: end of stream>\n"),
            ClientFrame::Insane { len, .. } => {
                s.push_str(&format!("  C: <chunk header {len}: framing out of step>\n"))
            }
        }
    }
    false
}

/// Where a request that ends its command at `end` ends: a FILDES request has one more byte,
/// the one its descriptor comes with (CLAMD-FILDES-1).
fn request_end(name: &[u8], end: usize) -> usize {
    end + usize::from(name == b"FILDES")
}

/// The descriptors passed with the bytes `at..end` of the client's stream, a line each
/// (CLAMD-FILDES-1): deterministic, as a passed descriptor ends the read it arrives with.
fn push_descriptors(fds: &[(usize, usize, bool)], at: usize, end: usize, s: &mut String) {
    for &(after, count, cut) in fds {
        if after > at && after <= end {
            let text = crate::transcript::descriptors_text(count, cut);
            s.push_str(&format!("  C: {text}\n"));
        }
    }
}

/// Outcome of comparing with the stored snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotOutcome {
    Matched,
    /// No snapshot existed; it was written.
    Written,
    /// No snapshot existed and CI is set: a failure; the text went to the pending file.
    Missing,
    /// Accepted by `--accept` / `--update-snapshots`.
    Updated,
    /// Differs; the unified diff (the new text went to the pending `.snap.new` file).
    Mismatch(String),
    /// No snapshot is stored and this run's is not one to keep: nothing is written, in any
    /// mode, and the user is not offered it to commit (see [`NotKept`]).
    NotWritten(NotKept),
    /// The client never reached the daemon, but the stored snapshot records connections:
    /// nothing to compare, a failure (never a silent pass); the stored file and any pending
    /// one are left as they are (`--accept` does not replace an exchange by nothing).
    Uncompared,
    /// Could not read/write the snapshot.
    Error(String),
}

/// Why a run's transcript is not kept as a new snapshot. Each case fails or passes on its
/// verdict as always; the snapshot waits for a run that shows the client's protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotKept {
    /// No connection: the client did not start, crashed before it connected or was given
    /// another address. The transcript records its set-up, not its protocol.
    NoConnection,
    /// The client connected, but its output matched no verdict rule or it hung (`got:
    /// unclassified`): a crash or a profile to fix first, and the case fails anyway.
    NoVerdict,
}

/// Whether a rendered transcript (or a stored snapshot's body) records a connection that
/// reached the daemon (through the recording proxy): a line `connection <n>:`.
pub fn records_connection(body: &str) -> bool {
    body.lines().any(|l| {
        l.strip_prefix("connection ")
            .and_then(|rest| rest.strip_suffix(':'))
            .is_some_and(|n| n.parse::<u32>().is_ok())
    })
}

/// Why a rendered transcript is not kept as a new snapshot, if it is not.
pub fn not_kept(body: &str) -> Option<NotKept> {
    if !records_connection(body) {
        Some(NotKept::NoConnection)
    } else if body.lines().any(|l| l == "got: unclassified") {
        Some(NotKept::NoVerdict)
    } else {
        None
    }
}

/// How differences are handled.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mode {
    /// Accept differences and new snapshots (`--accept`).
    pub accept: bool,
    /// In CI a missing snapshot is a failure, not written.
    pub ci: bool,
}

/// Snapshot file of a case.
pub fn path_for(root: &Path, client: &str, case_id: &str) -> PathBuf {
    root.join(client).join(format!("{case_id}.snap"))
}

/// The pending (not yet accepted) snapshot next to `snap`: `<case>.snap.new`, the name
/// `cargo insta review` also looks for.
pub fn pending_for(snap: &Path) -> PathBuf {
    let mut s = snap.as_os_str().to_os_string();
    s.push(".new");
    PathBuf::from(s)
}

/// Largest snapshot file read (a rendered transcript is a few KiB).
pub const MAX_SNAPSHOT_BYTES: u64 = 4 << 20;

/// What a snapshot file's `source:` names: the profile file (its name, not the machine's
/// path to it) and the case. insta's default, the Rust file that wrote it, says nothing in a
/// client's repository. Only bodies are compared ([`check`], as insta itself does unless
/// `INSTA_REQUIRE_FULL_MATCH` is set), so a stored snapshot with another `source:` still
/// matches and is not rewritten for it.
pub fn source_text(profile_file: Option<&Path>, client: &str, case_id: &str) -> String {
    let profile = profile_file
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| format!("profile {client}"));
    format!("{profile} / {case_id}")
}

/// A snapshot file's text, in insta's format (a small YAML header, then the body), so the
/// files stay readable by `cargo insta review` without the harness needing cargo-insta.
pub fn file_text(source: &str, client: &str, case_id: &str, body: &str) -> String {
    let description = format!("conformance transcript: client {client}, case {case_id}");
    // A JSON string is a valid YAML double-quoted scalar.
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    format!(
        "---\nsource: {}\ndescription: {}\n---\n{}\n",
        quote(source),
        quote(&description),
        body.trim_end()
    )
}

/// The body of a snapshot file's text (after the `---` header), without trailing space.
pub fn parse_body(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("---\n")?;
    let end = rest.find("\n---\n")?;
    Some(rest[end + 5..].trim_end())
}

/// Reads a snapshot file's body: `Ok(None)` when there is no file; an error when it is too
/// large, not UTF-8 or not in snapshot format.
pub fn read_body(path: &Path) -> std::result::Result<Option<String>, String> {
    use std::io::Read;
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let mut buf = Vec::new();
    f.take(MAX_SNAPSHOT_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if buf.len() as u64 > MAX_SNAPSHOT_BYTES {
        return Err(format!(
            "{}: larger than {MAX_SNAPSHOT_BYTES} bytes",
            path.display()
        ));
    }
    let text = String::from_utf8(buf).map_err(|_| format!("{}: not UTF-8", path.display()))?;
    parse_body(&text)
        .map(|b| Some(b.to_string()))
        .ok_or_else(|| format!("{}: not a snapshot file (no --- header)", path.display()))
}

fn write(path: &Path, text: &str) -> std::result::Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn remove_pending(snap: &Path) {
    let _ = std::fs::remove_file(pending_for(snap));
}

/// Unified diff from the stored body to the new one.
pub fn diff(old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header("stored", "this run")
        .to_string()
}

/// Compares `content` with the stored snapshot of `client`/`case_id` under `root`. A
/// difference (or, in CI, a missing snapshot) goes to the pending `.snap.new` file for
/// `avc-conformance review`; a match clears a stale pending file. A transcript without a
/// connection or a verdict ([`not_kept`]) is never written as a new snapshot
/// ([`SnapshotOutcome::NotWritten`]); one without a connection is not compared with a
/// stored one that records connections ([`SnapshotOutcome::Uncompared`]), and one without a
/// verdict that differs from the stored one is not compared either (`NotWritten`: the case
/// fails on its verdict); any other stored snapshot (a case where nothing listens) is
/// compared as usual. `profile_file` is named in the header of a file written ([`source_text`]).
pub fn check(
    root: &Path,
    client: &str,
    case_id: &str,
    profile_file: Option<&Path>,
    content: &str,
    mode: Mode,
) -> SnapshotOutcome {
    let path = path_for(root, client, case_id);
    let existing = match read_body(&path) {
        Ok(b) => b,
        Err(e) => return SnapshotOutcome::Error(e),
    };
    let normalized = content.trim_end();
    match (&existing, not_kept(normalized)) {
        (None, Some(why)) => return SnapshotOutcome::NotWritten(why),
        (Some(old), Some(NotKept::NoConnection)) if records_connection(old) => {
            return SnapshotOutcome::Uncompared
        }
        // The case fails on its missing verdict already; a mismatch would only add a second
        // failure and a pending `got: unclassified` that must never be accepted (a client
        // whose callback sometimes never fires differs from its stored run in `got` alone).
        (Some(old), Some(NotKept::NoVerdict)) if old != normalized => {
            return SnapshotOutcome::NotWritten(NotKept::NoVerdict)
        }
        _ => {}
    }
    let source = source_text(profile_file, client, case_id);
    let text = file_text(&source, client, case_id, normalized);
    let (target, outcome) = match existing {
        Some(old) if old == normalized => {
            remove_pending(&path);
            return SnapshotOutcome::Matched;
        }
        Some(_) if mode.accept => (path.clone(), SnapshotOutcome::Updated),
        Some(old) => (
            pending_for(&path),
            SnapshotOutcome::Mismatch(diff(&old, normalized)),
        ),
        None if mode.ci && !mode.accept => (pending_for(&path), SnapshotOutcome::Missing),
        None => (path.clone(), SnapshotOutcome::Written),
    };
    if let Err(e) = write(&target, &text) {
        return SnapshotOutcome::Error(e);
    }
    if target == path {
        remove_pending(&path);
    }
    outcome
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

    /// CLAMD-CLIENT-1: a path-scan client (`SCAN`, no upload) that closes just before the
    /// server after its `<path>: OK` ends as any closed connection does; "no scan result for
    /// its stream" is for an upload only (who closed first is scheduling here).
    #[test]
    fn clamd_client_1_a_path_scan_closed_first_is_not_an_unanswered_upload() {
        let s = clamd_snap(vec![
            ev(1, 0, open()),
            ev(1, 1, data(Dir::C2S, b"SCAN /x/input.bin\n")),
            ev(1, 2, data(Dir::S2C, b"/x/input.bin: OK\n")),
            ev(1, 3, EventKind::Eof { dir: Dir::C2S }),
            ev(1, 4, EventKind::Eof { dir: Dir::S2C }),
        ]);
        assert!(
            s.contains("  client side: closed, server side: closed"),
            "{s}"
        );
        assert!(!s.contains("client closed first"), "{s}");
    }

    /// CLAMD-CLIENT-10: a client that gives up on a silent server (its own timeout) and
    /// closes first is not shown as an upload the server closed; when the server closes
    /// first (a dropped connection) it still is. The old snapshot said "server closed
    /// during the upload" for both.
    #[test]
    fn clamd_client_10_a_client_that_closes_first_is_not_a_server_close() {
        let upload = b"zINSTREAM\0\0\0\0\x03abc\0\0\0\0";
        let run = |client_end: u64, server_end: u64| {
            clamd_snap(vec![
                ev(1, 0, open()),
                ev(1, 1, data(Dir::C2S, upload)),
                ev(1, client_end, EventKind::Eof { dir: Dir::C2S }),
                ev(1, server_end, EventKind::Eof { dir: Dir::S2C }),
            ])
        };
        let silent = run(2000, 2001);
        // the whole upload arrived: it is the client's and shown as sent, not as a stream
        // "the server ended early"
        crate::test_support::assert_shows(
            &silent,
            &[
                "  client closed first, with no scan result for its stream",
                "  C: <chunk 3 bytes>\n  C: <chunk 0: end of stream>\n",
            ],
        );
        assert!(!silent.contains("server closed"), "{silent}");
        assert!(!silent.contains("ended the stream early"), "{silent}");
        let dropped = run(6, 5);
        assert!(
            dropped.contains("  server closed during the upload (FIN or RST depends on timing)\n"),
            "{dropped}"
        );
    }

    /// A clamd transcript of connection 1 whose daemon says it read `read_whole` INSTREAM
    /// streams of it through their terminator (as the harness gets it from the fake).
    fn with_account(events: Vec<Event>, read_whole: u64) -> Transcript {
        let peer: std::net::SocketAddr = "127.0.0.1:40000".parse().unwrap();
        Transcript {
            events,
            upstream_addrs: vec![(1, peer.into())],
            daemon_streams: Some(if read_whole == 0 {
                Vec::new()
            } else {
                vec![(peer.into(), read_whole)]
            }),
            daemon_refused: Some(Vec::new()),
        }
    }

    fn clamd_snap_of(t: &Transcript) -> String {
        render_as_expected(Protocol::Clamd, "clamd.x", Verdict::Error, t)
    }

    /// The upload of `clamd.close-before-reply` and its kin: an IDSESSION stream of three
    /// chunks, terminator included.
    fn whole_upload() -> Vec<u8> {
        [
            &b"zIDSESSION\0zINSTREAM\0"[..],
            &chunk(1000),
            &chunk(1000),
            &chunk(7),
            &[0, 0, 0, 0],
        ]
        .concat()
    }

    /// CLAMD-INSTREAM-2, CLAMD-CLIENT-3 (`clamd.fault-garbage-text`, `clamd.close-mid-reply`,
    /// ...): a stream the daemon read through its terminator before it answered oddly and
    /// closed is shown whole, with what the server sent and how the connection really
    /// ended; the old rendering called it a stream "the server ended early".
    #[test]
    fn clamd_instream_2_a_stream_the_daemon_read_whole_is_shown_whole() {
        let up = whole_upload();
        let t = with_account(
            vec![
                ev(1, 0, open()),
                ev(1, 1, data(Dir::C2S, &up)),
                ev(1, 2, data(Dir::S2C, b"OK")),
                ev(1, 3, EventKind::Eof { dir: Dir::S2C }),
                ev(1, 4, EventKind::Eof { dir: Dir::C2S }),
            ],
            1,
        );
        let s = clamd_snap_of(&t);
        assert!(s.ends_with(
            "connection 1:\n  C: zIDSESSION\\0\n  C: zINSTREAM\\0\n  C: <chunk 1000 bytes> x2\n  C: <chunk 7 bytes>\n  C: <chunk 0: end of stream>\n  S: OK  (no terminator)\n  client side: closed, server side: closed\n"
        ), "{s}");
        assert!(
            !s.contains("early") && !s.contains("during the upload"),
            "{s}"
        );
    }

    /// CLAMD-INSTREAM-2 (`clamd.close-before-reply`): a stream the daemon read whole and then
    /// closed on without a reply renders the same whether the proxy saw the daemon's close
    /// before or after the client's last bytes (terminator included): the daemon's account
    /// decides, not the proxy's timing.
    #[test]
    fn clamd_instream_2_a_fully_read_stream_renders_the_same_whichever_end_the_proxy_saw_first() {
        let up = whole_upload();
        let (head, last) = up.split_at(up.len() - 11);
        let close_after = with_account(
            vec![
                ev(1, 0, open()),
                ev(1, 1, data(Dir::C2S, head)),
                ev(1, 2, data(Dir::C2S, last)),
                ev(1, 3, EventKind::Eof { dir: Dir::S2C }),
                ev(1, 4, EventKind::Eof { dir: Dir::C2S }),
            ],
            1,
        );
        let close_before = with_account(
            vec![
                ev(1, 0, open()),
                ev(1, 1, data(Dir::C2S, head)),
                ev(1, 2, EventKind::Eof { dir: Dir::S2C }),
                ev(1, 3, data(Dir::C2S, last)),
                ev(1, 4, EventKind::Eof { dir: Dir::C2S }),
            ],
            1,
        );
        let a = clamd_snap_of(&close_after);
        assert_eq!(a, clamd_snap_of(&close_before));
        crate::test_support::assert_shows(
            &a,
            &[
                "  C: <chunk 7 bytes>\n  C: <chunk 0: end of stream>\n  client side: closed, server side: closed\n",
            ],
        );
    }

    /// A whole upload, the daemon's `reply` if any, then both ends closed in the order given,
    /// with the daemon's account `read_whole` (`u64::MAX`: it read the client's end).
    fn upload_then_closes(reply: Option<&[u8]>, client_first: bool, read_whole: u64) -> Transcript {
        let (c, s) = (
            EventKind::Eof { dir: Dir::C2S },
            EventKind::Eof { dir: Dir::S2C },
        );
        let (third, fourth) = if client_first { (c, s) } else { (s, c) };
        let mut events = vec![ev(1, 0, open()), ev(1, 1, data(Dir::C2S, &whole_upload()))];
        events.extend(reply.map(|r| ev(1, 2, data(Dir::S2C, r))));
        events.extend([ev(1, 3, third), ev(1, 4, fourth)]);
        with_account(events, read_whole)
    }

    /// CLAMD-CLIENT-3 (`clamd.close-before-reply` with npm node-clamav, which half-closes
    /// after its upload; seen in a second run): the daemon read the stream and closed with no
    /// reply by its own decision, without reading the client's end, so the connection ends
    /// "both closed" whichever FIN reached the proxy first. Where the daemon read the client's
    /// end first (a silent daemon the client gave up on) the client closed first, again in
    /// either order.
    #[test]
    fn clamd_client_3_who_closed_first_is_the_daemons_account() {
        let events = |client_first, account| upload_then_closes(None, client_first, account);
        let daemon_closed = clamd_snap_of(&events(true, 1));
        assert_eq!(daemon_closed, clamd_snap_of(&events(false, 1)));
        crate::test_support::assert_shows(
            &daemon_closed,
            &["  C: <chunk 0: end of stream>\n  client side: closed, server side: closed\n"],
        );
        assert!(
            !daemon_closed.contains("client closed first"),
            "{daemon_closed}"
        );
        let client_closed = clamd_snap_of(&events(true, u64::MAX));
        assert_eq!(client_closed, clamd_snap_of(&events(false, u64::MAX)));
        assert!(
            client_closed.contains("  client closed first, with no scan result for its stream"),
            "{client_closed}"
        );
    }

    /// CLAMD-CLIENT-3 (`clamd.fault-garbage-text` with Exim, seen in a CI dry run): the daemon
    /// read the stream, answered `OK` (no verdict) and closed; the client closed as it parsed
    /// it. Which end the proxy saw first is a race, so both orders render the same end, and
    /// neither claims the client closed first with no result.
    #[test]
    fn clamd_client_3_a_reply_then_both_closed_renders_the_same_in_either_order() {
        let events = |client_first| upload_then_closes(Some(b"OK"), client_first, 1);
        let a = clamd_snap_of(&events(true));
        assert_eq!(a, clamd_snap_of(&events(false)));
        crate::test_support::assert_shows(
            &a,
            &["  S: OK  (no terminator)
  client side: closed, server side: closed
"],
        );
        assert!(!a.contains("client closed first"), "{a}");
    }

    /// CLAMD-INSTREAM-8, CLAMD-CLIENT-4 (`clamd.close-early`, `clamd.over-limit`): a stream
    /// the daemon did not read to its end stays summarised, also when the client's whole
    /// upload, terminator included, raced into the proxy before the daemon's close; the
    /// streams it read whole before it stay visible.
    #[test]
    fn clamd_instream_8_a_stream_the_daemon_cut_stays_summarised_whatever_arrived() {
        let second: Vec<u8> = [&b"zINSTREAM\0"[..], &chunk(2000), &[0, 0, 0, 0]].concat();
        let events = |order_close_first: bool| {
            let mut v = vec![
                ev(1, 0, open()),
                ev(1, 1, data(Dir::C2S, &whole_upload())),
                ev(1, 2, data(Dir::S2C, b"1: stream: OK\0")),
                ev(1, 3, data(Dir::C2S, &second)),
                ev(1, 5, EventKind::Eof { dir: Dir::C2S }),
            ];
            v.push(ev(
                1,
                if order_close_first { 2 } else { 6 },
                EventKind::Eof { dir: Dir::S2C },
            ));
            v.sort_by_key(|e| e.at);
            v
        };
        let a = clamd_snap_of(&with_account(events(false), 1));
        assert_eq!(a, clamd_snap_of(&with_account(events(true), 1)));
        assert!(a.ends_with(
            "connection 1:\n  C: zIDSESSION\\0\n  C: zINSTREAM\\0\n  C: zINSTREAM\\0\n  C: <stream data; the server ended the stream early, how much arrived depends on timing>\n  S: 1: stream: OK\\0\n  server closed during the upload (FIN or RST depends on timing)\n"
        ), "{a}");
        // the one stream of a connection the daemon read none of
        let cut = clamd_snap_of(&with_account(
            vec![
                ev(1, 0, open()),
                ev(1, 1, data(Dir::C2S, &whole_upload())),
                ev(1, 2, EventKind::Eof { dir: Dir::S2C }),
                ev(1, 3, EventKind::Eof { dir: Dir::C2S }),
            ],
            0,
        ));
        assert!(cut.contains("the server ended the stream early"), "{cut}");
        assert!(!cut.contains("<chunk"), "{cut}");
    }

    /// SVSP-CLIENT-19, fault `stop-reading` at SCAN: a data channel the daemon never read,
    /// still open at the end, says that the daemon stopped reading it, not that it ended
    /// the stream.
    #[test]
    fn svsp_client_19_a_data_channel_the_daemon_stopped_reading() {
        let s = snap(vec![
            ev(1, 0, open()),
            ev(1, 1, data(Dir::S2C, b"READY\r\n")),
            ev(1, 2, data(Dir::C2S, b"1 SCAN/REQUEST n\r\n")),
            ev(
                2,
                3,
                EventKind::DataChannel {
                    of: 1,
                    source: DataSource::Request,
                },
            ),
            ev(1, 4, data(Dir::S2C, b"1 SEND 4321\r\n")),
            ev(2, 5, open()),
            ev(2, 6, data(Dir::C2S, &[b'a'; 5000])),
        ]);
        assert!(s.ends_with(
            "    C: <data; the daemon stopped reading it, the length depends on timing>\n    upload blocked: the server stopped reading, the connection was still open\n"
        ), "{s}");
    }

    /// The snapshot of `events` for an SVSP case that expects clean.
    fn snap(events: Vec<Event>) -> String {
        snap_of(Protocol::Svsp, events)
    }

    /// The snapshot of `events` for a clamd case that expects an error.
    fn clamd_snap(events: Vec<Event>) -> String {
        snap_of(Protocol::Clamd, events)
    }

    fn snap_of(protocol: Protocol, events: Vec<Event>) -> String {
        let (case, verdict) = match protocol {
            Protocol::Clamd => ("clamd.x", Verdict::Error),
            Protocol::Svsp => ("svsp.x", Verdict::Clean),
        };
        render_as_expected(protocol, case, verdict, &Transcript::from_events(events))
    }

    /// SVSP-SCAN-REQUEST-1.
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

    /// SVSP-SCAN-PORT-1.
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

    /// Events of one connection: `writes` client runs then `replies` server runs, then both
    /// ends, from time `t0` on.
    fn conn(id: u32, t0: u64, writes: &[&[u8]], replies: &[&[u8]]) -> Vec<Event> {
        let mut v = vec![ev(id, t0, open())];
        let mut t = t0;
        for w in writes {
            t += 1;
            v.push(ev(id, t, data(Dir::C2S, w)));
        }
        for r in replies {
            t += 1;
            v.push(ev(id, t, data(Dir::S2C, r)));
        }
        v.push(ev(id, t + 1, EventKind::Eof { dir: Dir::C2S }));
        v.push(ev(id, t + 2, EventKind::Eof { dir: Dir::S2C }));
        v
    }

    /// An INSTREAM chunk of `len` bytes `a`.
    fn chunk(len: usize) -> Vec<u8> {
        fixtures::clamd_wire::chunk(&vec![b'a'; len])
    }

    /// CLAMD-SESSION-3 with `snapshot_order = "by-content"`: one session of three streams
    /// sent in two directory-walk orders renders the same, each reply beside its request,
    /// also for two files of one size; as sent, the two orders differ.
    #[test]
    fn clamd_session_3_by_content_does_not_depend_on_walk_order() {
        let stream = |n: usize, byte: u8| {
            let data = fixtures::clamd_wire::chunk(&vec![byte; n]);
            [&b"zINSTREAM\0"[..], &data, &[0, 0, 0, 0]].concat()
        };
        let session = |streams: [Vec<u8>; 3], replies: &[u8]| {
            let sent: Vec<u8> = [
                b"zIDSESSION\0".to_vec(),
                streams.concat(),
                b"zEND\0".to_vec(),
            ]
            .concat();
            Transcript {
                events: conn(1, 0, &[&sent], &[replies]),
                ..Default::default()
            }
        };
        // the 7 bytes of `b` are the infected file in both walks
        let walk_a = session(
            [stream(5, b'a'), stream(7, b'b'), stream(7, b'a')],
            b"1: stream: OK\x002: stream: X FOUND\x003: stream: OK\0",
        );
        let walk_b = session(
            [stream(7, b'a'), stream(5, b'a'), stream(7, b'b')],
            b"2: stream: OK\x001: stream: OK\x003: stream: X FOUND\0",
        );
        let render_with = |t: &Transcript, order| {
            render(
                Protocol::Clamd,
                "clamd.x",
                Verdict::Infected,
                Some(Verdict::Infected),
                t,
                &Redactions::default(),
                order,
            )
        };
        let a = render_with(&walk_a, SnapshotOrder::ByContent);
        assert_eq!(a, render_with(&walk_b, SnapshotOrder::ByContent));
        assert_ne!(
            render_with(&walk_a, SnapshotOrder::AsSent),
            render_with(&walk_b, SnapshotOrder::AsSent)
        );
        assert!(
            a.contains("<chunk 5 bytes>\n  C: <chunk 0: end of stream>\n  C: zINSTREAM\\0\n  C: <chunk 7 bytes>"),
            "{a}"
        );
        // sorted: 5 x a, 7 x a, 7 x b
        assert!(
            a.contains("  S: 2: stream: OK\\0\n  S: 3: stream: X FOUND"),
            "{a}"
        );
    }

    /// Issue 14 item 1: a snapshot is a function of the client's behaviour only. A client that
    /// opens a probe connection beside its scan connection gets the same snapshot whichever
    /// the proxy accepted first, and however the kernel split its writes.
    #[test]
    fn snapshot_does_not_depend_on_accept_order_or_write_splits() {
        let scan: Vec<u8> = [&b"zINSTREAM\0"[..], &chunk(3), &[0, 0, 0, 0]].concat();
        let probe_first = [
            conn(1, 0, &[b"zPING\0"], &[b"PONG\0"]),
            conn(2, 10, &[&scan], &[b"stream: OK\0"]),
        ]
        .concat();
        let split: Vec<&[u8]> = scan.chunks(2).collect();
        let mut scan_first = [
            conn(1, 0, &split, &[b"stream: ", b"OK\0"]),
            conn(2, 1, &[b"zPI", b"NG\0"], &[b"PO", b"NG\0"]),
        ]
        .concat();
        scan_first.sort_by_key(|e| e.at);
        let a = clamd_snap(probe_first);
        assert_eq!(a, clamd_snap(scan_first));
        crate::test_support::assert_shows(
            &a,
            &[
                "connection 1:\n  C: zINSTREAM\\0\n",
                "connection 2:\n  C: zPING\\0\n  S: PONG\\0\n",
            ],
        );
    }

    /// Issue 14 item 1, CLAMD-CLIENT-4 / CLAMD-TRANS-5: a stream the server cut short is
    /// summarised the same whether nothing, one chunk, or the whole stream and a later END
    /// got through before the server's close.
    #[test]
    fn cut_stream_summary_does_not_depend_on_how_much_arrived() {
        let limit: &[u8] = b"INSTREAM size limit exceeded. ERROR\0";
        let head: &[u8] = b"zIDSESSION\0zINSTREAM\0";
        let variants: Vec<Vec<u8>> = vec![
            head.to_vec(),
            [head, &chunk(1000)].concat(),
            [head, &chunk(1000), &chunk(1000), &chunk(7)[..9]].concat(),
            [head, &chunk(1000), &[0, 0, 0, 0], b"zEND\0"].concat(),
        ];
        let snaps: Vec<String> = variants
            .iter()
            .map(|c| clamd_snap(conn(1, 0, &[c], &[limit])))
            .collect();
        for s in &snaps {
            assert_eq!(s, &snaps[0]);
        }
        assert!(snaps[0].contains(
            "  C: zIDSESSION\\0\n  C: zINSTREAM\\0\n  C: <stream data; the server ended the stream early, how much arrived depends on timing>\n"
        ), "{}", snaps[0]);
    }

    /// CLAMD-CLIENT-10, fault `stop-reading`: an upload the daemon stopped reading, still open
    /// at the end (no end event on either side), renders the same whatever got through, and
    /// says so rather than that the server closed or "ended the stream early" (it did not
    /// end it: it stopped reading).
    #[test]
    fn stalled_upload_summary_does_not_depend_on_how_much_arrived() {
        let head: &[u8] = b"zINSTREAM\0";
        let snaps: Vec<String> = [1usize, 3, 40]
            .iter()
            .map(|n| {
                let body: Vec<u8> = (0..*n).flat_map(|_| chunk(1000)).collect();
                clamd_snap(vec![
                    ev(1, 0, open()),
                    ev(1, 1, data(Dir::C2S, &[head, &body].concat())),
                ])
            })
            .collect();
        for s in &snaps {
            assert_eq!(s, &snaps[0]);
        }
        assert!(
            snaps[0].contains(
                "  C: zINSTREAM\\0\n  C: <stream data; the server stopped reading it, how much was sent depends on timing>\n  upload blocked: the server stopped reading, the connection was still open\n"
            ),
            "{}",
            snaps[0]
        );
    }

    /// Issue 14 item 1: streams the server answered before it cut a later one stay visible
    /// (their INSTREAM commands), only the cut stream is summarised.
    #[test]
    fn cut_stream_keeps_the_streams_answered_before_it() {
        let c = [
            &b"zIDSESSION\0zINSTREAM\0"[..],
            &chunk(5),
            &[0, 0, 0, 0],
            b"zINSTREAM\0",
            &chunk(2000),
        ]
        .concat();
        let s = clamd_snap(conn(
            1,
            0,
            &[&c],
            &[
                b"1: stream: OK\0",
                b"2: INSTREAM size limit exceeded. ERROR\0",
            ],
        ));
        assert_eq!(s.matches("C: zINSTREAM\\0").count(), 2, "{s}");
        assert!(s.contains("how much arrived depends on timing"), "{s}");
    }

    /// Issue 14 item 2: the files are written in insta's format without cargo-insta (insta
    /// reads them back to the same text), and every shipped snapshot reads the same way.
    #[test]
    fn snapshot_files_stay_in_insta_format() {
        let dir = tempfile::tempdir().unwrap();
        let body = "case: clamd.x\nexpect: clean\ngot: clean\nconnection 1:\n  C: \"quoted\": x\\0";
        let path = dir.path().join("c.snap");
        std::fs::write(
            &path,
            file_text("fave.toml / clamd.x", "fave", "clamd.x", body),
        )
        .unwrap();
        let insta = insta::Snapshot::from_file(&path).unwrap();
        assert_eq!(insta.contents().as_text().unwrap().to_string(), body);
        assert_eq!(read_body(&path).unwrap().as_deref(), Some(body));
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/snapshots");
        let mut n = 0;
        for client in std::fs::read_dir(shipped).unwrap().flatten() {
            for f in std::fs::read_dir(client.path()).unwrap().flatten() {
                let p = f.path();
                if p.extension().is_some_and(|e| e == "snap") {
                    let insta = insta::Snapshot::from_file(&p).unwrap();
                    let ours = read_body(&p).unwrap().unwrap();
                    assert_eq!(
                        insta.contents().as_text().unwrap().to_string(),
                        ours,
                        "{}",
                        p.display()
                    );
                    n += 1;
                }
            }
        }
        assert!(n > 100, "{n} shipped snapshots");
    }

    /// A written snapshot's `source:` names the profile file and the case (not this Rust
    /// file), insta reads it back; a stored snapshot with insta's old default header and the
    /// same body still matches and is left as it is (only bodies are compared).
    #[test]
    fn snapshot_source_names_the_profile_and_case_and_old_headers_still_match() {
        let dir = tempfile::tempdir().unwrap();
        let profile = Path::new("/home/u/proj/av-conformance/my-scanner.toml");
        let check_in = |mode| {
            check(
                dir.path(),
                "my-scanner",
                "clamd.x",
                Some(profile),
                REACHED,
                mode,
            )
        };
        assert_eq!(check_in(Mode::default()), SnapshotOutcome::Written);
        let path = path_for(dir.path(), "my-scanner", "clamd.x");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("\nsource: \"my-scanner.toml / clamd.x\"\n"),
            "{text}"
        );
        assert!(
            !text.contains("snapshot.rs") && !text.contains("/home/u"),
            "{text}"
        );
        let insta = insta::Snapshot::from_file(&path).unwrap();
        assert_eq!(insta.metadata().source(), Some("my-scanner.toml / clamd.x"));
        assert_eq!(insta.contents().as_text().unwrap().to_string(), REACHED);

        let old = format!(
            "---\nsource: crates/harness/src/snapshot.rs\ndescription: \"x\"\n---\n{REACHED}\n"
        );
        std::fs::write(&path, &old).unwrap();
        for mode in modes() {
            assert_eq!(check_in(mode), SnapshotOutcome::Matched, "{mode:?}");
            assert_eq!(std::fs::read_to_string(&path).unwrap(), old, "{mode:?}");
        }
    }

    const REACHED: &str = "case: clamd.x\nexpect: error\ngot: error\nconnection 1:\n  C: zPING\\0\n  client side: closed, server side: closed";
    const NOT_REACHED: &str = "case: clamd.x\nexpect: error\ngot: error";

    /// Stores `body` as the snapshot of case `clamd.x` of client `c` under `dir`; its path.
    fn store_x(dir: &Path, body: &str) -> PathBuf {
        let path = path_for(dir, "c", "clamd.x");
        write(&path, &file_text("c.toml / clamd.x", "c", "clamd.x", body)).unwrap();
        path
    }

    /// Every mode, for the snapshot tests: local, local `--accept`, CI, CI `--accept`.
    fn modes() -> [Mode; 4] {
        [(false, false), (true, false), (false, true), (true, true)]
            .map(|(accept, ci)| Mode { accept, ci })
    }

    /// A client that never reached the daemon (it did not start, crashed before it
    /// connected, or was given another address) has nothing to snapshot: no file is
    /// written in any mode, and it is said why, not offered to be committed.
    #[test]
    fn no_new_snapshot_without_a_connection() {
        assert_never_written(NOT_REACHED, NotKept::NoConnection);
    }

    /// `body` is not written as a new snapshot in any mode, for the reason `why`.
    fn assert_never_written(body: &str, why: NotKept) {
        for mode in modes() {
            let dir = tempfile::tempdir().unwrap();
            let got = check(dir.path(), "c", "clamd.x", None, body, mode);
            assert_eq!(got, SnapshotOutcome::NotWritten(why), "{mode:?}");
            let files = std::fs::read_dir(dir.path()).unwrap().count();
            assert_eq!(files, 0, "{mode:?}");
        }
    }

    /// A client that connected but whose output matched no verdict rule (a crash, a profile
    /// to fix) or that hung gets no new snapshot either, in any mode: the case fails anyway,
    /// and a `got: unclassified` committed now would differ once the client is fixed. A
    /// stored one still matches an equal run; an unequal run without a verdict is not
    /// compared (the case fails on its verdict), leaves the stored file and writes no pending
    /// one, in every mode; a run with a verdict is compared as always.
    #[test]
    fn no_new_snapshot_without_a_verdict() {
        let unread = REACHED.replace("got: error", "got: unclassified");
        assert_never_written(&unread, NotKept::NoVerdict);
        let dir = tempfile::tempdir().unwrap();
        store_x(dir.path(), &unread);
        let local = Mode::default();
        assert_eq!(
            check(dir.path(), "c", "clamd.x", None, &unread, local),
            SnapshotOutcome::Matched
        );
        assert!(matches!(
            check(dir.path(), "c", "clamd.x", None, REACHED, local),
            SnapshotOutcome::Mismatch(_)
        ));
        for mode in modes() {
            let dir = tempfile::tempdir().unwrap();
            let path = store_x(dir.path(), REACHED);
            assert_eq!(
                check(dir.path(), "c", "clamd.x", None, &unread, mode),
                SnapshotOutcome::NotWritten(NotKept::NoVerdict),
                "{mode:?}"
            );
            assert_eq!(read_body(&path).unwrap().as_deref(), Some(REACHED));
            assert!(!pending_for(&path).exists(), "{mode:?}");
        }
    }

    /// A stored snapshot that records a connection is not silently passed by a run whose
    /// client never connected: not compared, its file and any pending one left alone, in
    /// every mode (`--accept` does not replace an exchange by nothing).
    #[test]
    fn a_stored_exchange_is_not_compared_with_nothing() {
        for mode in modes() {
            let dir = tempfile::tempdir().unwrap();
            let path = store_x(dir.path(), REACHED);
            let got = check(dir.path(), "c", "clamd.x", None, NOT_REACHED, mode);
            assert_eq!(got, SnapshotOutcome::Uncompared, "{mode:?}");
            assert_eq!(read_body(&path).unwrap().as_deref(), Some(REACHED));
            assert!(!pending_for(&path).exists(), "{mode:?}");
        }
    }

    /// CLAMD-CLIENT-3: a stored snapshot without connections (a case where nothing
    /// listens) is still compared with a run without connections, and a transcript with a
    /// connection is written and compared as before.
    #[test]
    fn clamd_client_3_snapshots_without_connections_still_compare() {
        let dir = tempfile::tempdir().unwrap();
        store_x(dir.path(), NOT_REACHED);
        let local = Mode::default();
        assert_eq!(
            check(dir.path(), "c", "clamd.x", None, NOT_REACHED, local),
            SnapshotOutcome::Matched
        );
        let other = NOT_REACHED.replace("got: error", "got: clean");
        assert!(matches!(
            check(dir.path(), "c", "clamd.x", None, &other, local),
            SnapshotOutcome::Mismatch(_)
        ));
        let fresh = tempfile::tempdir().unwrap();
        assert_eq!(
            check(fresh.path(), "c", "clamd.x", None, REACHED, local),
            SnapshotOutcome::Written
        );
        let ci = Mode {
            accept: false,
            ci: true,
        };
        let fresh = tempfile::tempdir().unwrap();
        assert_eq!(
            check(fresh.path(), "c", "clamd.x", None, REACHED, ci),
            SnapshotOutcome::Missing
        );
        assert!(!records_connection(
            "case: connection 1:\n  C: connection 2:"
        ));
    }

    /// A client that reads the first piece of a delayed reply and resets (npm `clamscan`'s
    /// PING probe on `clamd.fault-delay-bytes`): whether the rest of the reply and the
    /// daemon's close reached the proxy before the reset is timing, so both runs render
    /// alike; a reply read to its end still shows in full.
    #[test]
    fn a_connection_the_client_reset_renders_the_same_whatever_reached_the_proxy() {
        let reset = || EventKind::Error {
            dir: Dir::C2S,
            message: "connection reset".into(),
        };
        let all_then_reset = vec![
            ev(1, 0, open()),
            ev(1, 1, data(Dir::C2S, b"PING")),
            ev(1, 2, data(Dir::S2C, b"PONG\n")),
            ev(1, 3, EventKind::Eof { dir: Dir::S2C }),
            ev(1, 4, reset()),
        ];
        let part_then_reset = vec![
            ev(1, 0, open()),
            ev(1, 1, data(Dir::C2S, b"PING")),
            ev(1, 2, data(Dir::S2C, b"PON")),
            ev(1, 3, reset()),
            ev(1, 4, data(Dir::S2C, b"G")),
        ];
        let one = clamd_snap(all_then_reset);
        assert_eq!(one, clamd_snap(part_then_reset));
        assert!(one.contains("C: PING") && one.contains("client reset the connection"));
        assert!(!one.contains("PON"), "{one}");
        let read_to_end = clamd_snap(vec![
            ev(1, 0, open()),
            ev(1, 1, data(Dir::C2S, b"zPING\0")),
            ev(1, 2, data(Dir::S2C, b"PONG\0")),
            ev(1, 3, EventKind::Eof { dir: Dir::S2C }),
            ev(1, 4, EventKind::Eof { dir: Dir::C2S }),
        ]);
        assert!(read_to_end.contains("S: PONG\\0"), "{read_to_end}");
        assert!(read_to_end.contains("client side: closed, server side: closed"));
    }

    /// c-icap's three connections (start-up PING, VERSION, the SCAN) where the daemon
    /// refused the SCAN's at accept (`refuse` at `connection = 3`), with the daemon's account:
    /// `refused` events for the SCAN's connection, its number `scan` (the others in turn).
    fn c_icap_refused(scan: u32, refused: Vec<EventKind>) -> String {
        let addr = |c: u32| std::net::SocketAddr::from(([127, 0, 0, 1], 40000 + c as u16));
        let (ping, version) = match scan {
            1 => (2, 3),
            2 => (1, 3),
            _ => (1, 2),
        };
        let mut events = Vec::new();
        for (c, cmd, reply) in [
            (ping, &b"zPING\0"[..], &b"PONG\0"[..]),
            (version, b"zVERSION\0", b"ClamAV 1.4.6\0"),
        ] {
            let at = 10 * u64::from(c);
            events.extend([
                ev(c, at, open()),
                ev(c, at + 1, data(Dir::C2S, cmd)),
                ev(c, at + 2, data(Dir::S2C, reply)),
                ev(c, at + 3, EventKind::Eof { dir: Dir::S2C }),
                ev(c, at + 4, EventKind::Eof { dir: Dir::C2S }),
            ]);
        }
        let at = 10 * u64::from(scan);
        events.extend(
            refused
                .into_iter()
                .enumerate()
                .map(|(i, k)| ev(scan, at + i as u64, k)),
        );
        events.sort_by_key(|e| e.at);
        let t = Transcript {
            events,
            upstream_addrs: (1..=3)
                .map(|c| (c, fake_clamd::Peer::Tcp(addr(c))))
                .collect(),
            daemon_streams: Some(Vec::new()),
            daemon_refused: Some(vec![fake_clamd::Peer::Tcp(addr(scan))]),
        };
        clamd_snap_of(&t)
    }

    /// CLAMD-CLIENT-3, fault `refuse` at a later connection (session 9's c-icap case): a
    /// connection the daemon refused at accept renders one way, by the daemon's account,
    /// whether the proxy's connect already saw the reset (nothing of the client read), or
    /// relayed the client's command and then read the reset, or failed to write it; and
    /// whichever of the client's connections it was in accept order.
    #[test]
    fn clamd_client_3_a_connection_refused_at_accept_renders_one_way() {
        let scan = &b"zSCAN /tmp/x/CI_TMP_1\0"[..];
        let variants = || {
            [
                // the proxy's connect took the reset
                vec![EventKind::Open {
                    upstream_error: Some("Connection reset by peer (os error 104)".into()),
                }],
                // relayed the command, then read the reset
                vec![open(), data(Dir::C2S, scan), reset(Dir::S2C)],
                // the reset came first: nothing read either way
                vec![open(), reset(Dir::S2C)],
                // writing the command failed ("peer gone"), then the read saw EOF
                vec![
                    open(),
                    data(Dir::C2S, scan),
                    reset(Dir::S2C),
                    EventKind::Eof { dir: Dir::S2C },
                ],
            ]
        };
        let first = c_icap_refused(3, variants()[0].clone());
        for scan_at in [1, 2, 3] {
            for v in variants() {
                assert_eq!(c_icap_refused(scan_at, v.clone()), first, "{scan_at} {v:?}");
            }
        }
        crate::test_support::assert_shows(
            &first,
            &[
                "connection 1:\n  C: zPING\\0\n",
                "connection 2:\n  C: zVERSION\\0\n",
                "connection 3:\n  server refused the connection at accept (reset before reading a byte)\n",
            ],
        );
        assert!(!first.contains("zSCAN"), "{first}");
    }

    /// A connection the daemon did not refuse is rendered as before beside a refused one,
    /// and without the daemon's account a connection the proxy could not open says so
    /// (it was "client side: open, server side: open", as if it had hung).
    #[test]
    fn an_unopened_connection_says_so_and_others_are_unchanged() {
        let s = c_icap_refused(3, vec![open(), reset(Dir::S2C)]);
        assert!(s.contains("  C: zVERSION\\0\n  S: ClamAV 1.4.6\\0\n  client side: closed, server side: closed\n"), "{s}");
        let unopened = clamd_snap(vec![ev(
            1,
            0,
            EventKind::Open {
                upstream_error: Some("connect timed out".into()),
            },
        )]);
        assert!(
            unopened.contains(
                "connection 1:\n  not relayed: the proxy could not open its connection to the server\n"
            ),
            "{unopened}"
        );
        assert!(!unopened.contains("open, server side"), "{unopened}");
    }

    fn reset(dir: Dir) -> EventKind {
        EventKind::Error {
            dir,
            message: "connection reset".into(),
        }
    }
}
