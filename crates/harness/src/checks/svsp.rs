//! SVSP client obligations (svsp.md §13, SVSP-CLIENT-*), checked on a transcript.

use std::time::Duration;

use svsp_proto::{Body, Command, Parsed, Source};

use crate::checks::{per_connection, Finding, Found};
use crate::transcript::{Dir, Transcript};

/// One line as seen on the wire.
#[derive(Debug, Clone)]
pub struct Line {
    /// Offset of the first byte in its direction's stream.
    pub at: usize,
    /// Offset just past the LF (or the end, for an unterminated tail).
    pub end: usize,
    /// The line without its terminator.
    pub text: Vec<u8>,
    /// When its first byte (client lines) or its LF (server lines) arrived.
    pub time: Duration,
    pub terminated: bool,
}

/// Splits one direction of one connection into lines with times.
pub fn lines(t: &Transcript, conn: u32, dir: Dir) -> Vec<Line> {
    let runs = t.runs(conn, dir);
    let mut data = Vec::new();
    let mut times: Vec<(usize, Duration)> = Vec::new(); // (start offset of run, time)
    for (at, b) in &runs {
        times.push((data.len(), *at));
        data.extend_from_slice(b);
    }
    let time_of = |off: usize| -> Duration {
        times
            .iter()
            .rev()
            .find(|(o, _)| *o <= off)
            .map(|(_, t)| *t)
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    let mut start = 0;
    while start < data.len() {
        match memchr::memchr(b'\n', &data[start..]) {
            Some(rel) => {
                let lf = start + rel;
                let mut text = data[start..lf].to_vec();
                if text.last() == Some(&b'\r') {
                    text.pop();
                }
                let time = if dir == Dir::C2S {
                    time_of(start)
                } else {
                    time_of(lf)
                };
                out.push(Line {
                    at: start,
                    end: lf + 1,
                    text,
                    time,
                    terminated: true,
                });
                start = lf + 1;
            }
            None => {
                out.push(Line {
                    at: start,
                    end: data.len(),
                    text: data[start..].to_vec(),
                    time: time_of(start),
                    terminated: false,
                });
                break;
            }
        }
    }
    out
}

/// `(id, keyword, rest)` of a line (SVSP-FRAME-8 tokenisation; keyword upper-cased).
pub fn tokens(text: &[u8]) -> (Option<String>, String, String) {
    let s = String::from_utf8_lossy(text);
    let s = s.trim_start_matches([' ', '\t']);
    let split = |s: &str| -> (String, String) {
        match s.find([' ', '\t']) {
            Some(p) => (
                s[..p].to_string(),
                s[p..].trim_start_matches([' ', '\t']).to_string(),
            ),
            None => (s.to_string(), String::new()),
        }
    };
    let (first, rest) = split(s);
    if !first.is_empty() && first.len() <= 9 && first.bytes().all(|b| b.is_ascii_digit()) {
        let (w, r) = split(&rest);
        (Some(first), w.to_ascii_uppercase(), r)
    } else {
        (None, first.to_ascii_uppercase(), rest)
    }
}

/// A server line as svsp-proto parses it: `(id, kind)`; `None` for lines it cannot parse.
fn server_line(text: &[u8]) -> Option<(Option<String>, ServerKind)> {
    let r = svsp_proto::parse_response(text).ok()??;
    let kind = match r.body {
        Body::Ready => ServerKind::Ready,
        Body::Denied => ServerKind::Denied,
        Body::Ok => ServerKind::Ok,
        Body::Done { .. } | Body::Error { .. } => ServerKind::Terminal,
        _ => ServerKind::Progress,
    };
    Some((r.id.map(|i| i.as_str().to_string()), kind))
}

/// Whether the daemon finished a scan on any connection: a `DONE` line (SVSP-RESP-DONE-1),
/// clean or infected. Without one, a client's "clean" cannot come from a scan (issue 14
/// item 3: FAIL-OPEN needs a scan that really failed).
pub fn verdict_sent(t: &Transcript) -> bool {
    t.connections().into_iter().any(|conn| {
        lines(t, conn, Dir::S2C).iter().any(|l| {
            l.terminated
                && svsp_proto::parse_response(&l.text)
                    .ok()
                    .flatten()
                    .is_some_and(|r| matches!(r.body, Body::Done { .. }))
        })
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerKind {
    Ready,
    Denied,
    Ok,
    /// DONE or an errno line (SVSP-SCAN-3).
    Terminal,
    /// QUEUED, SEND, SCANNING, INFECTED, unknown keywords.
    Progress,
}

struct Request {
    id: Option<String>,
    line: usize,
    /// Time of the first response line for it (lenient acknowledgement, SVSP-CLIENT-4).
    ack: Option<Duration>,
    /// Time of its terminal line (DONE or an error).
    done: Option<Duration>,
}

/// Checks every connection against SVSP-CLIENT-*.
pub fn check(t: &Transcript) -> Vec<Finding> {
    per_connection(t, check_conn)
}

fn check_conn(t: &Transcript, conn: u32, out: &mut Vec<Finding>) {
    let c = t.bytes(conn, Dir::C2S);
    let mut found = Found::new(conn, &c, out);
    let cl = lines(t, conn, Dir::C2S);
    let sl = lines(t, conn, Dir::S2C);
    // SVSP-CLIENT-1: nothing before READY; nothing at all after DENIED.
    let greeting = sl
        .first()
        .filter(|l| l.terminated)
        .map(|l| (tokens(&l.text).1, l.time));
    let first_sent = t.runs(conn, Dir::C2S).first().map(|(at, _)| *at);
    match (&greeting, first_sent) {
        (Some((kw, _)), Some(_)) if kw == "DENIED" => {
            found.must(
                "SVSP-CLIENT-1",
                "client sent bytes on a connection the server refused with DENIED",
                0,
                c.len().min(40),
            );
            return;
        }
        (Some((kw, ready)), Some(sent)) if kw == "READY" && sent < *ready => {
            found.must(
                "SVSP-CLIENT-1",
                "client sent its first command before READY arrived",
                0,
                c.len().min(40),
            );
        }
        (None, Some(_)) => {
            found.must(
                "SVSP-CLIENT-1",
                "client sent bytes although no READY greeting was received",
                0,
                c.len().min(40),
            );
            return;
        }
        _ => {}
    }
    // Map server lines to requests.
    let mut requests: Vec<Request> = Vec::new();
    let mut quit_seen: Option<usize> = None;
    for (i, l) in cl.iter().enumerate() {
        if !l.terminated {
            found.must(
                "SVSP-CLIENT-2",
                "command without a line terminator (LF)",
                l.at,
                l.end,
            );
            continue;
        }
        if let Some(q) = quit_seen {
            found.must(
                "SVSP-CLIENT-18",
                format!("bytes sent after QUIT (line {})", q + 1),
                l.at,
                l.end,
            );
            break;
        }
        // The command as a server parses it (svsp-proto, SVSP-FRAME-8).
        let cfg = svsp_proto::ParseConfig {
            enable_future: true,
            ..Default::default()
        };
        let (id, scan) = match svsp_proto::parse_line(&l.text, &cfg) {
            Parsed::Blank => {
                found.should(
                    "SVSP-CLIENT-2",
                    "blank line sent (a bare newline must not be used to kick the server)",
                    l.at,
                    l.end,
                );
                continue;
            }
            Parsed::Command {
                command: Command::Quit,
                ..
            } => {
                quit_seen = Some(i);
                continue;
            }
            Parsed::Command {
                id,
                command: Command::Scan(sc),
            } => (id.map(|i| i.as_str().to_string()), sc),
            _ => continue,
        };
        {
            if matches!(scan.source, Source::File | Source::FileSha1) {
                let name = scan.display_name();
                if name.starts_with(b"\"") {
                    found.must(
                        "SVSP-CLIENT-6",
                        "filename sent quoted (names are sent raw)",
                        l.at,
                        l.end,
                    );
                } else if !name.starts_with(b"/") {
                    found.should(
                        "SVSP-CLIENT-6",
                        "SCAN/FILE with a relative path",
                        l.at,
                        l.end,
                    );
                }
            }
            // SVSP-CLIENT-5: ids when more than one request is outstanding, unique.
            let outstanding: Vec<&Request> = requests
                .iter()
                .filter(|r| r.done.is_none_or(|d| d > l.time))
                .collect();
            if !outstanding.is_empty() {
                if id.is_none() || outstanding.iter().any(|r| r.id.is_none()) {
                    found.must(
                        "SVSP-CLIENT-5",
                        "several SCANs outstanding without identifiers",
                        l.at,
                        l.end,
                    );
                } else if outstanding.iter().any(|r| r.id == id) {
                    found.must(
                        "SVSP-CLIENT-5",
                        "identifier reused while a request with it is outstanding",
                        l.at,
                        l.end,
                    );
                }
            }
            // SVSP-CLIENT-3: the previous SCAN must be acknowledged first.
            if let Some(prev) = requests.last() {
                if prev.ack.is_none_or(|a| a > l.time) {
                    found.must(
                        "SVSP-CLIENT-3",
                        format!(
                            "SCAN sent before the previous SCAN (line {}) was acknowledged",
                            prev.line + 1
                        ),
                        l.at,
                        l.end,
                    );
                }
            }
            let mut req = Request {
                id: id.clone(),
                line: i,
                ack: None,
                done: None,
            };
            for s in sl.iter().filter(|s| s.terminated && s.time >= l.time) {
                let Some((sid, kind)) = server_line(&s.text) else {
                    continue;
                };
                if sid != id
                    || matches!(
                        kind,
                        ServerKind::Ready | ServerKind::Denied | ServerKind::Ok
                    )
                {
                    continue;
                }
                if req.ack.is_none() {
                    req.ack = Some(s.time);
                }
                if kind == ServerKind::Terminal {
                    // terminal: take the first one not already claimed by an earlier request
                    let claimed = requests
                        .iter()
                        .any(|r| r.id == id && r.done == Some(s.time));
                    if !claimed {
                        req.done = Some(s.time);
                        break;
                    }
                }
            }
            requests.push(req);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::{Event, EventKind};

    fn tr(script: &[(u64, Dir, &[u8])]) -> Transcript {
        let mut events = vec![Event {
            conn: 1,
            at: Duration::ZERO,
            kind: EventKind::Open {
                upstream_error: None,
            },
        }];
        for (ms, dir, b) in script {
            events.push(Event {
                conn: 1,
                at: Duration::from_millis(*ms),
                kind: EventKind::Data {
                    dir: *dir,
                    bytes: b.to_vec(),
                    len: b.len(),
                    truncated: false,
                },
            });
        }
        Transcript::from_events(events)
    }

    #[test]
    fn svsp_good_exchange_passes() {
        let t = tr(&[
            (1, Dir::S2C, b"READY\r\n"),
            (2, Dir::C2S, b"SCAN/FILE /tmp/a\r\n"),
            (
                3,
                Dir::S2C,
                b"QUEUED\r\nSCANNING \"/tmp/a\"\r\nDONE 0 : \"/tmp/a\"\r\n",
            ),
            (4, Dir::C2S, b"QUIT\r\n"),
            (5, Dir::S2C, b"OK\r\n"),
        ]);
        assert!(check(&t).is_empty(), "{:?}", check(&t));
    }

    /// SVSP-CLIENT-1.
    #[test]
    fn svsp_client_1_before_ready() {
        let t = tr(&[
            (1, Dir::C2S, b"QUIT\r\n"),
            (2, Dir::S2C, b"READY\r\nOK\r\n"),
        ]);
        assert_eq!(check(&t)[0].rule, "SVSP-CLIENT-1");
    }

    /// SVSP-CLIENT-3.
    #[test]
    fn svsp_client_3_pipelined_scans() {
        let t = tr(&[
            (1, Dir::S2C, b"READY\r\n"),
            (2, Dir::C2S, b"1 SCAN/FILE /a\r\n2 SCAN/FILE /b\r\n"),
            (
                3,
                Dir::S2C,
                b"1 QUEUED\r\n2 QUEUED\r\n1 DONE 0 : \"/a\"\r\n2 DONE 0 : \"/b\"\r\n",
            ),
        ]);
        let f = check(&t);
        assert!(f.iter().any(|f| f.rule == "SVSP-CLIENT-3"), "{f:?}");
    }

    /// SVSP-SCAN-REQUEST-1.
    #[test]
    fn svsp_scan_request_1_data_channel_is_not_a_control_connection() {
        // The data sent on a SEND port has no READY and no lines: judged as a control
        // connection it would break SVSP-CLIENT-1 and SVSP-CLIENT-2.
        let mut t = tr(&[
            (1, Dir::S2C, b"READY\r\n"),
            (2, Dir::C2S, b"1 SCAN/REQUEST x\r\n"),
            (3, Dir::S2C, b"1 SEND 4000\r\n"),
            (6, Dir::S2C, b"1 DONE 0 : \"x\"\r\n"),
        ]);
        t.events.push(Event {
            conn: 2,
            at: Duration::from_millis(3),
            kind: EventKind::DataChannel {
                of: 1,
                source: crate::transcript::DataSource::Request,
            },
        });
        t.events.push(Event {
            conn: 2,
            at: Duration::from_millis(4),
            kind: EventKind::Data {
                dir: Dir::C2S,
                bytes: b"no lines here".to_vec(),
                len: 13,
                truncated: false,
            },
        });
        t.events.sort_by_key(|e| e.at);
        assert_eq!(t.connections(), vec![1]);
        assert!(check(&t).is_empty(), "{:?}", check(&t));
    }

    /// SVSP-CLIENT-18.
    #[test]
    fn svsp_client_18_after_quit() {
        let t = tr(&[
            (1, Dir::S2C, b"READY\r\n"),
            (2, Dir::C2S, b"QUIT\r\nSCAN/FILE /a\r\n"),
        ]);
        assert_eq!(check(&t)[0].rule, "SVSP-CLIENT-18");
    }
}
