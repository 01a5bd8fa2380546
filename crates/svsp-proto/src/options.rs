//! Per-connection option state (SVSP-OPT-0 and the SVSP-OPT-* rules).

use std::fmt;

/// The six option names (SVSP-OPT-0). Matched case-insensitively; written upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptionName {
    /// `IGNORE` (SVSP-OPT-IGNORE-1).
    Ignore,
    /// `EXCLUDE` (SVSP-OPT-EXCLUDE-1).
    Exclude,
    /// `EXPAND` (SVSP-OPT-EXPAND-1, -2).
    Expand,
    /// `RECURSE` (SVSP-OPT-RECURSE-1).
    Recurse,
    /// `ORIGINAL` (SVSP-OPT-ORIGINAL-1).
    Original,
    /// `HTML` (SVSP-OPT-HTML-1).
    Html,
}

impl OptionName {
    /// All options.
    pub const ALL: [OptionName; 6] = [
        OptionName::Ignore,
        OptionName::Exclude,
        OptionName::Expand,
        OptionName::Recurse,
        OptionName::Original,
        OptionName::Html,
    ];

    /// Canonical upper-case name (CL-3).
    pub fn as_str(self) -> &'static str {
        match self {
            OptionName::Ignore => "IGNORE",
            OptionName::Exclude => "EXCLUDE",
            OptionName::Expand => "EXPAND",
            OptionName::Recurse => "RECURSE",
            OptionName::Original => "ORIGINAL",
            OptionName::Html => "HTML",
        }
    }

    /// Case-insensitive lookup (SVSP-FRAME-8).
    pub fn parse(word: &[u8]) -> Option<OptionName> {
        OptionName::ALL
            .into_iter()
            .find(|o| o.as_str().as_bytes().eq_ignore_ascii_case(word))
    }
}

impl fmt::Display for OptionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The ten UAD expanders of SVSP-OPT-EXPAND-1, in the seed's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expander {
    /// tar (on by default; the fake implements it).
    Tar,
    /// Z (on; recognised, inert in the fake).
    Z,
    /// gz (on; implemented).
    Gz,
    /// text (on; inert).
    Text,
    /// HTML (**off** by default; inert).
    Html,
    /// zip (on; implemented, stored and deflate).
    Zip,
    /// TNEF (on; inert).
    Tnef,
    /// Hqx8 (on; inert).
    Hqx8,
    /// RAR (on; inert).
    Rar,
    /// CAB (on; inert).
    Cab,
}

impl Expander {
    /// All ten, in the seed's order.
    pub const ALL: [Expander; 10] = [
        Expander::Tar,
        Expander::Z,
        Expander::Gz,
        Expander::Text,
        Expander::Html,
        Expander::Zip,
        Expander::Tnef,
        Expander::Hqx8,
        Expander::Rar,
        Expander::Cab,
    ];

