//! Assertions the unit tests of several modules share.

/// Fails unless `text` holds each of `parts`, quoting `text`.
pub(crate) fn assert_shows(text: &str, parts: &[&str]) {
    for p in parts {
        assert!(text.contains(p), "{p:?} is not in:\n{text}");
    }
}
