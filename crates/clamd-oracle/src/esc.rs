//! The byte-string notation used in `cases.toml` and `transcripts.json`.
//!
//! Printable ASCII stands for itself; `\0 \n \r \t \\` and `\xHH` are escapes. Placeholders in
//! braces are expanded by [`expand`]: `{corpus}` (the corpus directory), `{eicar}` (the 68-byte
//! EICAR file, decoded at run time, never stored), `{{` for a literal `{`.

use crate::Error;

/// Renders bytes in the escape notation (inverse of [`unescape`]): the shared trace notation
/// of `clamd_proto::display::escape`, with `{` doubled so that it cannot start a placeholder.
pub fn escape(bytes: &[u8]) -> String {
    clamd_proto::display::escape(bytes).replace('{', "{{")
}

/// Parses the escape notation into bytes, leaving placeholders (`{name}`) as they are and
/// turning `{{` into `{{` too (placeholder expansion is [`expand`]'s job).
pub fn unescape(text: &str) -> Result<Vec<u8>, Error> {
    let bad = |why: &str| Error::Notation(format!("{why} in {text:?}"));
    let mut out = Vec::with_capacity(text.len());
    let mut it = text.bytes().peekable();
    while let Some(b) = it.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match it.next() {
            Some(b'0') => out.push(0),
            Some(b'n') => out.push(b'\n'),
            Some(b'r') => out.push(b'\r'),
            Some(b't') => out.push(b'\t'),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hi = it.next().ok_or_else(|| bad("truncated \\x"))?;
                let lo = it.next().ok_or_else(|| bad("truncated \\x"))?;
                let s = [hi, lo];
                let s = std::str::from_utf8(&s).map_err(|_| bad("bad \\x"))?;
                out.push(u8::from_str_radix(s, 16).map_err(|_| bad("bad \\x"))?);
            }
            _ => return Err(bad("unknown escape")),
        }
    }
    Ok(out)
}

/// Values for the placeholders.
#[derive(Debug, Clone)]
pub struct Vars {
    pub corpus: Vec<u8>,
    pub eicar: Vec<u8>,
}

/// Unescapes `text` and expands its placeholders.
pub fn expand(text: &str, vars: &Vars) -> Result<Vec<u8>, Error> {
    let raw = unescape(text)?;
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'{' {
            if raw.get(i + 1) == Some(&b'{') {
                out.push(b'{');
                i += 2;
                continue;
            }
            let end = raw[i..]
                .iter()
                .position(|&c| c == b'}')
                .ok_or_else(|| Error::Notation(format!("unclosed placeholder in {text:?}")))?;
            let name = &raw[i + 1..i + end];
            match name {
                b"corpus" => out.extend_from_slice(&vars.corpus),
                b"eicar" => out.extend_from_slice(&vars.eicar),
                _ => {
                    return Err(Error::Notation(format!(
                        "unknown placeholder {{{}}} in {text:?}",
                        String::from_utf8_lossy(name)
                    )))
                }
            }
            i += end + 1;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Replaces every occurrence of `needle` in `hay` by `with` (used to template the corpus path
/// and redact the version in recorded replies).
pub fn replace_all(hay: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    if needle.is_empty() {
        return hay.to_vec();
    }
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_roundtrip_all_bytes() {
        let all: Vec<u8> = (0..=255u8).collect();
        let text = escape(&all);
        let vars = Vars {
            corpus: b"/c".to_vec(),
            eicar: vec![],
        };
        assert_eq!(expand(&text, &vars).unwrap(), all);
    }

    #[test]
    fn placeholders_expand() {
        let vars = Vars {
            corpus: b"/tmp/x".to_vec(),
            eicar: b"E".to_vec(),
        };
        assert_eq!(
            expand("zSCAN {corpus}/a\\0{eicar}{{", &vars).unwrap(),
            b"zSCAN /tmp/x/a\0E{"
        );
        assert!(expand("{nope}", &vars).is_err());
        assert!(unescape("\\q").is_err());
    }
}
