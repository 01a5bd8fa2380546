//! The timed byte log that failure reports show, with a clamd client's INSTREAM uploads shown
//! as frames (`zINSTREAM\0 <chunk 1000 bytes> x3 <chunk 0: end of stream>`) instead of
//! escaped chunk bytes: a reader sees the framing a client got wrong, and chunk contents (a
//! test-signature body among them) never reach a report. Every other run is redacted whole
//! (issue 14 item 1) and shortened.

use std::collections::HashMap;
use std::ops::Range;

use crate::checks::clamd::{parse_client, ClientFrame, FrameCursor};
use crate::input::escape;
use crate::transcript::{shorten, Dir, EventKind, Transcript};

/// Longest run shown before its middle is replaced by a byte count.
const MAX_RUN: usize = 96;

/// Most lines of a report log: the first [`HEAD_LINES`] and the last [`TAIL_LINES`] are
/// kept (a client's 30 000 PING round trips made a 1.9 MB Markdown report, past what a CI
/// step summary takes).
const HEAD_LINES: usize = 200;
const TAIL_LINES: usize = 100;

/// The report log of `t`: timestamps, connections, INSTREAM framing, no signature bodies,
/// at most [`HEAD_LINES`] + [`TAIL_LINES`] lines.
pub fn report_log(t: &Transcript) -> String {
    let mut uploads = uploads(t);
    let log = t.raw_log_with(&mut |conn, dir, at, bytes| {
        let framed = (dir == Dir::C2S)
            .then(|| uploads.get_mut(&conn))
            .flatten()
            .map(|u| u.render(at..at + bytes.len()));
        framed.unwrap_or_else(|| shorten(&crate::redact::bytes(bytes), MAX_RUN))
    });
    head_and_tail(log)
}

/// `log` with the lines between its first [`HEAD_LINES`] and its last [`TAIL_LINES`]
/// replaced by a count.
fn head_and_tail(log: String) -> String {
    let lines: Vec<&str> = log.split_inclusive('\n').collect();
    if lines.len() <= HEAD_LINES + TAIL_LINES {
        return log;
    }
    let left_out = lines.len() - HEAD_LINES - TAIL_LINES;
    let mut out = lines[..HEAD_LINES].concat();
    out.push_str(&format!("[... {left_out} lines not shown ...]\n"));
    out.push_str(&lines[lines.len() - TAIL_LINES..].concat());
    out
}

/// A connection's whole client byte stream, split into clamd frames as its reads are shown
/// (in stream order), so that memory does not grow with the number of frames.
struct Upload {
    bytes: Vec<u8>,
    cursor: FrameCursor,
    /// A frame parsed but not yet shown whole: it ends in a later read.
    pending: Option<ClientFrame>,
}

/// The connections whose client side holds an INSTREAM command and was kept whole.
fn uploads(t: &Transcript) -> HashMap<u32, Upload> {
    let mut streams: HashMap<u32, Option<Vec<u8>>> = HashMap::new();
    for e in &t.events {
        if let EventKind::Data {
            dir: Dir::C2S,
            bytes,
            truncated,
            ..
        } = &e.kind
        {
            let slot = streams.entry(e.conn).or_insert_with(|| Some(Vec::new()));
            match (slot.as_mut(), truncated) {
                (Some(all), false) => all.extend_from_slice(bytes),
                // offsets past bytes not kept are unknown: show this connection as bytes
                _ => *slot = None,
            }
        }
    }
    streams
        .into_iter()
        .filter_map(|(conn, bytes)| {
            let bytes = bytes?;
            let has_stream = parse_client(&bytes).any(
                |f| matches!(f, ClientFrame::Command { name, .. } if name.as_slice() == b"INSTREAM"),
            );
            let upload = Upload {
                bytes,
                cursor: FrameCursor::default(),
                pending: None,
            };
            has_stream.then_some((conn, upload))
        })
        .collect()
}

impl Upload {
    /// The frames that start in `run` (client stream offsets), and the rest of a chunk that
    /// started before it. Runs come in stream order, so the frames are parsed as they are
    /// shown, and at most [`MAX_PARTS`] different parts are shown (a client that sends
    /// millions of tiny chunks costs neither time per read nor memory per frame).
    fn render(&mut self, run: Range<usize>) -> String {
        let mut parts = Parts::default();
        while let Some(f) = self
            .pending
            .take()
            .or_else(|| self.cursor.next(&self.bytes))
        {
            let (at, end) = frame_span(&f);
            if end <= run.start {
                continue;
            }
            if at >= run.end {
                self.pending = Some(f);
                break;
            }
            if at < run.start {
                parts.push(format!(
                    "<rest of chunk: {} bytes>",
                    end.min(run.end) - run.start
                ));
            } else {
                parts.push(self.frame_text(&f, end.min(run.end) - at));
            }
            if end > run.end {
                // the rest of it is in a later read
                self.pending = Some(f);
                break;
            }
        }
        parts.finish()
    }

