//! clamd 1.4.6's order of all-match names (ALLMATCHSCAN, CLAMD-SCAN-9) over a tree of parts.

use crate::matcher::AllMatches;
use crate::tree::{ContainerKind, PartEvent};

/// Most names one all-match scan lists (hardening: a reply holds the path on every line, so
/// its memory is bounded by this times the longest path; clamd has no bound).
pub const MAX_LINES: usize = 10_000;

/// The names clamd 1.4.6 reports, one per match, for a tree scanned with
/// [`crate::TreeScanner::with_all_matches`], assembled from its parts in clamd's order
/// (CLAMD-SCAN-9). clamd reports each match as it is found (`cli_append_virus` calls the
/// virus-found callback, which writes a line under all-match), so a name comes once per
/// match, per pass and per part: a container's members come before its own raw scan
/// (`cli_magic_scan` runs the archive parsers first), a PDF's objects after it; within a
/// scan every body match in order, then the hash matches; text and binary data then get
/// their second pass ([`AllMatches::names`]).
#[derive(Debug, Default)]
pub struct AllMatchSequence {
    names: Vec<String>,
    /// Containers whose members are being reported, with the names due after them.
    open: Vec<(u32, Vec<String>)>,
}

impl AllMatchSequence {
    /// Take one part, as the tree walk reports it (container before members).
    pub fn part(&mut self, ev: &PartEvent<'_>) {
        self.close_to(ev.depth);
        let Some(all): Option<&AllMatches> = ev.result.all.as_deref() else {
            // a part scanned without all-match: its names once each
            let names = ev.result.detections.iter().map(|d| d.name.clone());
            self.push(names.collect());
            return;
        };
        match ev.opened {
            // a parsed container has clamd's type, not text or binary: one raw scan
            Some(kind) => {
                let own: Vec<String> = all.raw.iter().map(|d| d.name.clone()).collect();
                if kind == ContainerKind::Pdf {
                    self.push(own);
                    self.open.push((ev.depth, Vec::new()));
                } else {
                    self.open.push((ev.depth, own));
                }
            }
            None => self.push(all.names().map(str::to_string).collect()),
        }
    }

    /// The names, after the last part.
    pub fn finish(mut self) -> Vec<String> {
        self.close_to(0);
        self.names
    }

    /// Whether the list is full ([`MAX_LINES`]).
    pub fn is_full(&self) -> bool {
        self.names.len() >= MAX_LINES
    }

    fn close_to(&mut self, depth: u32) {
        while self.open.last().is_some_and(|(d, _)| *d >= depth) {
            if let Some((_, after)) = self.open.pop() {
                self.push(after);
            }
        }
    }

    fn push(&mut self, names: Vec<String>) {
        let room = MAX_LINES.saturating_sub(self.names.len());
        self.names.extend(names.into_iter().take(room));
    }
}