    /// The name as the seed spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Expander::Tar => "tar",
            Expander::Z => "Z",
            Expander::Gz => "gz",
            Expander::Text => "text",
            Expander::Html => "HTML",
            Expander::Zip => "zip",
            Expander::Tnef => "TNEF",
            Expander::Hqx8 => "Hqx8",
            Expander::Rar => "RAR",
            Expander::Cab => "CAB",
        }
    }

    /// Case-insensitive lookup (SVSP-OPT-EXPAND-1).
    pub fn parse(word: &[u8]) -> Option<Expander> {
        Expander::ALL
            .into_iter()
            .find(|e| e.as_str().as_bytes().eq_ignore_ascii_case(word))
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of expanders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExpanderSet(u16);

impl ExpanderSet {
    /// No expander.
    pub const EMPTY: ExpanderSet = ExpanderSet(0);

    /// All ten (`*`, SVSP-OPT-EXPAND-2).
    pub fn all() -> ExpanderSet {
        ExpanderSet(Expander::ALL.iter().fold(0, |a, e| a | e.bit()))
    }

    /// The default set: all but HTML (SVSP-OPT-EXPAND-1).
    pub fn default_set() -> ExpanderSet {
        ExpanderSet(ExpanderSet::all().0 & !Expander::Html.bit())
    }

    /// One expander.
    pub fn only(e: Expander) -> ExpanderSet {
        ExpanderSet(e.bit())
    }

    /// Membership.
    pub fn contains(self, e: Expander) -> bool {
        self.0 & e.bit() != 0
    }

    /// Union.
    pub fn union(self, other: ExpanderSet) -> ExpanderSet {
        ExpanderSet(self.0 | other.0)
    }

    /// Difference.
    pub fn minus(self, other: ExpanderSet) -> ExpanderSet {
        ExpanderSet(self.0 & !other.0)
    }

    /// True when no expander is in the set (expansion off).
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl Default for ExpanderSet {
    fn default() -> Self {
        ExpanderSet::default_set()
    }
}

/// A validated ENABLE/DISABLE effect (SVSP-OPT-0 table, one variant per cell).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionOp {
    /// `ENABLE IGNORE v`.
    IgnoreAdd(Vec<u8>),
    /// `DISABLE IGNORE v`.
    IgnoreRemove(Vec<u8>),
    /// `DISABLE IGNORE`.
    IgnoreClear,
    /// `ENABLE EXCLUDE v`.
    ExcludeAdd(Vec<u8>),
    /// `DISABLE EXCLUDE v`.
    ExcludeRemove(Vec<u8>),
    /// `DISABLE EXCLUDE`.
    ExcludeClear,
    /// `ENABLE EXPAND`: on, reset to the default set.
    ExpandDefault,
    /// `ENABLE EXPAND v` (the set holds one expander, or all ten for `*`).
    ExpandAdd(ExpanderSet),
    /// `DISABLE EXPAND v`.
    ExpandRemove(ExpanderSet),
    /// `DISABLE EXPAND`: off, set emptied.
    ExpandOff,
    /// `ENABLE RECURSE [n]` (0 = unlimited).
    RecurseOn(u32),
    /// `DISABLE RECURSE`.
    RecurseOff,
    /// `ENABLE ORIGINAL` / `DISABLE ORIGINAL`.
    Original(bool),
    /// `ENABLE HTML [n]` (1..=3) / `DISABLE HTML` (0).
    Html(u8),
}

impl OptionOp {
    /// The option this operation changes.
    pub fn option(&self) -> OptionName {
        match self {
            OptionOp::IgnoreAdd(_) | OptionOp::IgnoreRemove(_) | OptionOp::IgnoreClear => {
                OptionName::Ignore
            }
            OptionOp::ExcludeAdd(_) | OptionOp::ExcludeRemove(_) | OptionOp::ExcludeClear => {
                OptionName::Exclude
            }
            OptionOp::ExpandDefault
            | OptionOp::ExpandAdd(_)
            | OptionOp::ExpandRemove(_)
            | OptionOp::ExpandOff => OptionName::Expand,
            OptionOp::RecurseOn(_) | OptionOp::RecurseOff => OptionName::Recurse,
            OptionOp::Original(_) => OptionName::Original,
            OptionOp::Html(_) => OptionName::Html,
        }
    }
}

/// A connection's option state (SVSP-OPT-0; initial state = `Default`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OptionState {
    /// Ignored virus names (SVSP-OPT-IGNORE-1), no duplicates, insertion order.
    pub ignore: Vec<Vec<u8>>,
    /// Excluded names (SVSP-OPT-EXCLUDE-1).
    pub exclude: Vec<Vec<u8>>,
    /// Active expanders; expansion is off while empty (SVSP-OPT-EXPAND-2).
    pub expanders: ExpanderSet,
    /// `None` = RECURSE off (effective limit 1); `Some(0)` = unlimited (SVSP-OPT-RECURSE-1).
    pub recurse: Option<u32>,
    /// ORIGINAL flag (SVSP-OPT-ORIGINAL-1).
    pub original: bool,
    /// HTML conversion level 0..=3 (SVSP-OPT-HTML-1; recorded only).
    pub html: u8,
}

impl OptionState {
    /// Applies a validated operation (SVSP-CMD-ENABLE-1, SVSP-CMD-DISABLE-1).
    pub fn apply(&mut self, op: &OptionOp) {
        fn add(list: &mut Vec<Vec<u8>>, v: &[u8]) {
            if !list.iter().any(|x| x == v) {
                list.push(v.to_vec());
            }
        }
        match op {
            OptionOp::IgnoreAdd(v) => add(&mut self.ignore, v),
            OptionOp::IgnoreRemove(v) => self.ignore.retain(|x| x != v),
            OptionOp::IgnoreClear => self.ignore.clear(),
            OptionOp::ExcludeAdd(v) => add(&mut self.exclude, v),
            OptionOp::ExcludeRemove(v) => self.exclude.retain(|x| x != v),
            OptionOp::ExcludeClear => self.exclude.clear(),
            OptionOp::ExpandDefault => self.expanders = ExpanderSet::default_set(),
            OptionOp::ExpandAdd(s) => self.expanders = self.expanders.union(*s),
            OptionOp::ExpandRemove(s) => self.expanders = self.expanders.minus(*s),
            OptionOp::ExpandOff => self.expanders = ExpanderSet::EMPTY,
            OptionOp::RecurseOn(n) => self.recurse = Some(*n),
            OptionOp::RecurseOff => self.recurse = None,
            OptionOp::Original(on) => self.original = *on,
            OptionOp::Html(level) => self.html = *level,
        }
    }