    /// One frame of which `arrived` bytes are in the run shown.
    fn frame_text(&self, f: &ClientFrame, arrived: usize) -> String {
        match f {
            ClientFrame::Command { at, end, .. } => {
                escape(&crate::redact::bytes(&self.bytes[*at..*end]))
            }
            ClientFrame::Legacy { at, end } | ClientFrame::Unterminated { at, end } => {
                shorten(&crate::redact::bytes(&self.bytes[*at..*end]), MAX_RUN)
            }
            ClientFrame::Chunk { len, complete, .. } => {
                let arrived = arrived - 4;
                if *complete && arrived == *len as usize {
                    format!("<chunk {len} bytes>")
                } else {
                    format!("<chunk {len} bytes, {arrived} in this read>")
                }
            }
            ClientFrame::PartialHeader { at, end } => {
                format!("<partial chunk header {}>", escape(&self.bytes[*at..*end]))
            }
            ClientFrame::Terminator { .. } => "<chunk 0: end of stream>".to_string(),
            ClientFrame::Insane { len, .. } => {
                format!("<chunk header {len}: framing out of step>")
            }
        }
    }
}

/// Most different parts shown for one read; the rest are counted.
const MAX_PARTS: usize = 32;

/// The parts of one read, equal neighbours collapsed as they come (`a a a b` -> `a x3 b`).
#[derive(Default)]
struct Parts {
    shown: Vec<(String, usize)>,
    more: usize,
}

impl Parts {
    fn push(&mut self, p: String) {
        let full = self.shown.len() == MAX_PARTS;
        match self.shown.last_mut() {
            Some((last, n)) if *last == p => *n += 1,
            _ if full => self.more += 1,
            _ => self.shown.push((p, 1)),
        }
    }

    fn finish(self) -> String {
        let mut out: Vec<String> = self
            .shown
            .into_iter()
            .map(|(p, n)| if n > 1 { format!("{p} x{n}") } else { p })
            .collect();
        if self.more > 0 {
            out.push(format!("<{} more frames>", self.more));
        }
        out.join(" ")
    }
}

