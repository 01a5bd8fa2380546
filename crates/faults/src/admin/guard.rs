//! Who may talk to the admin API (hardening item 7): cross-site browser requests and DNS
//! rebinding are refused before a request is acted on.

use std::net::SocketAddr;

use super::request::{Head, Refusal};
use super::token::AdminToken;
use crate::FaultsError;

/// Checks a request head: with a token, `Authorization: Bearer TOKEN` (401); without one,
/// a `Host` naming loopback (403, DNS rebinding); for writes, `Content-Type:
/// application/json` (415: a browser cannot send that cross-site without a CORS preflight,
/// which is never answered positively).
pub(crate) fn check(head: &Head, token: Option<&AdminToken>) -> Result<(), Refusal> {
    match token {
        Some(t) => {
            if !t.matches_header(head.header("authorization")?) {
                return Err((401, "missing or wrong bearer token"));
            }
        }
        None => {
            if !head.header("host")?.is_some_and(loopback_host) {
                return Err((403, "Host must name a loopback address"));
            }
        }
    }
    if matches!(head.method.as_str(), "PUT" | "POST" | "DELETE")
        && !head.header("content-type")?.is_some_and(is_json)
    {
        return Err((415, "writes need Content-Type: application/json"));
    }
    Ok(())
}

/// `127.0.0.1`, `localhost`, `[::1]`, each with an optional port.
pub(crate) fn loopback_host(host: &str) -> bool {
    let host = host.trim();
    let (name, port) = if host.starts_with('[') {
        let Some(end) = host.find(']') else {
            return false;
        };
        match &host[end + 1..] {
            "" => (&host[..=end], None),
            tail => match tail.strip_prefix(':') {
                Some(p) => (&host[..=end], Some(p)),
                None => return false,
            },
        }
    } else {
        match host.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (host, None),
        }
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    port_ok && (name == "127.0.0.1" || name.eq_ignore_ascii_case("localhost") || name == "[::1]")
}

/// `application/json`, with or without parameters (`; charset=utf-8`).
fn is_json(v: &str) -> bool {
    v.split(';')
        .next()
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// A non-loopback admin address needs a token; with one, say loudly that the API is
/// reachable from the network.
pub(crate) fn check_exposure(
    addr: SocketAddr,
    token: Option<&AdminToken>,
) -> Result<(), FaultsError> {
    if addr.ip().is_loopback() {
        return Ok(());
    }
    if token.is_none() {
        return Err(FaultsError::AdminConfig(format!(
            "admin address {addr} is not loopback: set a token (--admin-token, --admin-token-file or {}) or bind 127.0.0.1",
            super::token::TOKEN_ENV
        )));
    }
    tracing::warn!(
        "fault admin API on {addr} is reachable from the network (bearer token required)"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hardening item 7: only loopback names pass the Host check (DNS rebinding).
    #[test]
    fn host_check_accepts_loopback_names_only() {
        for ok in [
            "127.0.0.1",
            "127.0.0.1:8099",
            "localhost",
            "LOCALHOST:1",
            "[::1]",
            "[::1]:80",
        ] {
            assert!(loopback_host(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:80",
            "127.0.0.1.evil.example",
            "localhost.evil",
            "127.0.0.2",
            "::1",
            "[::1]:x",
            "127.0.0.1:",
            "",
            "x",
        ] {
            assert!(!loopback_host(bad), "{bad}");
        }
    }

    /// Hardening item 7: a non-loopback address is allowed only with a token.
    #[test]
    fn non_loopback_address_needs_a_token() {
        let any: SocketAddr = "0.0.0.0:8099".parse().unwrap();
        let lo: SocketAddr = "[::1]:8099".parse().unwrap();
        let t = AdminToken::new("t").unwrap();
        assert!(check_exposure(any, None).is_err());
        assert!(check_exposure(any, Some(&t)).is_ok());
        assert!(check_exposure(lo, None).is_ok());
    }

    /// Hardening item 7: writes need the JSON media type; parameters are fine.
    #[test]
    fn json_media_type_with_parameters() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
        assert!(!is_json("application/json-seq"));
    }
}
