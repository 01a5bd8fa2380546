//! `{placeholder}` expansion for profile command lines, environment values and files.
//!
//! Placeholders: `{host}` `{port}` `{addr}` (host:port, IPv6 hosts in brackets) `{socket}`
//! (unix socket path) `{file}` (the input file) `{dir}` (the case's scratch directory)
//! `{program}` (path given for profiles with `program_from`) `{test_clients}` (the repo's
//! `conformance/test-clients` directory). `{{` and `}}` are literal braces.

use std::collections::BTreeMap;

use crate::error::{HarnessError, Result};

/// The names a template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "host",
    "port",
    "addr",
    "socket",
    "file",
    "dir",
    "program",
    "test_clients",
];

/// Values for one run of a client.
#[derive(Debug, Clone, Default)]
pub struct Vars(pub BTreeMap<&'static str, String>);

impl Vars {
    pub fn set(&mut self, key: &'static str, value: impl Into<String>) -> &mut Self {
        self.0.insert(key, value.into());
        self
    }
}

/// Checks a template's syntax and names without values (used when a profile is loaded).
pub fn validate(template: &str) -> Result<()> {
    walk(template, &mut |name| {
        if PLACEHOLDERS.contains(&name) {
            Ok(String::new())
        } else {
            Err(HarnessError::Template(format!(
                "unknown placeholder {{{name}}} in {template:?} (known: {})",
                PLACEHOLDERS.join(", ")
            )))
        }
    })
    .map(|_| ())
}

/// Expands a template. A placeholder without a value is an error (a unix-socket profile
/// run over TCP has no `{socket}`).
pub fn expand(template: &str, vars: &Vars) -> Result<String> {
    walk(template, &mut |name| match vars.0.get(name) {
        Some(v) => Ok(v.clone()),
        None => Err(HarnessError::Template(format!(
            "placeholder {{{name}}} has no value in this run (template {template:?})"
        ))),
    })
}

fn walk(template: &str, lookup: &mut dyn FnMut(&str) -> Result<String>) -> Result<String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(pos) = rest.find(['{', '}']) {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(t) = tail.strip_prefix("{{") {
            out.push('{');
            rest = t;
        } else if let Some(t) = tail.strip_prefix("}}") {
            out.push('}');
            rest = t;
        } else if tail.starts_with('}') {
            return Err(HarnessError::Template(format!(
                "unmatched `}}` in {template:?} (write `}}}}` for a literal brace)"
            )));
        } else {
            let Some(end) = tail.find('}') else {
                return Err(HarnessError::Template(format!(
                    "unclosed `{{` in {template:?}"
                )));
            };
            out.push_str(&lookup(&tail[1..end])?);
            rest = &tail[end + 1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_known_placeholders_and_escapes() {
        let mut v = Vars::default();
        v.set("host", "127.0.0.1").set("port", "3310");
        assert_eq!(
            expand("{host}:{port} {{x}}", &v).unwrap(),
            "127.0.0.1:3310 {x}"
        );
    }

    #[test]
    fn rejects_unknown_and_missing() {
        assert!(validate("{nope}").is_err());
        assert!(validate("{file").is_err());
        assert!(validate("{file}").is_ok());
        assert!(expand("{socket}", &Vars::default()).is_err());
    }
}
