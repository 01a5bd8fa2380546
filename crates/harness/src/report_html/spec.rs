//! Short summaries of the rule texts, from the specifications (`../shared/spec/{clamd,svsp,
//! fave}.md` beside the repository) compiled into the harness by `build.rs`: an installed
//! binary shows the same texts wherever it runs. A build without the specs has none, and
//! the HTML report shows the rule IDs alone and says so.

use std::collections::BTreeMap;

/// Characters of rule text shown beside an ID.
const SUMMARY_CHARS: usize = 180;

/// `(file name, text)` of the specifications this binary was built with.
pub static SPEC_FILES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/spec_files.rs"));

/// Rule ID -> one-line summary.
#[derive(Debug, Clone, Default)]
pub struct Rules(BTreeMap<String, String>);

impl Rules {
    /// The rules of the specifications compiled in ([`SPEC_FILES`]).
    pub fn builtin() -> Self {
        let mut rules = Rules::default();
        for (_, text) in SPEC_FILES {
            rules.add_text(text);
        }
        rules
    }

    /// Finds rule definitions: a paragraph starting `**ID** text` or a list item `- ID text`.
    pub fn add_text(&mut self, text: &str) {
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some((id, rest)) = definition(line) else {
                continue;
            };
            if self.0.contains_key(&id) {
                continue;
            }
            let mut para = rest.to_string();
            for next in &lines[i + 1..] {
                let t = next.trim();
                if t.is_empty()
                    || t.starts_with("- ")
                    || t.starts_with('#')
                    || definition(t).is_some()
                {
                    break;
                }
                para.push(' ');
                para.push_str(t);
                if para.len() > SUMMARY_CHARS * 4 {
                    break;
                }
            }
            self.0.insert(id, summarize(&para));
        }
    }

    pub fn get(&self, id: &str) -> Option<&str> {
        self.0.get(id).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `**CLAMD-CLIENT-4** text` or `- FAVE-3 text` -> (ID, text).
fn definition(line: &str) -> Option<(String, &str)> {
    let (id, rest) = if let Some(r) = line.strip_prefix("**") {
        let end = r.find("**")?;
        (&r[..end], &r[end + 2..])
    } else if let Some(r) = line.strip_prefix("- ") {
        let end = r.find(' ').unwrap_or(r.len());
        (&r[..end], &r[end..])
    } else {
        return None;
    };
    let parts: Vec<&str> = id.split('-').collect();
    let ok = parts.len() >= 2
        && parts[0].chars().all(|c| c.is_ascii_uppercase())
        && parts
            .last()
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        && parts[1..parts.len() - 1].iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        });
    ok.then(|| (id.to_string(), rest))
}

/// The first sentence, without the `[C][O]` source tags and emphasis, at most
/// `SUMMARY_CHARS` characters.
fn summarize(para: &str) -> String {
    let mut s = para.trim().to_string();
    while s.starts_with('[') {
        match s.find(']') {
            Some(e) if e <= 4 => s = s[e + 1..].trim_start().to_string(),
            _ => break,
        }
    }
    s = s.replace("**", "");
    // The first ". " outside `code` ends the sentence.
    let mut in_code = false;
    let bytes = s.as_bytes();
    let end = (0..bytes.len()).find(|&i| {
        if bytes[i] == b'`' {
            in_code = !in_code;
        }
        !in_code && bytes[i] == b'.' && bytes.get(i + 1) == Some(&b' ')
    });
    if let Some(end) = end {
        s.truncate(end + 1);
    }
    if s.chars().count() > SUMMARY_CHARS {
        s = s.chars().take(SUMMARY_CHARS).collect::<String>() + "…";
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 16 part 1: both definition styles of the specs give a one-line summary.
    #[test]
    fn rule_definitions_are_summarized() {
        let mut r = Rules::default();
        r.add_text("**CLAMD-INSTREAM-8** [C][S] Reset race. After the limit\nmore.\n\n**CLAMD-CLIENT-5** Verdict = **infected** if any line ends in ` FOUND`, else\n**error** otherwise. More.\n\n**CLAMD-CLIENT-4** On `INSTREAM size limit exceeded. ERROR` the client MUST\nreport an error.\n\n- FAVE-3 The default provider speaks IDSESSION.\n- not a rule\n");
        assert_eq!(r.get("CLAMD-INSTREAM-8"), Some("Reset race."));
        assert_eq!(
            r.get("CLAMD-CLIENT-4"),
            Some("On `INSTREAM size limit exceeded. ERROR` the client MUST report an error.")
        );
        assert_eq!(
            r.get("CLAMD-CLIENT-5"),
            Some("Verdict = infected if any line ends in ` FOUND`, else error otherwise.")
        );
        assert_eq!(
            r.get("FAVE-3"),
            Some("The default provider speaks IDSESSION.")
        );
        assert!(r.get("not").is_none());
    }
}
