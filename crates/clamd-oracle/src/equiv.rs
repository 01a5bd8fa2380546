//! When two clamd replies are the same reply: records in any order, STATS numbers that
//! depend on load, and the races clamd's own threads allow (torn writes, scan replies lost
//! after a closing error). Read by the transcript comparison (replays) and the differential
//! fuzzer alike, so that both judge with one equivalence.

use clamd_proto::reply::{self, is_closing_text};

/// Splits reply bytes into records, each ending in `\0` or `\n` (a trailing partial record is
/// kept as is), and sorts them.
pub fn sorted_records(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = Vec::new();
    let mut cur = Vec::new();
    for &b in bytes {
        cur.push(b);
        if b == 0 || b == b'\n' {
            v.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        v.push(cur);
    }
    v.sort();
    v
}

/// STATS (CLAMD-CMD-7): drop the per-thread `\t<TASK> <secs> [file]\n` lines and replace the
/// numbers that depend on load and history.
pub fn normalize_stats(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        if line.first() == Some(&b'\t') {
            continue;
        }
        // Under load clamd adds `min_wait: .. max_wait: .. avg_wait: ..` after the queue
        // length; keep only the shape `QUEUE: N items`.
        if line.starts_with(b"QUEUE: ") {
            out.extend_from_slice(b"QUEUE: N items");
            if line.ends_with(b"\n") {
                out.push(b'\n');
            }
            continue;
        }
        let mut l = line.to_vec();
        for (key, stop) in [
            (&b"THREADS: live "[..], b' '),
            (&b"  idle "[..], b' '),
            (&b"QUEUE: "[..], b' '),
            (&b"pools_used "[..], b' '),
            (&b"pools_total "[..], b'\n'),
        ] {
            l = replace_value(&l, key, stop);
        }
        out.extend_from_slice(&l);
    }
    out
}

fn replace_value(line: &[u8], key: &[u8], stop: u8) -> Vec<u8> {
    let Some(i) = memfind(line, key) else {
        return line.to_vec();
    };
    let start = i + key.len();
    let end = line[start..]
        .iter()
        .position(|&b| b == stop || b == 0)
        .map_or(line.len(), |p| start + p);
    [&line[..start], b"N", &line[end..]].concat()
}

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Whether a reply body holds an error after which clamd closes the connection, ending any
/// session (CLAMD-REPLY-2 "close" column: CLAMD-SESSION-5/6/10, CLAMD-INSTREAM-5,
/// CLAMD-FILDES-3, CLAMD-CONN-3, ...). The texts are `clamd_proto::reply::CLOSING_TEXTS`.
fn closing_error(body: &[u8]) -> bool {
    is_closing_text(&String::from_utf8_lossy(body))
}

/// Replies clamd's reading thread sends itself; any other numbered line is a worker's
/// (STATS too: observed on clamd 1.4.6, its reply is queued like a scan's).
fn immediate(body: &[u8]) -> bool {
    let timed_out = reply::COMMAND_READ_TIMED_OUT;
    let timed_out = timed_out.strip_suffix(b"\n").unwrap_or(timed_out);
    body.starts_with(reply::PONG.as_bytes())
        || body.starts_with(b"ClamAV ")
        || body.starts_with(timed_out)
}

/// Length of a `<k>: ` prefix directly followed by another `<j>: ` (a torn write).
fn torn_prefix(r: &[u8]) -> Option<usize> {
    let num = |r: &[u8]| {
        let d = r.iter().take_while(|b| b.is_ascii_digit()).count();
        (d > 0 && r[d..].starts_with(b": ")).then_some(d + 2)
    };
    let n = num(r)?;
    num(&r[n..]).map(|_| n)
}

/// A STATS reply (`[k: ]POOLS: ...` up to `END<t>`) as one record: it is one reply.
fn fold_stats(recs: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut open = false;
    for r in recs {
        if open {
            if let Some(last) = out.last_mut() {
                last.extend_from_slice(&r);
            }
            open = !(r == b"END\0" || r == b"END\n");
            continue;
        }
        let digits = r.iter().take_while(|b| b.is_ascii_digit()).count();
        let rest = if digits > 0 && r[digits..].starts_with(b": ") {
            &r[digits + 2..]
        } else {
            &r[..]
        };
        open = rest.starts_with(b"POOLS: ");
        out.push(r);
    }
    out
}

