//! The optional admin bearer token (hardening item 7): where it comes from and how it is
//! compared.

use std::path::Path;

use crate::FaultsError;

/// The environment variable both daemons read the admin token from.
pub const TOKEN_ENV: &str = "AVC_ADMIN_TOKEN";

/// Token files hold one line; anything bigger is a mistake.
const MAX_TOKEN_FILE: u64 = 4096;

/// A secret checked as `Authorization: Bearer TOKEN`. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken(String);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

impl AdminToken {
    /// A token of 1 to 1024 visible ASCII characters (what fits in a header as is).
    pub fn new(token: &str) -> Result<Self, FaultsError> {
        let bad = |m: &str| Err(FaultsError::AdminConfig(format!("admin token {m}")));
        if token.is_empty() {
            return bad("is empty");
        }
        if token.len() > 1024 {
            return bad("is longer than 1024 characters");
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return bad("must be visible ASCII without spaces");
        }
        Ok(AdminToken(token.to_string()))
    }

    /// Reads the token from a file (one line; surrounding whitespace dropped).
    pub fn from_file(path: &Path) -> Result<Self, FaultsError> {
        let text = crate::file::read_bounded(path, MAX_TOKEN_FILE, "admin token file")?;
        Self::new(text.trim()).map_err(|e| {
            FaultsError::AdminConfig(format!("admin token file {}: {e}", path.display()))
        })
    }

    /// The token from the daemons' options: `--admin-token`, else `--admin-token-file`,
    /// else the environment variable [`TOKEN_ENV`] (empty = unset). Both flags at once is
    /// an error.
    pub fn from_options(
        flag: Option<&str>,
        file: Option<&Path>,
    ) -> Result<Option<Self>, FaultsError> {
        match (flag, file) {
            (Some(_), Some(_)) => Err(FaultsError::AdminConfig(
                "give --admin-token or --admin-token-file, not both".into(),
            )),
            (Some(t), None) => Self::new(t).map(Some),
            (None, Some(p)) => Self::from_file(p).map(Some),
            (None, None) => match std::env::var_os(TOKEN_ENV) {
                None => Ok(None),
                Some(v) if v.is_empty() => Ok(None),
                Some(v) => match v.to_str() {
                    Some(t) => Self::new(t).map(Some),
                    None => Err(FaultsError::AdminConfig(format!(
                        "{TOKEN_ENV} is not valid UTF-8"
                    ))),
                },
            },
        }
    }

    /// Whether an `Authorization` header value is `Bearer <this token>`. The comparison
    /// takes the same time wherever the first difference is.
    pub fn matches_header(&self, value: Option<&str>) -> bool {
        let Some(v) = value else { return false };
        let v = v.trim();
        let presented = match v.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ => return false,
        };
        constant_time_eq(self.0.as_bytes(), presented.as_bytes())
    }
}

/// Equality whose running time depends only on the length of `expected`.
fn constant_time_eq(expected: &[u8], presented: &[u8]) -> bool {
    let mut diff = u8::from(expected.len() != presented.len());
    for (i, e) in expected.iter().enumerate() {
        diff |= e ^ presented.get(i).copied().unwrap_or(0);
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hardening item 7: only `Bearer <exact token>` passes.
    #[test]
    fn bearer_header_must_match_exactly() {
        let t = AdminToken::new("s3cret").unwrap();
        assert!(t.matches_header(Some("Bearer s3cret")));
        assert!(t.matches_header(Some("bearer  s3cret ")));
        for bad in [
            "Bearer s3cre",
            "Bearer s3cret2",
            "Basic s3cret",
            "s3cret",
            "",
        ] {
            assert!(!t.matches_header(Some(bad)), "{bad}");
        }
        assert!(!t.matches_header(None));
    }

    /// Hardening item 7: a token never shows in debug output (configs are logged).
    #[test]
    fn token_debug_is_redacted_and_bad_tokens_are_refused() {
        let t = AdminToken::new("s3cret").unwrap();
        assert!(!format!("{t:?}").contains("s3cret"));
        assert!(AdminToken::new("").is_err());
        assert!(AdminToken::new("two words").is_err());
        assert!(AdminToken::from_options(Some("a"), Some(Path::new("/x"))).is_err());
    }
}
