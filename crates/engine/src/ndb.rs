//! ClamAV `.ndb` body signatures (CLAMD-DET-5): `name:target:offset:hexsig[:min-fl[:max-fl]]`.
//!
//! The hex signature is translated into a byte regex for the streaming matcher. Supported:
//! hex pairs, `??`, nibble wildcards (`a?`, `?a`), `*`, `{n}`, `{n-m}`, `{-m}`, `{n-}` and
//! `(aa|bb)` alternatives. Offsets `*`, `n`, `n,m` and `EOF-n`. Everything else is a load error.

/// Largest fixed gap, anchored offset or `EOF-n` the fake accepts; larger values would make
/// the automaton (or the tail window) huge, and the fake is for tests, not production DBs.
pub const MAX_SPAN: u64 = 64 * 1024;

/// Most automaton positions one signature may expand to (offset window, gaps and bytes
/// counted by their size, see [`NdbSig::cost`]). Gaps are unrolled in the automaton, so a
/// few dozen `{65536}` would otherwise cost seconds and hundreds of MB for a short line.
pub const MAX_SIG_POSITIONS: u64 = 8 * MAX_SPAN;

/// Where a body signature may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offset {
    /// `*`: anywhere.
    Any,
    /// `n` or `n,m`: the match starts within `[start, start + window]`.
    Absolute { start: u64, window: u64 },
    /// `EOF-n`: the match starts exactly `n` bytes before the end.
    FromEof(u64),
}

/// A parsed `.ndb` line.
#[derive(Debug, Clone)]
pub struct NdbSig {
    pub name: String,
    pub offset: Offset,
    /// Regex (for `regex-automata`, Unicode off) matching the signature body.
    pub body_regex: String,
    /// The body when it is a plain byte string (fast literal path).
    pub literal: Option<Vec<u8>>,
    /// Automaton positions the signature expands to: one per byte, `*` or alternative
    /// branch byte, one per fixed and two per optional byte of gaps and of the offset. Bounded by
    /// [`MAX_SIG_POSITIONS`]; the matcher bounds the sum over the database.
    pub cost: u64,
}

/// Parse one `.ndb` line; the error is a message without file/line (the caller adds them).
pub fn parse_line(line: &str) -> Result<NdbSig, String> {
    let fields: Vec<&str> = line.split(':').collect();
    if fields.len() < 4 || fields.len() > 6 {
        return Err(format!(
            "expected name:target:offset:hexsig[:min-flevel[:max-flevel]], got {} fields",
            fields.len()
        ));
    }
    let name = fields[0];
    if name.is_empty() {
        return Err("empty signature name".into());
    }
    let target = fields[1];
    if target != "*" && target.parse::<u32>().is_err() {
        return Err(format!("bad target type `{target}`"));
    }
    for fl in &fields[4..] {
        if !fl.is_empty() && fl.parse::<u32>().is_err() {
            return Err(format!("bad functionality level `{fl}`"));
        }
    }
    let offset = parse_offset(fields[2])?;
    let (body_regex, literal, body_cost) = translate_hexsig(fields[3])?;
    let cost = body_cost.saturating_add(match offset {
        Offset::Absolute { start, window } => start + 2 * window + 1,
        Offset::Any | Offset::FromEof(_) => 0,
    });
    if cost > MAX_SIG_POSITIONS {
        return Err(format!(
            "the signature expands to {cost} automaton positions (gaps and offsets count \
             with their size); the fake supports at most {MAX_SIG_POSITIONS} per signature"
        ));
    }
    Ok(NdbSig {
        name: name.to_string(),
        offset,
        body_regex,
        literal,
        cost,
    })
}

fn parse_number(s: &str, what: &str) -> Result<u64, String> {
    let n: u64 = s
        .parse()
        .map_err(|_| format!("bad {what} `{s}` in offset"))?;
    if n > MAX_SPAN {
        return Err(format!(
            "{what} {n} is larger than the fake supports ({MAX_SPAN})"
        ));
    }
    Ok(n)
}

