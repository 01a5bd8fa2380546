//! Which module of a crate refers to which other module of the same crate, read from the
//! syntax tree (`use` trees, paths in code, and `crate::`/`super::` paths inside macro
//! calls), so that the tidy test can refuse two files that import each other.
//!
//! Test code (`#[cfg(test)]` items and modules) is left out: a test module may reach back
//! into its parent without making the library's modules depend on each other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use syn::visit::{self, Visit};

/// A module path inside one crate: `["checks", "clamd"]`; the crate root is empty.
pub type ModPath = Vec<String>;

/// The module a file under `src/` defines (`None` for crate roots: `lib.rs`, `main.rs`,
/// `bin/*`, which declare modules rather than depend on them).
pub fn module_of(rel_to_src: &Path) -> Option<ModPath> {
    let mut parts: Vec<String> = rel_to_src
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop()?;
    let stem = last.strip_suffix(".rs")?;
    if parts.first().is_some_and(|p| p == "bin") || (parts.is_empty() && stem == "main") {
        return None;
    }
    if stem != "mod" && !(parts.is_empty() && stem == "lib") {
        parts.push(stem.to_string());
    }
    (!parts.is_empty()).then_some(parts)
}

fn is_test_cfg(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| match &a.meta {
        syn::Meta::List(l) if l.path.is_ident("cfg") => l
            .tokens
            .to_string()
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .any(|w| w == "test"),
        _ => false,
    })
}

/// Absolute paths (inside the crate) a module's non-test code names.
struct Refs {
    here: ModPath,
    out: BTreeSet<ModPath>,
}

impl Refs {
    /// `crate::a::b`, `super::a`, `self::a` made absolute; other paths are not ours.
    fn add(&mut self, segs: &[String]) {
        let Some(first) = segs.first() else { return };
        let mut abs = match first.as_str() {
            "crate" => Vec::new(),
            "self" | "super" => self.here.clone(),
            _ => return,
        };
        let mut rest = &segs[1..];
        if first == "super" {
            abs.pop();
            while rest.first().is_some_and(|s| s == "super") {
                abs.pop();
                rest = &rest[1..];
            }
        }
        abs.extend(rest.iter().cloned());
        self.out.insert(abs);
    }

    fn add_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.add_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => self.add_leaf(prefix, &n.ident),
            syn::UseTree::Rename(r) => self.add_leaf(prefix, &r.ident),
            syn::UseTree::Glob(_) => self.add(prefix),
            syn::UseTree::Group(g) => g.items.iter().for_each(|t| self.add_tree(prefix, t)),
        }
    }

    fn add_leaf(&mut self, prefix: &mut Vec<String>, ident: &syn::Ident) {
        prefix.push(ident.to_string());
        self.add(prefix);
        prefix.pop();
    }
}

impl<'ast> Visit<'ast> for Refs {
    fn visit_item(&mut self, i: &'ast syn::Item) {
        let attrs = match i {
            syn::Item::Fn(x) => &x.attrs,
            syn::Item::Impl(x) => &x.attrs,
            syn::Item::Mod(x) => &x.attrs,
            syn::Item::Use(x) => &x.attrs,
            syn::Item::Struct(x) => &x.attrs,
            syn::Item::Enum(x) => &x.attrs,
            syn::Item::Const(x) => &x.attrs,
            syn::Item::Static(x) => &x.attrs,
            syn::Item::Trait(x) => &x.attrs,
            syn::Item::Macro(x) => &x.attrs,
            _ => return visit::visit_item(self, i),
        };
        if !is_test_cfg(attrs) {
            visit::visit_item(self, i);
        }
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        self.here.push(m.ident.to_string());
        visit::visit_item_mod(self, m);
        self.here.pop();
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        self.add_tree(&mut Vec::new(), &u.tree);
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segs: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        self.add(&segs);
        visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        // `tracing::info!(.., crate::x::y(..))`: the body is tokens, so read paths as words
        let text = m.tokens.to_string();
        let words: Vec<&str> = text.split_whitespace().collect();
        let mut i = 0;
        while i < words.len() {
            if matches!(words[i], "crate" | "super" | "self") {
                let mut segs = vec![words[i].to_string()];
                while words.get(i + 1) == Some(&"::")
                    && words
                        .get(i + 2)
                        .is_some_and(|w| w.chars().all(|c| c.is_alphanumeric() || c == '_'))
                {
                    segs.push(words[i + 2].to_string());
                    i += 2;
                }
                self.add(&segs);
            }
            i += 1;
        }
        visit::visit_macro(self, m);
    }
}

/// The other modules of `modules` that the module `here` (source `text`) refers to: each
/// path resolved to the longest module prefix it has (the crate root does not count).
pub fn deps_of(
    here: &ModPath,
    text: &str,
    modules: &BTreeSet<ModPath>,
) -> Result<BTreeSet<ModPath>, syn::Error> {
    let file = syn::parse_file(text)?;
    let mut refs = Refs {
        here: here.clone(),
        out: BTreeSet::new(),
    };
    refs.visit_file(&file);
    let mut deps = BTreeSet::new();
    for path in refs.out {
        let target = (1..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|p| modules.contains(p));
        if let Some(t) = target.filter(|t| t != here) {
            deps.insert(t);
        }
    }
    Ok(deps)
}

/// Pairs of modules of one crate (module path -> source) that refer to each other, as
/// `a <-> b` lines; a file that does not parse is reported as such.
pub fn mutual_pairs(sources: &BTreeMap<ModPath, String>) -> Vec<String> {
    let modules: BTreeSet<ModPath> = sources.keys().cloned().collect();
    let mut deps = BTreeMap::new();
    let mut out = Vec::new();
    for (m, text) in sources {
        match deps_of(m, text, &modules) {
            Ok(d) => {
                deps.insert(m.clone(), d);
            }
            Err(e) => out.push(format!("{}: does not parse: {e}", m.join("::"))),
        }
    }
    for (a, da) in &deps {
        for b in da.iter().filter(|b| *b > a) {
            if deps.get(b).is_some_and(|db| db.contains(a)) {
                out.push(format!("{} <-> {}", a.join("::"), b.join("::")));
            }
        }
    }
    out
}
