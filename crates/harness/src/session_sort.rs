//! Snapshot order `by-content`: the requests of a clamd IDSESSION listed by their rendered
//! text and numbered anew, with the replies renumbered to match (CLAMD-SESSION-3: a reply
//! carries the number of its request). A client that sends one request per file in its
//! directory-walk order (clamdscan `--multiscan --stream`) then gets the same snapshot on
//! every file system, while a reply given to the wrong request still shows: the pairing of
//! request and reply is kept, only the listing order changes.

use serde::{Deserialize, Serialize};

/// How a profile's snapshots list the requests of one session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SnapshotOrder {
    /// In the order the client sent them (the default).
    #[default]
    AsSent,
    /// Sorted by content and numbered anew (for clients whose order is the file system's).
    ByContent,
}

/// One request as rendered: its command name and its lines (the command and its chunks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// The command name without framing (`IDSESSION`, `INSTREAM`, `END`).
    pub name: Vec<u8>,
    /// Its rendered lines.
    pub text: String,
    /// Its bytes as sent: orders requests whose rendering is the same (two files of one
    /// size), so their replies are numbered the same way in every walk order.
    pub sent: Vec<u8>,
}

/// A reply record with its terminator, and whether the terminator came.
pub type Reply = (Vec<u8>, bool);

/// The units and replies of one connection listed by content, or `None` when there is no
/// session of two or more requests, or a reply does not fit the numbering (then the
/// snapshot shows the order as sent).
pub fn by_content(units: &[Unit], replies: &[Reply]) -> Option<(Vec<Unit>, Vec<Reply>)> {
    let start = units.iter().position(|u| u.name == b"IDSESSION")?;
    let end = units[start + 1..]
        .iter()
        .position(|u| u.name == b"END")
        .map_or(units.len(), |i| start + 1 + i);
    let numbered = &units[start + 1..end];
    if numbered.len() < 2 {
        return None;
    }
    let mut order: Vec<usize> = (0..numbered.len()).collect();
    order.sort_by(|a, b| {
        let (a, b) = (&numbered[*a], &numbered[*b]);
        (&a.text, &a.sent).cmp(&(&b.text, &b.sent))
    });
    // new_id[old request index] = its number in the sorted listing
    let mut new_id = vec![0usize; numbered.len()];
    for (pos, old) in order.iter().enumerate() {
        new_id[*old] = pos + 1;
    }
    let replies = renumbered(replies, &new_id)?;
    let mut out: Vec<Unit> = units[..=start].to_vec();
    out.extend(order.iter().map(|i| numbered[*i].clone()));
    out.extend_from_slice(&units[end..]);
    Some((out, replies))
}

/// Replies before the session (no number) first as they were, then the numbered ones with
/// their new numbers, in number order (one request's several lines keep their order).
fn renumbered(replies: &[Reply], new_id: &[usize]) -> Option<Vec<Reply>> {
    let mut plain = Vec::new();
    let mut numbered: Vec<(usize, Reply)> = Vec::new();
    for (bytes, terminated) in replies {
        match split_id(bytes) {
            Some((id, rest)) => {
                let new = *new_id.get(id.checked_sub(1)?)?;
                let mut b = format!("{new}: ").into_bytes();
                b.extend_from_slice(rest);
                numbered.push((new, (b, *terminated)));
            }
            // an unnumbered reply after a numbered one: not a plain session, keep as sent
            None if !numbered.is_empty() => return None,
            None => plain.push((bytes.clone(), *terminated)),
        }
    }
    numbered.sort_by_key(|(id, _)| *id);
    plain.extend(numbered.into_iter().map(|(_, r)| r));
    Some(plain)
}

/// `<digits>: rest` split into the number and `rest`.
fn split_id(reply: &[u8]) -> Option<(usize, &[u8])> {
    let colon = reply.windows(2).position(|w| w == b": ")?;
    let digits = &reply[..colon];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let id = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((id, &reply[colon + 2..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(name: &str, text: &str) -> Unit {
        Unit {
            name: name.as_bytes().to_vec(),
            text: text.to_string(),
            sent: text.as_bytes().to_vec(),
        }
    }

    fn reply(s: &str) -> Reply {
        (s.as_bytes().to_vec(), true)
    }

    fn session(files: &[&str]) -> Vec<Unit> {
        let mut u = vec![unit("IDSESSION", "C: zIDSESSION\n")];
        u.extend(files.iter().map(|f| unit("INSTREAM", f)));
        u.push(unit("END", "C: zEND\n"));
        u
    }

    /// CLAMD-SESSION-3: the same files sent in two orders give one listing, each reply still
    /// beside the number of its own request.
    #[test]
    fn clamd_session_3_two_send_orders_give_one_listing() {
        let a = session(&["<chunk 10>\n", "<chunk 68>\n", "<chunk 5>\n"]);
        let ra = [
            reply("1: stream: OK\0"),
            reply("2: stream: Eicar FOUND\0"),
            reply("3: stream: OK\0"),
        ];
        let b = session(&["<chunk 68>\n", "<chunk 5>\n", "<chunk 10>\n"]);
        let rb = [
            reply("3: stream: OK\0"),
            reply("1: stream: Eicar FOUND\0"),
            reply("2: stream: OK\0"),
        ];
        let sa = by_content(&a, &ra).unwrap();
        let sb = by_content(&b, &rb).unwrap();
        assert_eq!(sa, sb);
        let texts: Vec<&str> = sa.0.iter().map(|u| u.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "C: zIDSESSION\n",
                "<chunk 10>\n",
                "<chunk 5>\n",
                "<chunk 68>\n",
                "C: zEND\n"
            ]
        );
        assert_eq!(sa.1[2], reply("3: stream: Eicar FOUND\0"));
    }

    /// CLAMD-CLIENT-9: a reply paired with the wrong request is not hidden by the sorting.
    #[test]
    fn clamd_client_9_a_mismatched_pairing_still_differs() {
        let u = session(&["<chunk 10>\n", "<chunk 68>\n"]);
        let right = by_content(
            &u,
            &[reply("1: stream: OK\0"), reply("2: stream: Eicar FOUND\0")],
        );
        let wrong = by_content(
            &u,
            &[reply("1: stream: Eicar FOUND\0"), reply("2: stream: OK\0")],
        );
        assert_ne!(right, wrong);
    }

    /// Without a session, with a single request, or with a reply that does not fit the
    /// numbering, the order as sent is kept.
    #[test]
    fn falls_back_to_the_order_as_sent() {
        let plain = vec![unit("INSTREAM", "a"), unit("INSTREAM", "b")];
        assert_eq!(by_content(&plain, &[reply("stream: OK\0")]), None);
        let one = session(&["a"]);
        assert_eq!(by_content(&one, &[reply("1: stream: OK\0")]), None);
        let two = session(&["b", "a"]);
        assert_eq!(by_content(&two, &[reply("3: stream: OK\0")]), None);
        assert_eq!(
            by_content(
                &two,
                &[reply("1: stream: OK\0"), reply("UNKNOWN COMMAND\0")]
            ),
            None
        );
        // replies before the session stay first; an unterminated last one keeps its flag
        let (_, r) = by_content(
            &[vec![unit("PING", "p")], two.clone()].concat(),
            &[reply("PONG\0"), (b"1: stream: O".to_vec(), false)],
        )
        .unwrap();
        assert_eq!(r, [reply("PONG\0"), (b"2: stream: O".to_vec(), false)]);
    }
}