fn parse_offset(s: &str) -> Result<Offset, String> {
    if s == "*" {
        return Ok(Offset::Any);
    }
    if let Some(n) = s.strip_prefix("EOF-") {
        return Ok(Offset::FromEof(parse_number(n, "EOF distance")?));
    }
    if let Some((start, window)) = s.split_once(',') {
        return Ok(Offset::Absolute {
            start: parse_number(start, "offset")?,
            window: parse_number(window, "offset window")?,
        });
    }
    if s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty() {
        return Ok(Offset::Absolute {
            start: parse_number(s, "offset")?,
            window: 0,
        });
    }
    Err(format!(
        "unsupported offset `{s}` (the fake supports *, n, n,m and EOF-n)"
    ))
}

fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// The text between the opening byte at `sig[open]` and the first `close` after it, and the
/// index just past `close`.
fn group<'a>(
    sig: &'a str,
    open: usize,
    close: u8,
    unterminated: &str,
) -> Result<(&'a str, usize), String> {
    let end = sig.as_bytes()[open..]
        .iter()
        .position(|&c| c == close)
        .ok_or(unterminated)?;
    Ok((&sig[open + 1..open + end], open + end + 1))
}

/// Translate a hex signature into a regex; also returns the literal bytes when the signature
/// has no wildcard at all, and the cost (see [`NdbSig::cost`]). One pass: every `{`/`(`
/// search stops at the first closing byte, so the work is linear in the signature length.
fn translate_hexsig(sig: &str) -> Result<(String, Option<Vec<u8>>, u64), String> {
    let s = sig.as_bytes();
    if s.is_empty() {
        return Err("empty hex signature".into());
    }
    let mut re = String::new();
    let mut literal = Some(Vec::new());
    let mut fixed_bytes = 0usize;
    let mut cost = 0u64;
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'*' => {
                re.push_str("(?s-u:.)*");
                literal = None;
                cost += 1;
                i += 1;
            }
            b'{' => {
                let (inner, next) = group(sig, i, b'}', "unterminated `{` gap")?;
                let (gap_re, gap_cost) = translate_gap(inner)?;
                re.push_str(&gap_re);
                cost = cost.saturating_add(gap_cost);
                literal = None;
                i = next;
            }
            b'(' => {
                let (inner, next) = group(sig, i, b')', "unterminated `(` alternative")?;
                let mut alts = Vec::new();
                for alt in inner.split('|') {
                    let (alt_re, _) = translate_plain(alt.as_bytes())?;
                    if alt_re.is_empty() {
                        return Err("empty alternative".into());
                    }
                    cost += alt.len() as u64 / 2;
                    alts.push(alt_re);
                }
                if alts.len() < 2 {
                    return Err("an alternative needs at least two choices".into());
                }
                re.push_str("(?:");
                re.push_str(&alts.join("|"));
                re.push(')');
                fixed_bytes += 1;
                literal = None;
                i = next;
            }
            _ => {
                if i + 1 >= s.len() {
                    return Err("odd number of hex digits".into());
                }
                let (piece, byte) = translate_pair(s[i], s[i + 1])?;
                re.push_str(&piece);
                fixed_bytes += 1;
                cost += 1;
                match (byte, literal.as_mut()) {
                    (Some(b), Some(lit)) => lit.push(b),
                    _ => literal = None,
                }
                i += 2;
            }
        }
    }
    if fixed_bytes == 0 {
        return Err("the signature matches no fixed byte".into());
    }
    Ok((re, literal, cost))
}

/// Hex pairs and `??` only (inside alternatives).
fn translate_plain(s: &[u8]) -> Result<(String, ()), String> {
    if !s.len().is_multiple_of(2) {
        return Err("odd number of hex digits in alternative".into());
    }
    let mut re = String::new();
    for pair in s.chunks(2) {
        re.push_str(&translate_pair(pair[0], pair[1])?.0);
    }
    Ok((re, ()))
}

