//! Request identifiers (SVSP-ID-1, SVSP-ID-2).

use crate::SvspError;
use std::fmt;

/// Maximum number of digits of an identifier the server accepts (SVSP-ID-2).
pub const MAX_ID_DIGITS: usize = 9;

/// A numeric request identifier, kept as the exact digits that were sent so that
/// leading zeros survive the echo (SVSP-ID-2: `007 QUIT` gets `007 OK`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(String);

impl Id {
    /// Parses an identifier as a command may carry it: 1 to 9 ASCII digits (SVSP-ID-2).
    pub fn parse(text: &str) -> Result<Id, SvspError> {
        if text.is_empty()
            || text.len() > MAX_ID_DIGITS
            || !text.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(SvspError::InvalidId(text.to_string()));
        }
        Ok(Id(text.to_string()))
    }

    /// Builds an identifier from a number (no leading zeros).
    pub fn from_number(n: u32) -> Result<Id, SvspError> {
        Id::parse(&n.to_string())
    }

    /// Tolerant constructor for the response parser: any non-empty run of ASCII digits
    /// (a real server might echo something longer than we would send).
    pub(crate) fn from_digits_lenient(digits: &[u8]) -> Option<Id> {
        if digits.is_empty() || digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(Id(String::from_utf8_lossy(digits).into_owned()))
    }

    /// The digits exactly as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The numeric value (saturating for absurdly long lenient ids).
    pub fn value(&self) -> u64 {
        self.0.parse().unwrap_or(u64::MAX)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
