//! The escapes of the repository's one byte notation: `\0` `\n` `\r` `\t` `\\` and `\xHH`
//! (exactly two hex digits, either case); any other backslash is an error. Raw fault replies
//! ([`crate::Fault::Reply`] with `raw`) are decoded here, and so are the test files'
//! texts (`fixtures::notation` adds its run-time placeholders on top).

/// A backslash that starts no escape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EscapeError {
    #[error("unknown escape `\\{0}` (known: \\0 \\n \\r \\t \\\\ \\xHH)")]
    UnknownEscape(char),
    #[error("`\\x` needs two hex digits, found {0:?}")]
    BadHex(String),
    #[error("a lone backslash ends the text (write `\\\\`)")]
    TrailingBackslash,
}

/// The byte of the escape that starts at `text[i]` (a backslash), and its length in bytes.
pub fn escape_at(text: &str, i: usize) -> Result<(u8, usize), EscapeError> {
    let b = text.as_bytes();
    let byte = match b.get(i + 1) {
        None => return Err(EscapeError::TrailingBackslash),
        Some(b'0') => 0,
        Some(b'n') => b'\n',
        Some(b'r') => b'\r',
        Some(b't') => b'\t',
        Some(b'\\') => b'\\',
        Some(b'x') => {
            let digits = b
                .get(i + 2..i + 4)
                .filter(|d| d.iter().all(u8::is_ascii_hexdigit));
            return match digits
                .and_then(|d| u8::from_str_radix(std::str::from_utf8(d).ok()?, 16).ok())
            {
                Some(v) => Ok((v, 4)),
                None => Err(EscapeError::BadHex(text[i + 2..].chars().take(2).collect())),
            };
        }
        Some(_) => {
            let c = text[i + 1..].chars().next().unwrap_or('\\');
            return Err(EscapeError::UnknownEscape(c));
        }
    };
    Ok((byte, 2))
}

/// Decodes every escape of `text`; the error carries the byte offset of the bad one.
pub fn unescape(text: &str) -> Result<Vec<u8>, (usize, EscapeError)> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            let (byte, len) = escape_at(text, i).map_err(|e| (i, e))?;
            out.push(byte);
            i += len;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_escape_and_refuses_the_rest() {
        assert_eq!(
            unescape("a\\\\b\\x4A\\x4a\\0\\n\\r\\t é").unwrap(),
            "a\\bJJ\0\n\r\t é".as_bytes()
        );
        assert_eq!(unescape("ab\\q"), Err((2, EscapeError::UnknownEscape('q'))));
        assert_eq!(
            unescape("x\\x4g"),
            Err((1, EscapeError::BadHex("4g".into())))
        );
        assert_eq!(unescape("ok\\"), Err((2, EscapeError::TrailingBackslash)));
    }
}
