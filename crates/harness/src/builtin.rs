//! The conformance data compiled into the harness (see `build.rs`): every client and server
//! case, every shipped client profile with its wrapper scripts and the test-client scripts,
//! as they are in the repository's `conformance/` directory. Outside this repository the
//! harness writes them into a scratch directory and runs from there, so an installed
//! `avc-conformance` needs no checkout.

use std::path::{Path, PathBuf};

use crate::error::{HarnessError, Result};

/// `(path under conformance/, text)`, sorted by directory then name.
pub static FILES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/builtin_files.rs"));

/// Writes the built-in files as `<dir>/conformance/...` and returns `dir`, to be used as the
/// run's root (a directory with `conformance/`).
pub fn materialize(dir: &Path) -> Result<PathBuf> {
    let base = dir.join("conformance");
    for (rel, text) in FILES {
        let path = base.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| HarnessError::io(format!("creating {}", parent.display()), e))?;
        }
        std::fs::write(&path, text)
            .map_err(|e| HarnessError::io(format!("writing {}", path.display()), e))?;
    }
    Ok(dir.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14 (stand-alone harness): the built-in tree loads as the repository's does:
    /// client cases, server cases of both protocols, and the shipped profiles.
    #[test]
    fn materialized_builtin_data_loads_as_a_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = materialize(dir.path()).unwrap();
        let cases = crate::case::load_dir(&root.join("conformance/cases/client")).unwrap();
        assert!(cases.len() > 40, "{} client cases", cases.len());
        let profiles =
            crate::profile::ClientProfile::load_dir(&root.join("conformance/clients")).unwrap();
        assert!(profiles.iter().any(|p| p.name == "fave"));
        assert!(profiles.iter().any(|p| p.name == "python-clamd"));
        assert!(root
            .join("conformance/test-clients/python_clamd.py")
            .is_file());
        // python_clamd.py and the library wrappers import it
        assert!(root
            .join("conformance/clients/wrappers/library_scan.py")
            .is_file());
        assert!(root.join("conformance/cases/server/clamd.toml").is_file());
        assert!(root.join("conformance/cases/server/svsp.toml").is_file());
    }
}