/// The reply as clamd's threads make it comparable: STATS numbers normalised, records
/// (ending in `\0` or `\n`) as a sorted multiset, and, when a session ended with a closing
/// error, the numbered scan replies left out: whether a worker's reply got out before the
/// reading thread closed the connection is clamd's race (CLAMD-SESSION-5).
pub fn race_records(reply: &[u8]) -> Vec<Vec<u8>> {
    let norm = normalize_stats(reply);
    let mut recs: Vec<Vec<u8>> = Vec::new();
    let mut cur = Vec::new();
    for &b in &norm {
        cur.push(b);
        if b == 0 || b == b'\n' {
            recs.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        recs.push(cur);
    }
    // a torn write (observed: a worker's `1: ` prefix, then the reading thread's whole
    // error line, then the worker's body): the orphan prefix goes
    for r in &mut recs {
        while let Some(n) = torn_prefix(r) {
            r.drain(..n);
        }
    }
    let mut recs = fold_stats(recs);
    let body = |r: &[u8]| -> Option<Vec<u8>> {
        // "<k>: rest" -> rest (session records only)
        let digits = r.iter().take_while(|b| b.is_ascii_digit()).count();
        (digits > 0 && r[digits..].starts_with(b": ")).then(|| r[digits + 2..].to_vec())
    };
    let closing = recs
        .iter()
        .filter_map(|r| body(r))
        .any(|b| closing_error(&b));
    if closing {
        recs.retain(|r| match body(r) {
            Some(b) => immediate(&b) || closing_error(&b),
            // the body of a torn STATS reply is a worker's too
            None => !r.starts_with(b"POOLS: "),
        });
        // `Error processing command` beside another closing error says a worker job was still
        // pending then (CLAMD-SESSION-10: observed both ways after a lone FILDES with a STATS
        // queued), so it is as optional as the jobs' own replies
        let processing = |r: &Vec<u8>| body(r).is_some_and(|b| b.starts_with(b"Error processing"));
        let other_closing = recs
            .iter()
            .filter_map(|r| body(r))
            .any(|b| closing_error(&b) && !b.starts_with(b"Error processing"));
        if other_closing {
            recs.retain(|r| !processing(r));
        }
    }
    recs.sort();
    recs
}

/// Whether a reply holds a numbered closing error (a session that ended by error).
pub fn race_closing(reply: &[u8]) -> bool {
    reply
        .split(|&b| b == 0 || b == b'\n')
        .filter(|r| r.first().is_some_and(u8::is_ascii_digit))
        .any(closing_error)
}

/// Whether clamd tore a reply: its threads write a `<k>: ` prefix and the body separately,
/// so another thread's reply can land between them (observed: a STATS body inside a
/// VERSIONCOMMANDS line). Such a run says nothing about the order of replies.
pub fn torn(reply: &[u8]) -> bool {
    // two prefixes on one line (`2: 1: stream: OK`): another thread's reply landed between a
    // `<k>: ` prefix and its body
    if reply
        .split(|&b| b == 0 || b == b'\n')
        .any(|line| torn_prefix(line).is_some())
    {
        return true;
    }
    // a VERSIONCOMMANDS line holds only upper-case command names after `| COMMANDS:`
    let torn_commands = reply
        .split(|&b| b == 0 || b == b'\n')
        .filter_map(|line| {
            let i = line.windows(12).position(|w| w == b"| COMMANDS: ")?;
            Some(&line[i + 12..])
        })
        .any(|names| !names.iter().all(|b| b.is_ascii_uppercase() || *b == b' '));
    if torn_commands {
        return true;
    }
    let mut start = 0;
    for (i, w) in reply.windows(7).enumerate() {
        if i > 0 && matches!(reply[i - 1], 0 | b'\n') {
            start = i;
        }
        if w == b"POOLS: " {
            let head = &reply[start..i];
            let d = head.iter().take_while(|b| b.is_ascii_digit()).count();
            let prefix_only =
                head.is_empty() || (d > 0 && d + 2 == head.len() && head.ends_with(b": "));
            if !prefix_only {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CLAMD-SESSION-10: after a lone FILDES's error with a STATS queued, clamd sends the STATS
    /// reply or `Error processing command` (the job was still pending): both agree. A lone
    /// `Error processing command` is still compared.
    #[test]
    fn error_processing_beside_another_closing_error_is_optional() {
        let stats_won = b"1: PONG\x003: PONG\x004: No file descriptor received. ERROR\x002: POOLS: 1\n\nEND\x00";
        let pending = b"1: PONG\x003: PONG\x004: No file descriptor received. ERROR\x004: Error processing command. ERROR\x00";
        assert_eq!(race_records(stats_won), race_records(pending));
        assert_ne!(
            race_records(b"1: PONG\x002: Error processing command. ERROR\x00"),
            race_records(b"1: PONG\x00")
        );
    }

    /// A line with two reply prefixes is a torn write (seed 2002 of the 100k exploration).
    #[test]
    fn torn_detects_two_prefixes_on_one_line() {
        assert!(torn(b"2: 1: stream: OK\x003: PONG\x00"));
        assert!(!torn(b"1: stream: OK\x002: PONG\x00"));
    }

    #[test]
    fn stats_normalisation_ignores_load() {
        let a = b"POOLS: 1\n\nSTATE: VALID PRIMARY\nTHREADS: live 1  idle 0 max 10 idle-timeout 30\nQUEUE: 0 items\n\tSTATS 0.000005 \n\nMEMSTATS: heap N/A mmap N/A used N/A free N/A releasable N/A pools 1 pools_used 5.884M pools_total 5.964M\nEND\0";
        let b = b"POOLS: 1\n\nSTATE: VALID PRIMARY\nTHREADS: live 3  idle 2 max 10 idle-timeout 30\nQUEUE: 0 items\n\tSTATS 0.1 \n\tIDLE 2.0 \n\nMEMSTATS: heap N/A mmap N/A used N/A free N/A releasable N/A pools 1 pools_used 1M pools_total 2M\nEND\0";
        assert_eq!(normalize_stats(a), normalize_stats(b));
        let c = b"POOLS: 1\n\nSTATE: VALID PRIMARY\nTHREADS: live 3  idle 2 max 9 idle-timeout 30\nEND\0";
        assert_ne!(normalize_stats(a), normalize_stats(c));
    }

    #[test]
    fn unordered_records() {
        assert_eq!(
            sorted_records(b"1: A\x002: B\n"),
            sorted_records(b"2: B\n1: A\0")
        );
        assert_ne!(
            sorted_records(b"1: A\x002: B\n"),
            sorted_records(b"2: B\x001: A\n")
        );
    }

    #[test]
    fn stats_queue_wait_times_are_normalized() {
        let idle = b"POOLS: 1\n\nSTATE: VALID PRIMARY\nTHREADS: live 1  idle 0 max 10 idle-timeout 30\nQUEUE: 0 items\n\tSTATS 0.000005 \n\nEND\0";
        let busy = b"POOLS: 1\n\nSTATE: VALID PRIMARY\nTHREADS: live 6  idle 5 max 10 idle-timeout 30\nQUEUE: 1 items min_wait: 0.000214 max_wait: 0.000214 avg_wait: 0.000214\n\tIDLE 0.013026 \n\tSTATS 0.000015 \n\nEND\0";
        assert_eq!(normalize_stats(idle), normalize_stats(busy));
        let other = b"POOLS: 2\n\nSTATE: VALID PRIMARY\nTHREADS: live 1  idle 0 max 10 idle-timeout 30\nQUEUE: 0 items\n\nEND\0";
        assert_ne!(
            normalize_stats(idle),
            normalize_stats(other),
            "the shape still counts"
        );
    }

    /// CLAMD-SESSION-5: after a closing error the scan and STATS replies are optional,
    /// immediate replies and the error are not.
    #[test]
    fn race_records_make_queued_replies_optional_after_a_closing_error() {
        let clamd = b"1: ClamAV 1.4.6\x002: PONG\x003: stream: OK\x005: Command invalid inside IDSESSION. ERROR\0";
        let fake = b"2: PONG\x001: ClamAV 1.4.6\x005: Command invalid inside IDSESSION. ERROR\0";
        assert_eq!(race_records(clamd), race_records(fake));
        let no_pong = b"1: ClamAV 1.4.6\x005: Command invalid inside IDSESSION. ERROR\0";
        assert_ne!(race_records(clamd), race_records(no_pong));
        // without a closing error every reply counts
        assert_ne!(
            race_records(b"1: stream: OK\x002: PONG\0"),
            race_records(b"2: PONG\0")
        );
    }

    /// A STATS body inside another reply's line is a torn write; a whole one is not.
    #[test]
    fn torn_detects_a_stats_body_inside_another_line() {
        assert!(torn(
            b"2: ClamAV 1.4.6| COMMANDS: SCAN1:  QUITPOOLS: 1\n\nEND\0 STATS\n"
        ));
        assert!(!torn(b"1: POOLS: 1\n\nEND\0"));
        assert!(!torn(b"2: PONG\0POOLS: 1\nEND\0"));
        assert!(torn(
            b"3: ClamAV 1.4.6| COMMANDS: SCAN PING1: /c/x: OK\n VERSION END\0"
        ));
        assert!(!torn(b"3: ClamAV 1.4.6| COMMANDS: SCAN PING VERSION END\0"));
    }

    /// A torn STATS write (`1: ` + another line + the body) is one optional reply.
    #[test]
    fn race_records_repair_a_torn_stats_reply() {
        let torn = b"3: No file descriptor received. ERROR\x001: 3: Error processing command. ERROR\0POOLS: 1\n\nEND\0";
        let clean =
            b"3: No file descriptor received. ERROR\x003: Error processing command. ERROR\0";
        assert_eq!(race_records(torn), race_records(clean));
    }
}
