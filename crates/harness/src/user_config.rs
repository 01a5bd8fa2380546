//! The config file of a client's own repository (issue 14): `av-conformance.toml` in the
//! current directory, or `--config FILE`, holds what a CI job would otherwise repeat on
//! every command line (profile files, extra case directories, the snapshot directory, the
//! report files), so CI runs one short command.
//!
//! ```toml
//! profiles = ["conformance/my-client.toml"]
//! cases = ["conformance/cases"]          # added to the built-in cases
//! snapshots = "av-conformance/snapshots"
//! report_junit = "av-conformance/junit.xml"
//! ```
//!
//! Relative paths are taken from the file's directory. The command line wins: a value it
//! gives replaces the file's (`--profile`, `--client` or `--client-cmd` replace `profiles`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{HarnessError, Result};

/// The file looked for in the current directory when no `--config` is given.
pub const CONFIG_FILE: &str = "av-conformance.toml";

/// Snapshot directory, under the current directory, of a run outside this repository.
pub const DEFAULT_SNAPSHOTS: &str = "av-conformance/snapshots";

/// The keys of the config file (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Profile files to run (as `--profile`).
    #[serde(default)]
    pub profiles: Vec<PathBuf>,
    /// Directories of extra client case files (as `--cases`).
    #[serde(default)]
    pub cases: Vec<PathBuf>,
    /// Snapshot directory (as `--snapshots`).
    pub snapshots: Option<PathBuf>,
    pub report_junit: Option<PathBuf>,
    pub report_md: Option<PathBuf>,
    pub report_json: Option<PathBuf>,
    /// As `--filter` and `--skip`.
    #[serde(default)]
    pub filter: Vec<String>,
    #[serde(default)]
    pub skip: Vec<String>,
}

impl Config {
    /// Loads a config file; relative paths in it become relative to its directory. A file
    /// that is missing, too large, not UTF-8, not TOML or has unknown keys is a
    /// configuration error (exit 2) naming it.
    pub fn load(path: &Path) -> Result<Config> {
        let text = crate::profile::read_config_text(path, "config file")?;
        let mut cfg: Config =
            toml::from_str(&text).map_err(|e| HarnessError::config(path, e.to_string()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let at = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        cfg.profiles.iter_mut().for_each(at);
        cfg.cases.iter_mut().for_each(at);
        for p in [
            &mut cfg.snapshots,
            &mut cfg.report_junit,
            &mut cfg.report_md,
            &mut cfg.report_json,
        ]
        .into_iter()
        .flatten()
        {
            at(p);
        }
        Ok(cfg)
    }

    /// `--config FILE`, else [`CONFIG_FILE`] in `cwd` when it exists; `None` without one.
    pub fn find(explicit: Option<&Path>, cwd: &Path) -> Result<Option<Config>> {
        match explicit {
            Some(p) => Self::load(p).map(Some),
            None => {
                let p = cwd.join(CONFIG_FILE);
                if p.exists() {
                    Self::load(&p).map(Some)
                } else {
                    Ok(None)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14: paths in the config file are relative to the file, not to the current
    /// directory; unknown keys are configuration errors (exit 2).
    #[test]
    fn config_paths_are_relative_to_the_file_and_unknown_keys_fail() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(CONFIG_FILE);
        std::fs::write(
            &p,
            "profiles = [\"c/p.toml\", \"/abs/q.toml\"]\nsnapshots = \"snaps\"\nreport_junit = \"j.xml\"\n",
        )
        .unwrap();
        let cfg = Config::find(None, dir.path()).unwrap().unwrap();
        assert_eq!(
            cfg.profiles,
            vec![dir.path().join("c/p.toml"), PathBuf::from("/abs/q.toml")]
        );
        assert_eq!(cfg.snapshots, Some(dir.path().join("snaps")));
        assert_eq!(cfg.report_junit, Some(dir.path().join("j.xml")));
        std::fs::write(&p, "profile = [\"p.toml\"]\n").unwrap();
        let e = Config::find(None, dir.path()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains(CONFIG_FILE), "{e}");
        let none = tempfile::tempdir().unwrap();
        assert!(Config::find(None, none.path()).unwrap().is_none());
    }
}