/// Where a frame's bytes start and end in the client stream.
fn frame_span(f: &ClientFrame) -> (usize, usize) {
    match f {
        ClientFrame::Command { at, end, .. }
        | ClientFrame::Legacy { at, end }
        | ClientFrame::Unterminated { at, end }
        | ClientFrame::PartialHeader { at, end } => (*at, *end),
        ClientFrame::Chunk { at, len, .. } => (*at, at + 4 + *len as usize),
        ClientFrame::Terminator { at } => (*at, at + 4),
        ClientFrame::Insane { at, .. } => (*at, at + 4),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::Event;
    use fixtures::clamd_wire::chunk;
    use std::time::Duration;

    /// `command` (`zINSTREAM\0` or `nINSTREAM\n`), each of `chunks` framed, and the
    /// terminator.
    fn upload<'a>(command: &[u8], chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
        let mut v = command.to_vec();
        for c in chunks {
            v.extend(chunk(c));
        }
        v.extend([0, 0, 0, 0]);
        v
    }

    /// Fails unless the log of `t` shows each of `shown`; returns the log.
    fn shows(t: &Transcript, shown: &[&str]) -> String {
        let log = report_log(t);
        crate::test_support::assert_shows(&log, shown);
        log
    }

    fn data(conn: u32, dir: Dir, bytes: &[u8]) -> Event {
        Event {
            conn,
            at: Duration::from_millis(1),
            kind: EventKind::Data {
                dir,
                bytes: bytes.to_vec(),
                len: bytes.len(),
                truncated: false,
            },
        }
    }

    /// CLAMD-INSTREAM-1: an upload is shown as its frames, EICAR split over two chunks and
    /// two reads never appears, and the server's reply is shown as bytes.
    #[test]
    fn instream_upload_is_shown_as_frames_without_bodies() {
        let e = crate::input::eicar();
        let upload = upload(b"zINSTREAM\0", [&e[..30], &e[30..]]);
        let (first, second) = upload.split_at(25);
        let t = Transcript {
            events: vec![
                data(1, Dir::C2S, first),
                data(1, Dir::S2C, b""),
                data(1, Dir::C2S, second),
                data(1, Dir::S2C, b"stream: OK\0"),
            ],
            ..Default::default()
        };
        let log = shows(
            &t,
            &[
                "C: zINSTREAM\\0 <chunk 30 bytes, 11 in this read>",
                "C: <rest of chunk: 19 bytes> <chunk 38 bytes> <chunk 0: end of stream>",
                "S: stream: OK\\0",
            ],
        );
        assert!(!log.contains("X5O"), "{log}");
    }

    /// CLAMD-INSTREAM-1: a chunk spread over three reads is shown in each of them (the
    /// frames are parsed as the reads are shown, so one that ends in a later read is kept
    /// for it).
    #[test]
    fn a_chunk_over_three_reads_is_shown_in_each() {
        let upload = upload(b"zINSTREAM\0", [&[7u8; 30][..]]);
        let t = Transcript {
            events: vec![
                data(1, Dir::C2S, &upload[..20]),
                data(1, Dir::S2C, b""),
                data(1, Dir::C2S, &upload[20..30]),
                data(1, Dir::S2C, b""),
                data(1, Dir::C2S, &upload[30..]),
            ],
            ..Default::default()
        };
        shows(
            &t,
            &[
                "C: zINSTREAM\\0 <chunk 30 bytes, 6 in this read>",
                "C: <rest of chunk: 10 bytes>\n",
                "C: <rest of chunk: 14 bytes> <chunk 0: end of stream>",
            ],
        );
    }

    /// Equal chunks collapse; a connection without INSTREAM is shown as (redacted) bytes.
    #[test]
    fn repeats_collapse_and_other_commands_stay_bytes() {
        let upload = upload(b"nINSTREAM\n", [&[7u8; 10][..]; 3]);
        let t = Transcript {
            events: vec![data(1, Dir::C2S, &upload), data(2, Dir::C2S, b"zPING\0")],
            ..Default::default()
        };
        shows(
            &t,
            &[
                "#1 C: nINSTREAM\\n <chunk 10 bytes> x3 <chunk 0: end of stream>",
                "#2 C: zPING\\0",
            ],
        );
    }

    /// A long log keeps its first and last lines and says how many it left out.
    #[test]
    fn a_long_log_keeps_its_head_and_tail() {
        let events: Vec<Event> = (0..1000)
            .flat_map(|_| [data(1, Dir::C2S, b"zPING\0"), data(1, Dir::S2C, b"PONG\0")])
            .collect();
        let log = report_log(&Transcript::from_events(events));
        assert_eq!(log.lines().count(), HEAD_LINES + 1 + TAIL_LINES, "{log}");
        assert!(log.contains("\n[... 1700 lines not shown ...]\n"), "{log}");
        assert!(log.trim_end().ends_with("#1 S: PONG\\0"), "{log}");
    }

    /// A client that uploads a million chunks of 1 and 2 bytes in turn over a thousand
    /// reads: each read is one bounded line, its frames found without walking every frame
    /// for every read (the old log put every frame on its read's line: 16 MB here).
    #[test]
    fn a_million_tiny_chunks_render_quickly_and_bounded() {
        // sizes 1 and 2 in turn: nothing collapses
        let sizes = (0..1_000_000u32).map(|i| if i % 2 == 0 { &b"a"[..] } else { b"bb" });
        let upload = upload(b"zINSTREAM\0", sizes);
        let events: Vec<Event> = upload
            .chunks(upload.len() / 1000 + 1)
            .map(|piece| data(1, Dir::C2S, piece))
            .collect();
        let t = Transcript::from_events(events);
        let start = std::time::Instant::now();
        let log = report_log(&t);
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{:?}",
            start.elapsed()
        );
        assert!(log.lines().count() < 1100, "{}", log.lines().count());
        let longest = log.lines().map(str::len).max().unwrap_or(0);
        assert!(longest < 4096, "{longest}");
        assert!(
            log.contains("<chunk 1 bytes> <chunk 2 bytes> <chunk 1 bytes>"),
            "{}",
            &log[..2000.min(log.len())]
        );
        assert!(
            log.contains(" more frames>\n"),
            "{}",
            &log[..2000.min(log.len())]
        );
    }
}