    /// The effective depth limit L of SVSP-SCAN-TREE-1: `Some(1)` when RECURSE is off,
    /// `Some(n)` for `RECURSE n`, `None` (unlimited) for `RECURSE 0`.
    pub fn depth_limit(&self) -> Option<u32> {
        match self.recurse {
            None => Some(1),
            Some(0) => None,
            Some(n) => Some(n),
        }
    }

    /// Whether the given expander is active.
    pub fn expands(&self, e: Expander) -> bool {
        self.expanders.contains(e)
    }

    /// Whether a detection with this full virus name is ignored (SVSP-OPT-IGNORE-1).
    pub fn is_ignored(&self, virus: &[u8]) -> bool {
        self.ignore.iter().any(|v| v == virus)
    }

    /// Whether a node with this unquoted display name is excluded (SVSP-OPT-EXCLUDE-1).
    pub fn is_excluded(&self, name: &[u8]) -> bool {
        self.exclude.iter().any(|v| v == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SVSP-OPT-0.
    #[test]
    fn svsp_opt_0_initial_state() {
        let s = OptionState::default();
        assert!(s.ignore.is_empty() && s.exclude.is_empty());
        assert_eq!(s.expanders, ExpanderSet::default_set());
        assert_eq!(s.depth_limit(), Some(1));
        assert!(!s.original);
        assert_eq!(s.html, 0);
    }

    /// SVSP-OPT-EXPAND-1.
    #[test]
    fn svsp_opt_expand_1_default_set_has_all_but_html() {
        let d = ExpanderSet::default_set();
        for e in Expander::ALL {
            assert_eq!(d.contains(e), e != Expander::Html, "{e:?}");
        }
        assert_eq!(Expander::parse(b"hqx8"), Some(Expander::Hqx8));
        assert_eq!(Expander::parse(b"z"), Some(Expander::Z));
        assert_eq!(Expander::parse(b"bz2"), None);
    }

    /// SVSP-OPT-EXPAND-2.
    #[test]
    fn svsp_opt_expand_2_add_remove_star() {
        let mut s = OptionState::default();
        s.apply(&OptionOp::ExpandOff);
        assert!(s.expanders.is_empty());
        s.apply(&OptionOp::ExpandAdd(ExpanderSet::only(Expander::Zip)));
        assert!(s.expands(Expander::Zip) && !s.expands(Expander::Tar));
        s.apply(&OptionOp::ExpandAdd(ExpanderSet::all()));
        assert!(s.expands(Expander::Html));
        s.apply(&OptionOp::ExpandRemove(ExpanderSet::all()));
        assert!(s.expanders.is_empty());
        s.apply(&OptionOp::ExpandDefault);
        assert_eq!(s.expanders, ExpanderSet::default_set());
    }

    /// SVSP-OPT-RECURSE-1.
    #[test]
    fn svsp_opt_recurse_1_limits() {
        let mut s = OptionState::default();
        s.apply(&OptionOp::RecurseOn(0));
        assert_eq!(s.depth_limit(), None);
        s.apply(&OptionOp::RecurseOn(3));
        assert_eq!(s.depth_limit(), Some(3));
        s.apply(&OptionOp::RecurseOff);
        assert_eq!(s.depth_limit(), Some(1));
    }

    /// SVSP-OPT-IGNORE-1.
    #[test]
    fn svsp_opt_ignore_1_and_exclude_1_lists() {
        let mut s = OptionState::default();
        s.apply(&OptionOp::IgnoreAdd(b"CVDL W32/Nimda.E".to_vec()));
        s.apply(&OptionOp::IgnoreAdd(b"CVDL W32/Nimda.E".to_vec()));
        assert_eq!(s.ignore.len(), 1);
        assert!(s.is_ignored(b"CVDL W32/Nimda.E") && !s.is_ignored(b"CVDL W32/Nimda"));
        s.apply(&OptionOp::IgnoreRemove(b"nope".to_vec()));
        assert_eq!(s.ignore.len(), 1);
        s.apply(&OptionOp::IgnoreClear);
        assert!(s.ignore.is_empty());
        s.apply(&OptionOp::ExcludeAdd(b"/other/file".to_vec()));
        assert!(s.is_excluded(b"/other/file"));
        s.apply(&OptionOp::ExcludeRemove(b"/other/file".to_vec()));
        assert!(!s.is_excluded(b"/other/file"));
    }

    /// SVSP-OPT-ORIGINAL-1.
    #[test]
    fn svsp_opt_original_1_and_html_1_state() {
        let mut s = OptionState::default();
        s.apply(&OptionOp::Original(true));
        s.apply(&OptionOp::Html(2));
        assert!(s.original);
        assert_eq!(s.html, 2);
    }
}
