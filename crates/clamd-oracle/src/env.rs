//! The run-time environment shared by a recording or replay: a temp directory holding the tiny
//! signature DB, the scan corpus, clamd's temp dir and the socket directory; and the clamd.conf
//! text for a profile.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::case::Profile;
use crate::esc::Vars;
use crate::Error;

/// The EICAR MD5 hash signature (whole file, CLAMD-DET-1/-4). Loaded unsigned, so clamd reports
/// `Win.Test.EICAR_HDB-1.UNOFFICIAL` (CLAMD-DET-2).
pub const EICAR_HDB: &str = "44d88612fea8a8f36de82e1278abb02f:68:Win.Test.EICAR_HDB-1\n";
/// The two oracle markers (CLAMD-DET-5).
pub const MARKER_A: &[u8] = b"CLAMD-ORACLE-MARKER-A";
pub const MARKER_B: &[u8] = b"CLAMD-ORACLE-MARKER-B";

/// The markers `.ndb` text (CLAMD-DET-5): `Oracle.Test.MarkerA-1:0:*:<hex>` and `-B`.
pub fn markers_ndb() -> String {
    format!(
        "Oracle.Test.MarkerA-1:0:*:{}\nOracle.Test.MarkerB-1:0:*:{}\n",
        hex::encode(MARKER_A),
        hex::encode(MARKER_B)
    )
}

/// The EICAR test file, decoded at run time from its XOR-0x5A form (never stored in plain).
pub fn eicar() -> Vec<u8> {
    const XOR_HEX: &str = "026f157b0a7f1a1b0a016e060a00026f6e720a04736d1919736d277e1f13191b0877090e1b141e1b081e771b140e130c13080f09770e1f090e771c13161f7b7e12711270";
    hex::decode(XOR_HEX)
        .unwrap_or_default()
        .into_iter()
        .map(|b| b ^ 0x5a)
        .collect()
}

/// Where the clamd user (if any) comes from.
#[derive(Debug, Clone)]
pub struct RunAs {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// Temp dir with DB, corpus, clamd temp dir and socket dir. Removed on drop.
pub struct OracleEnv {
    root: tempfile::TempDir,
    pub db_dir: PathBuf,
    pub corpus_dir: PathBuf,
    pub tmp_dir: PathBuf,
    pub sock_dir: PathBuf,
    /// When running as root: the unprivileged `clamav` user clamd must drop to, so that
    /// permission cases (chmod 000) behave as on a real install (CLAMD-SCAN-12).
    pub run_as: Option<RunAs>,
}

impl OracleEnv {
    /// Creates the environment (corpus files per `corpus::build`).
    pub fn create() -> Result<OracleEnv, Error> {
        let root = tempfile::Builder::new()
            .prefix("clamd-oracle-")
            .tempdir()
            .map_err(|e| Error::io(Path::new("temp dir"), e))?;
        let base = root.path().to_path_buf();
        set_mode(&base, 0o755)?;
        let run_as = if nix::unistd::geteuid().is_root() {
            nix::unistd::User::from_name("clamav")
                .ok()
                .flatten()
                .map(|u| RunAs {
                    name: u.name,
                    uid: u.uid.as_raw(),
                    gid: u.gid.as_raw(),
                })
        } else {
            None
        };
        let env = OracleEnv {
            db_dir: base.join("db"),
            corpus_dir: base.join("corpus"),
            tmp_dir: base.join("tmp"),
            sock_dir: base.join("sock"),
            root,
            run_as,
        };
        for d in [&env.db_dir, &env.corpus_dir, &env.tmp_dir, &env.sock_dir] {
            fs::create_dir(d).map_err(|e| Error::io(d, e))?;
            set_mode(d, 0o755)?;
        }
        if let Some(u) = &env.run_as {
            for d in [&env.tmp_dir, &env.sock_dir] {
                std::os::unix::fs::chown(d, Some(u.uid), Some(u.gid))
                    .map_err(|e| Error::io(d, e))?;
            }
        }
        write_file(&env.db_dir.join("eicar.hdb"), EICAR_HDB.as_bytes(), 0o644)?;
        write_file(
            &env.db_dir.join("markers.ndb"),
            markers_ndb().as_bytes(),
            0o644,
        )?;
        crate::corpus::build(&env.corpus_dir)?;
        Ok(env)
    }

    /// The root temp dir.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Placeholder values for this environment.
    pub fn vars(&self) -> Vars {
        Vars {
            corpus: self.corpus_dir.as_os_str().as_encoded_bytes().to_vec(),
            eicar: eicar(),
        }
    }

    /// The clamd.conf text for `profile`: base lines, then the profile's lines. A base line whose
    /// directive the profile sets is left out (observed: clamd 1.4.6 keeps the *first* value of a
    /// repeated single-valued option, e.g. `CommandReadTimeout 10` then `... 1` stays 10).
    /// `user`: emit `User <clamav>` when running as root (real clamd drops privileges; an
    /// in-process fake cannot).
    pub fn conf_text(&self, profile: &Profile, tcp_port: u16, unix: &Path, user: bool) -> String {
        let overridden: Vec<&str> = profile
            .conf
            .iter()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        let mut s = String::new();
        let mut line = |l: String| {
            let key = l.split_whitespace().next().unwrap_or("");
            if !l.starts_with('#') && overridden.contains(&key) && !profile.conf.contains(&l) {
                return;
            }
            s.push_str(&l);
            s.push('\n');
        };
        line("# generated by clamd-oracle".into());
        line(format!("TCPSocket {tcp_port}"));
        line("TCPAddr 127.0.0.1".into());
        line(format!("LocalSocket {}", unix.display()));
        line("Foreground yes".into());
        line(format!("DatabaseDirectory {}", self.db_dir.display()));
        line(format!("TemporaryDirectory {}", self.tmp_dir.display()));
        if user {
            if let Some(u) = &self.run_as {
                line(format!("User {}", u.name));
            }
        }
        line("StreamMaxLength 1M".into());
        line("CommandReadTimeout 10".into());
        line("ReadTimeout 10".into());
        for l in &profile.conf {
            line(l.clone());
        }
        s
    }
}

pub(crate) fn set_mode(p: &Path, mode: u32) -> Result<(), Error> {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).map_err(|e| Error::io(p, e))
}

pub(crate) fn write_file(p: &Path, data: &[u8], mode: u32) -> Result<(), Error> {
    let mut f = fs::File::create(p).map_err(|e| Error::io(p, e))?;
    f.write_all(data).map_err(|e| Error::io(p, e))?;
    drop(f);
    set_mode(p, mode)
}

pub(crate) fn make_symlink(target: &str, link: &Path) -> Result<(), Error> {
    symlink(target, link).map_err(|e| Error::io(link, e))
}
