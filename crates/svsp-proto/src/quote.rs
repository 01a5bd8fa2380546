//! Names in responses: quoting, arrow chains, and echoed tokens.
//!
//! * SVSP-NAME-2: a name is written in double quotes; `"` -> `\"`, `\` -> `\\`, LF -> `\n`;
//!   every other byte (CR, TAB, controls, non-UTF-8) is copied unchanged.
//! * SVSP-NAME-3: archive parts are joined by ` -> `.
//! * SVSP-CLIENT-7: the decoder accepts `\"`, `\\`, `\n`, also `\r` and `\t`, and keeps any
//!   other backslash sequence unchanged.
//! * SVSP-RESP-ERR-1 / CL-2: client tokens echoed in error messages are cut at 64 bytes,
//!   then bytes outside 0x21..=0x7E are written `\xHH` (upper-case hex), `...` marks the cut.

use crate::SvspError;

/// Separator between the components of an archive chain (SVSP-NAME-3).
pub const ARROW: &[u8] = b" -> ";

/// Maximum number of raw bytes of a client token echoed in an error message (CL-2).
pub const ECHO_TOKEN_MAX: usize = 64;

/// Appends the quoted form of `name` to `out` (SVSP-NAME-2).
pub fn quote_into(out: &mut Vec<u8>, name: &[u8]) {
    out.reserve(name.len() + 2);
    out.push(b'"');
    for &b in name {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// The quoted form of `name` (SVSP-NAME-2).
pub fn quote(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    quote_into(&mut out, name);
    out
}

/// Writes a chain of names joined by ` -> ` (SVSP-NAME-3). An empty chain writes `""`.
pub fn quote_chain_into<N: AsRef<[u8]>>(out: &mut Vec<u8>, chain: &[N]) {
    if chain.is_empty() {
        quote_into(out, b"");
        return;
    }
    for (i, part) in chain.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(ARROW);
        }
        quote_into(out, part.as_ref());
    }
}

/// The quoted chain (SVSP-NAME-3).
pub fn quote_chain<N: AsRef<[u8]>>(chain: &[N]) -> Vec<u8> {
    let mut out = Vec::new();
    quote_chain_into(&mut out, chain);
    out
}

/// Parses one quoted string at the start of `input` (tolerant, SVSP-CLIENT-7).
/// Returns the decoded name and the remaining input after the closing quote.
pub fn unquote(input: &[u8]) -> Result<(Vec<u8>, &[u8]), SvspError> {
    let Some((&b'"', body)) = input.split_first() else {
        return Err(SvspError::BadQuotedName("expected opening double quote"));
    };
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'"' => return Ok((out, &body[i + 1..])),
            b'\\' => {
                let Some(&next) = body.get(i + 1) else {
                    return Err(SvspError::BadQuotedName("unterminated escape"));
                };
                match next {
                    b'"' => out.push(b'"'),
                    b'\\' => out.push(b'\\'),
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    other => {
                        // Unknown escape: keep both bytes unchanged (SVSP-CLIENT-7).
                        out.push(b'\\');
                        out.push(other);
                    }
                }
                i += 2;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Err(SvspError::BadQuotedName("missing closing double quote"))
}

/// Parses a chain `"a" -> "b" -> ...` at the start of `input` (SVSP-NAME-3, SVSP-CLIENT-7).
/// Returns the components and the remaining input.
pub fn unquote_chain(input: &[u8]) -> Result<(Vec<Vec<u8>>, &[u8]), SvspError> {
    let (first, mut rest) = unquote(input)?;
    let mut chain = vec![first];
    while let Some(after) = rest.strip_prefix(ARROW) {
        if after.first() != Some(&b'"') {
            break;
        }
        let (next, r) = unquote(after)?;
        chain.push(next);
        rest = r;
    }
    Ok((chain, rest))
}

/// Escapes a client token for an error message (SVSP-RESP-ERR-1, CL-2).
pub fn echo_token(token: &[u8]) -> Vec<u8> {
    let cut = token.len() > ECHO_TOKEN_MAX;
    let raw = &token[..token.len().min(ECHO_TOKEN_MAX)];
    let mut out = Vec::with_capacity(raw.len() + 3);
    for &b in raw {
        if (0x21..=0x7e).contains(&b) {
            out.push(b);
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.extend_from_slice(&[
                b'\\',
                b'x',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ]);
        }
    }
    if cut {
        out.extend_from_slice(b"...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SVSP-NAME-2.
    #[test]
    fn svsp_name_2_escapes_only_quote_backslash_lf() {
        assert_eq!(
            quote(b"/tmp/we\"ird\\dir/line\nbreak.txt"),
            b"\"/tmp/we\\\"ird\\\\dir/line\\nbreak.txt\"".to_vec()
        );
        assert_eq!(quote(b"a\rb\tc\x00\xff"), b"\"a\rb\tc\x00\xff\"".to_vec());
        assert_eq!(quote(b""), b"\"\"".to_vec());
    }

    /// SVSP-NAME-3.
    #[test]
    fn svsp_name_3_chain_uses_arrow() {
        assert_eq!(
            quote_chain(&[&b"/t/a.tar"[..], b"/inner.zip", b"/x.exe"]),
            b"\"/t/a.tar\" -> \"/inner.zip\" -> \"/x.exe\"".to_vec()
        );
        assert_eq!(quote_chain::<&[u8]>(&[]), b"\"\"".to_vec());
    }

    /// SVSP-CLIENT-7.
    #[test]
    fn svsp_client_7_decoder_tolerates_extra_escapes() {
        let (n, rest) = unquote(b"\"a\\r\\t\\q\\n\" tail").unwrap();
        assert_eq!(n, b"a\r\t\\q\n".to_vec());
        assert_eq!(rest, b" tail");
        assert!(unquote(b"\"abc").is_err());
        assert!(unquote(b"abc\"").is_err());
        assert!(unquote(b"\"abc\\").is_err());
        let (chain, rest) = unquote_chain(b"\"\" -> \"/x : y -> z\" : m").unwrap();
        assert_eq!(chain, vec![b"".to_vec(), b"/x : y -> z".to_vec()]);
        assert_eq!(rest, b" : m");
    }

    /// SVSP-RESP-ERR-1.
    #[test]
    fn svsp_resp_err_1_echo_token_escapes_and_cuts_cl_2() {
        assert_eq!(echo_token(b"wrongCommand"), b"wrongCommand".to_vec());
        assert_eq!(echo_token(b"a b\x00\xfe"), b"a\\x20b\\x00\\xFE".to_vec());
        let long = vec![b'x'; 65];
        let mut want = vec![b'x'; 64];
        want.extend_from_slice(b"...");
        assert_eq!(echo_token(&long), want);
        assert_eq!(echo_token(&[b'x'; 64]), vec![b'x'; 64]);
    }
}
