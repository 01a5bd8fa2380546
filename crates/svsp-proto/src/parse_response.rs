//! Tolerant response parser for clients and the harness (section 13 obligations).
//!
//! * SVSP-CLIENT-12: lines may end in LF or CRLF (strip with [`crate::LineFramer`] or pass
//!   either here), keywords are case-insensitive, blank lines are ignored, unknown keywords
//!   come back as [`Body::Unknown`].
//! * SVSP-CLIENT-7: names are decoded tolerantly.
//! * SVSP-CLIENT-9: DONE with a missing/empty count, optional SHA-1 field.
//! * SVSP-CLIENT-11: INFECTED split at the ` : ` right before the opening quote.
//!
//! A known keyword with malformed arguments is an `Err`; callers treat it as a protocol
//! error for the request (never as "clean", SVSP-CLIENT-10).

use crate::id::Id;
use crate::quote::{unquote, unquote_chain};
use crate::response::{Body, Errno, Response};
use crate::SvspError;
use memchr::memmem;

fn trim_eol(mut line: &[u8]) -> &[u8] {
    if let Some(l) = line.strip_suffix(b"\n") {
        line = l;
    }
    if let Some(l) = line.strip_suffix(b"\r") {
        line = l;
    }
    line
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim_ws(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|b| !is_ws(*b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !is_ws(*b)).map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

fn split_word(s: &[u8]) -> (&[u8], &[u8]) {
    let end = s.iter().position(|b| is_ws(*b)).unwrap_or(s.len());
    let rest = &s[end..];
    let skip = rest.iter().take_while(|b| is_ws(**b)).count();
    (&s[..end], &rest[skip..])
}

/// Parses one response line. `Ok(None)` for a blank line (SVSP-CLIENT-12).
pub fn parse_response(line: &[u8]) -> Result<Option<Response>, SvspError> {
    let line = trim_eol(line);
    let start = line.iter().position(|b| !is_ws(*b)).unwrap_or(line.len());
    let line = &line[start..];
    if line.iter().all(|b| is_ws(*b)) {
        return Ok(None);
    }
    let (first, rest) = split_word(line);
    let (id, after_id) = match Id::from_digits_lenient(first) {
        Some(id) => (Some(id), rest),
        None => (None, line),
    };
    let (kw, args) = split_word(after_id);
    if kw.is_empty() {
        return Err(SvspError::EmptyResponse);
    }
    let upper = kw.to_ascii_uppercase();
    let malformed = |keyword: &'static str, reason: &'static str| SvspError::MalformedResponse {
        keyword,
        reason,
    };
    let body = match upper.as_slice() {
        b"READY" => Body::Ready,
        b"DENIED" => Body::Denied,
        b"OK" => Body::Ok,
        b"QUEUED" => Body::Queued,
        b"SEND" => {
            let a = trim_ws(args);
            if a.is_empty() {
                Body::Send(None)
            } else {
                // SVSP-CLIENT-15: decimal 1..=65535
                let port = std::str::from_utf8(a)
                    .ok()
                    .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|s| s.parse::<u16>().ok())
                    .filter(|p| *p != 0)
                    .ok_or_else(|| {
                        malformed("SEND", "port is not a decimal number from 1 to 65535")
                    })?;
                Body::Send(Some(port))
            }
        }
        b"SCANNING" => {
            let (chain, _rest) = unquote_chain(args)?;
            Body::Scanning(chain)
        }
        b"INFECTED" => parse_infected(args)?,
        b"DONE" => parse_done(args)?,
        _ => match Errno::from_keyword(kw) {
            Some(errno) => Body::Error {
                errno,
                text: args.to_vec(),
            },
            None => Body::Unknown(after_id.to_vec()),
        },
    };
    Ok(Some(Response { id, body }))
}

/// SVSP-CLIENT-11.
fn parse_infected(args: &[u8]) -> Result<Body, SvspError> {
    let bad = |reason| SvspError::MalformedResponse {
        keyword: "INFECTED",
        reason,
    };
    let sep = memmem::find(args, b" : \"").ok_or_else(|| bad("no ` : \"` before the name"))?;
    let virus = args[..sep].to_vec();
    let (name, rest) = unquote_chain(&args[sep + 3..])?;
    let message = if let Some(m) = rest.strip_prefix(b" : ") {
        m.to_vec()
    } else if rest == b" :" || rest.is_empty() || trim_ws(rest) == b":" {
        Vec::new()
    } else {
        return Err(bad("no ` : ` before the message"));
    };
    Ok(Body::Infected {
        virus,
        name,
        message,
    })
}

/// SVSP-CLIENT-9.
fn parse_done(args: &[u8]) -> Result<Body, SvspError> {
    let bad = |reason| SvspError::MalformedResponse {
        keyword: "DONE",
        reason,
    };
    let quote = args
        .iter()
        .position(|b| *b == b'"')
        .ok_or_else(|| bad("no quoted target"))?;
    let head = trim_ws(&args[..quote]);
    let head = head
        .strip_suffix(b":")
        .ok_or_else(|| bad("no `:` before the target"))?;
    let count_txt = trim_ws(head);
    let count = if count_txt.is_empty() {
        None
    } else {
        // A count that is not a number is treated as unknown (the sample client does the same).
        std::str::from_utf8(count_txt)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
    };
    let (target, rest) = unquote(&args[quote..])?;
    let rest = trim_ws(rest);
    let sha1 = if rest.is_empty() {
        None
    } else {
        let h = rest
            .strip_prefix(b":")
            .map(trim_ws)
            .ok_or_else(|| bad("junk after the target"))?;
        if h.len() != 40 || !h.iter().all(u8::is_ascii_hexdigit) {
            return Err(bad("third field is not 40 hex digits"));
        }
        Some(String::from_utf8_lossy(h).into_owned())
    };
    Ok(Body::Done {
        count,
        target,
        sha1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::{ErrorReply, FormatOptions};
    use crate::Eol;

    fn pr(l: &[u8]) -> Response {
        parse_response(l).unwrap().unwrap()
    }

    /// SVSP-CLIENT-12.
    #[test]
    fn svsp_client_12_eol_case_blank_unknown() {
        assert_eq!(pr(b"READY\r\n").body, Body::Ready);
        assert_eq!(pr(b"ready\n").body, Body::Ready);
        assert_eq!(parse_response(b"\r\n").unwrap(), None);
        assert_eq!(parse_response(b"  ").unwrap(), None);
        let r = pr(b"5 NOTICE test\r\n");
        assert_eq!(r.id.unwrap().as_str(), "5");
        assert_eq!(r.body, Body::Unknown(b"NOTICE test".to_vec()));
        assert_eq!(r.body.keyword(), "NOTICE");
        assert!(!r.body.is_terminal());
    }

    /// SVSP-CLIENT-9.
    #[test]
    fn svsp_client_9_done_variants() {
        assert_eq!(
            pr(b"DONE : \"/tmp/foo\"").body,
            Body::Done {
                count: None,
                target: b"/tmp/foo".to_vec(),
                sha1: None
            }
        );
        assert_eq!(
            pr(b"1 DONE 1 : \"/x\"").body,
            Body::Done {
                count: Some(1),
                target: b"/x".to_vec(),
                sha1: None
            }
        );
        let h = "3395856CE81F2B7382DEE72602F798B642F14140";
        match pr(format!("7 done 1 : \"/e\" : {h}").as_bytes()).body {
            Body::Done { sha1: Some(s), .. } => assert!(s.eq_ignore_ascii_case(h)),
            b => panic!("{b:?}"),
        }
        assert!(parse_response(b"DONE 1 \"/x\"").is_err());
        assert!(parse_response(b"DONE 1 : /x").is_err());
    }

    /// SVSP-CLIENT-11.
    #[test]
    fn svsp_client_11_infected_with_spaces_and_colons() {
        let r = pr(
            b"1 INFECTED CVDL Test/Multi Word Name.B : \"/a : b\" -> \"/c\" : end at 5: more\r\n",
        );
        assert_eq!(
            r.body,
            Body::Infected {
                virus: b"CVDL Test/Multi Word Name.B".to_vec(),
                name: vec![b"/a : b".to_vec(), b"/c".to_vec()],
                message: b"end at 5: more".to_vec()
            }
        );
        let r = pr(b"INFECTED V : \"\" -> \"/other/file\" : ");
        assert!(matches!(r.body, Body::Infected { ref message, .. } if message.is_empty()));
    }

    /// SVSP-CLIENT-15.
    #[test]
    fn svsp_client_15_send_port_checked() {
        assert_eq!(pr(b"3 SEND 40123").body, Body::Send(Some(40123)));
        assert_eq!(pr(b"3 SEND").body, Body::Send(None));
        assert!(parse_response(b"SEND 0").is_err());
        assert!(parse_response(b"SEND 70000").is_err());
        assert!(parse_response(b"SEND x").is_err());
    }

    /// SVSP-CLIENT-10.
    #[test]
    fn svsp_client_10_errors_classified_by_errno_only() {
        let r = pr(b"ENOENT \"nonexistent\"");
        assert_eq!(
            r.body,
            Body::Error {
                errno: Errno::Enoent,
                text: b"\"nonexistent\"".to_vec()
            }
        );
        assert!(r.body.is_terminal());
        assert!(matches!(
            pr(b"eagain Server busy").body,
            Body::Error {
                errno: Errno::Eagain,
                ..
            }
        ));
    }

    #[test]
    fn formatter_output_parses_back() {
        let lines = vec![
            Response::new(Body::Ready),
            Response::with_id(
                Id::parse("1").ok(),
                Body::Scanning(vec![b"/t/a\".zip".to_vec(), b"/x\ny".to_vec()]),
            ),
            Response::with_id(
                Id::parse("1").ok(),
                ErrorReply::NotFound(b"/a SCAN/FILE /b".to_vec()).body(),
            ),
        ];
        for r in lines {
            for eol in [Eol::Crlf, Eol::Lf] {
                assert_eq!(
                    pr(&r.encode(FormatOptions {
                        eol,
                        lowercase_keywords: false
                    })),
                    r
                );
            }
        }
    }
}