/// One byte position: `hh`, `??`, `h?` or `?h`. Returns the regex and the byte if fixed.
fn translate_pair(hi: u8, lo: u8) -> Result<(String, Option<u8>), String> {
    match (hi, lo) {
        (b'?', b'?') => Ok(("(?s-u:.)".into(), None)),
        (b'?', l) => {
            let l = hex_val(l).ok_or_else(|| format!("bad hex digit `{}`", l as char))?;
            let alts: Vec<String> = (0..16u8)
                .map(|h| format!("\\x{:02x}", (h << 4) | l))
                .collect();
            Ok((format!("(?-u:[{}])", alts.join("")), None))
        }
        (h, b'?') => {
            let h = hex_val(h).ok_or_else(|| format!("bad hex digit `{}`", h as char))?;
            Ok((
                format!("(?-u:[\\x{:02x}-\\x{:02x}])", h << 4, (h << 4) | 0x0f),
                None,
            ))
        }
        (h, l) => {
            let hv = hex_val(h).ok_or_else(|| format!("bad hex digit `{}`", h as char))?;
            let lv = hex_val(l).ok_or_else(|| format!("bad hex digit `{}`", l as char))?;
            let b = (hv << 4) | lv;
            Ok((format!("\\x{b:02x}"), Some(b)))
        }
    }
}

/// `{n}`, `{n-m}`, `{-m}`, `{n-}`; returns the regex and its cost (the unrolled size; an
/// optional position costs two, a split and a byte).
fn translate_gap(inner: &str) -> Result<(String, u64), String> {
    let num = |t: &str| parse_number(t, "gap");
    let gap = match inner.split_once('-') {
        None => {
            let n = num(inner)?;
            (format!("(?s-u:.){{{n}}}"), n)
        }
        Some(("", m)) => {
            let m = num(m)?;
            (format!("(?s-u:.){{0,{m}}}"), 2 * m)
        }
        Some((n, "")) => {
            let n = num(n)?;
            (format!("(?s-u:.){{{n},}}"), n + 1)
        }
        Some((n, m)) => {
            let (n, m) = (num(n)?, num(m)?);
            if n > m {
                return Err(format!("gap {{{n}-{m}}} has min > max"));
            }
            (format!("(?s-u:.){{{n},{m}}}"), m + (m - n))
        }
    };
    Ok(gap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_oracle_marker_line() {
        let sig =
            parse_line("Oracle.Test.MarkerA-1:0:*:434c414d442d4f5241434c452d4d41524b45522d41")
                .unwrap();
        assert_eq!(sig.name, "Oracle.Test.MarkerA-1");
        assert_eq!(sig.offset, Offset::Any);
        assert_eq!(sig.literal.as_deref(), Some(&b"CLAMD-ORACLE-MARKER-A"[..]));
    }

    #[test]
    fn parses_offsets_and_wildcards() {
        let s = parse_line("X:0:EOF-4:41??42*43{2-3}44(45|46)4?:51:255").unwrap();
        assert_eq!(s.offset, Offset::FromEof(4));
        assert!(s.literal.is_none());
        assert_eq!(
            parse_line("X:0:10,5:4142").unwrap().offset,
            Offset::Absolute {
                start: 10,
                window: 5
            }
        );
    }

    #[test]
    fn rejects_bad_lines_with_a_reason() {
        for bad in [
            "X:0:*",
            "X:0:*:4",
            "X:0:*:zz",
            "X:0:foo:41",
            "X:0:*:{3}",
            "X:0:*:41{5",
            ":0:*:41",
            "X:0:*:41:abc",
        ] {
            assert!(parse_line(bad).is_err(), "{bad} should fail");
        }
    }
}
