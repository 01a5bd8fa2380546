//! The signature database: built-in test signatures and ClamAV `.hdb`/`.hsb`/`.ndb` files.

use std::path::Path;

use crate::eicar::{eicar, EicarMode, EICAR_LEN, EICAR_MD5};
use crate::error::DbError;
use crate::hashdb::{self, HashAlgo};
use crate::matcher::{compile, Sig, SigKind};
use crate::ndb::{self, Offset};

// Defined beside the matchers it holds (so that imports go one way: sigdb -> matcher);
// its constructors are here.
pub use crate::matcher::SignatureDb;

/// Name of the built-in non-EICAR marker signature (CLAMD-DET-9).
pub const MARKER_NAME: &str = "Fake.Test.Marker-1";
/// Bytes the built-in marker signature matches, anywhere in the data.
pub const MARKER_BYTES: &[u8] = b"AV-FAKE-TEST-MARKER-1";
/// ClamAV's official name for the EICAR file (CLAMD-DET-1).
pub const EICAR_OFFICIAL_NAME: &str = "Win.Test.EICAR_HDB-1";

/// clamd reads signature files with `fgets` into an 8192-byte buffer (libclamav `FILEBUFF`):
/// a longer line arrives in pieces of at most 8191 bytes, and each piece is parsed and
/// counted as a line of its own (checked with clamd 1.4.6: a 64 KiB `.ndb` body fails with
/// "Malformed hexstring" at line 1, an 8191-byte line fails at line 2, the empty rest).
pub const CLAMD_LINE_MAX: usize = 8191;

/// Options for the built-in signatures that stand in for ClamAV's official database.
#[derive(Debug, Clone)]
pub struct BuiltinOptions {
    pub eicar_name: String,
    pub eicar_mode: EicarMode,
    /// Include the marker signature [`MARKER_NAME`].
    pub marker: bool,
}

impl Default for BuiltinOptions {
    fn default() -> Self {
        Self {
            eicar_name: EICAR_OFFICIAL_NAME.to_string(),
            eicar_mode: EicarMode::Exact,
            marker: true,
        }
    }
}

/// How signature files are loaded.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Append `.UNOFFICIAL` to names from unsigned files, as clamd does (CLAMD-DET-2).
    pub unofficial_suffix: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            unofficial_suffix: true,
        }
    }
}

/// The kind of a ClamAV signature file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbFileKind {
    Hdb,
    Hsb,
    Ndb,
}

impl DbFileKind {
    /// The kind for a file name's extension, if it is one the engine loads.
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()? {
            "hdb" => Some(Self::Hdb),
            "hsb" => Some(Self::Hsb),
            "ndb" => Some(Self::Ndb),
            _ => None,
        }
    }
}

impl SignatureDb {
    /// A database with no signatures: everything is clean.
    pub fn empty() -> Self {
        DbBuilder::default()
            .build()
            .expect("an empty database always compiles")
    }

    /// The built-in test signatures (EICAR and, optionally, the marker).
    pub fn builtin(opts: &BuiltinOptions) -> Self {
        let mut b = DbBuilder::default();
        b.add_eicar(&opts.eicar_name, opts.eicar_mode);
        if opts.marker {
            b.add_literal(MARKER_NAME, MARKER_BYTES);
        }
        b.build().expect("the built-in signatures always compile")
    }

    /// Load every `*.hdb`, `*.hsb` and `*.ndb` file of `dir` (in that order of kinds, each
    /// kind sorted by file name), like clamd's `DatabaseDirectory`. Other files are ignored.
    pub fn load_dir(dir: &Path, opts: &LoadOptions) -> Result<Self, DbError> {
        let mut b = DbBuilder::default();
        b.add_dir(dir, opts)?;
        b.build()
    }

    /// Start an empty builder.
    pub fn builder() -> DbBuilder {
        DbBuilder::default()
    }

    /// Number of signatures.
    pub fn len(&self) -> usize {
        self.sigs.len()
    }

    /// True when there is no signature.
    pub fn is_empty(&self) -> bool {
        self.sigs.is_empty()
    }

    /// Signature names in database order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.sigs.iter().map(|s| s.name.as_str())
    }
}

/// Collects signatures, then compiles them into a [`SignatureDb`].
#[derive(Debug, Default, Clone)]
pub struct DbBuilder {
    sigs: Vec<Sig>,
}

impl DbBuilder {
    /// Add the EICAR signature under `name`.
    pub fn add_eicar(&mut self, name: &str, mode: EicarMode) -> &mut Self {
        let kind = match mode {
            EicarMode::Exact => SigKind::Hash {
                algo: HashAlgo::Md5,
                digest: hex::decode(EICAR_MD5).expect("valid constant"),
                size: Some(EICAR_LEN as u64),
            },
            EicarMode::Standard => SigKind::EicarStandard,
            EicarMode::Anywhere => literal_kind(&eicar()),
        };
        self.sigs.push(Sig {
            name: name.to_string(),
            kind,
        });
        self
    }

    /// Add a body signature matching `bytes` at any offset.
    pub fn add_literal(&mut self, name: &str, bytes: &[u8]) -> &mut Self {
        self.sigs.push(Sig {
            name: name.to_string(),
            kind: literal_kind(bytes),
        });
        self
    }

    /// Add the signatures of one file; its kind comes from the extension.
    pub fn add_file(&mut self, path: &Path, opts: &LoadOptions) -> Result<&mut Self, DbError> {
        let kind = DbFileKind::from_path(path).ok_or_else(|| DbError::Parse {
            origin: path.display().to_string(),
            line: 0,
            message: "not a signature file the fake loads (.hdb, .hsb, .ndb)".into(),
        })?;
        let bytes = std::fs::read(path).map_err(|source| DbError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        // Raw bytes, not a lossy copy: the 8191-byte pieces count file bytes, as clamd does.
        self.add_bytes(kind, &bytes, &path.display().to_string(), opts)
    }

    /// Add every signature file of a directory (see [`SignatureDb::load_dir`]).
    pub fn add_dir(&mut self, dir: &Path, opts: &LoadOptions) -> Result<&mut Self, DbError> {
        let io_err = |source| DbError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut files: Vec<(DbFileKind, std::path::PathBuf)> = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io_err)? {
            let path = entry.map_err(io_err)?.path();
            if let Some(kind) = DbFileKind::from_path(&path) {
                if path.is_file() {
                    files.push((kind, path));
                }
            }
        }
        files.sort_by(|a, b| (a.0 as u8, &a.1).cmp(&(b.0 as u8, &b.1)));
        for (_, path) in files {
            self.add_file(&path, opts)?;
        }
        Ok(self)
    }

    /// Add the signatures in `text`, a file of the given kind; `origin` names it in errors.
    /// Lines are read the way clamd reads them (see [`CLAMD_LINE_MAX`]), in one linear pass.
    pub fn add_text(
        &mut self,
        kind: DbFileKind,
        text: &str,
        origin: &str,
        opts: &LoadOptions,
    ) -> Result<&mut Self, DbError> {
        self.add_bytes(kind, text.as_bytes(), origin, opts)
    }

    fn add_bytes(
        &mut self,
        kind: DbFileKind,
        text: &[u8],
        origin: &str,
        opts: &LoadOptions,
    ) -> Result<&mut Self, DbError> {
        for (idx, piece) in ClamdLines::new(text).enumerate() {
            let raw = String::from_utf8_lossy(piece.bytes);
            let line = raw.trim_end_matches(['\r', '\n']);
            // A blank continuation is not skipped: clamd rejects it (the rest of an
            // 8191-byte line is just its newline).
            if (line.trim().is_empty() && !piece.continued) || line.starts_with('#') {
                continue;
            }
            let parsed = match kind {
                DbFileKind::Hdb | DbFileKind::Hsb => {
                    hashdb::parse_line(line, kind == DbFileKind::Hsb).map(|h| Sig {
                        name: h.name,
                        kind: SigKind::Hash {
                            algo: h.algo,
                            digest: h.digest,
                            size: h.size,
                        },
                    })
                }
                DbFileKind::Ndb => ndb::parse_line(line).map(|n| Sig {
                    name: n.name,
                    kind: SigKind::Body {
                        offset: n.offset,
                        regex: n.body_regex,
                        literal: n.literal,
                        cost: n.cost,
                    },
                }),
            };
            let mut sig = parsed.map_err(|mut message| {
                if piece.split() {
                    message.push_str(&format!(
                        " (this is a piece of a line longer than {CLAMD_LINE_MAX} bytes: \
                         clamd reads such a line in pieces and parses each as a line)"
                    ));
                }
                DbError::Parse {
                    origin: origin.to_string(),
                    line: idx + 1,
                    message,
                }
            })?;
            sig.name = display_name(&sig.name, opts);
            self.sigs.push(sig);
        }
        Ok(self)
    }

    /// Compile the collected signatures.
    pub fn build(&mut self) -> Result<SignatureDb, DbError> {
        let sigs = self.sigs.clone();
        let compiled = compile(&sigs)?;
        Ok(SignatureDb { sigs, compiled })
    }
}

fn literal_kind(bytes: &[u8]) -> SigKind {
    let regex: String = bytes.iter().map(|b| format!("\\x{b:02x}")).collect();
    SigKind::Body {
        offset: Offset::Any,
        regex,
        literal: Some(bytes.to_vec()),
        cost: bytes.len() as u64,
    }
}

/// One line as clamd's `fgets` loop sees it: at most [`CLAMD_LINE_MAX`] bytes, ending after
/// a newline or where the buffer is full.
struct Piece<'a> {
    bytes: &'a [u8],
    /// The previous piece was cut: this one continues its line.
    continued: bool,
    /// This piece was cut: its line goes on in the next piece.
    cut: bool,
}

impl Piece<'_> {
    fn split(&self) -> bool {
        self.continued || self.cut
    }
}

/// Splits a file into [`Piece`]s; each byte is looked at once.
struct ClamdLines<'a> {
    rest: &'a [u8],
    continued: bool,
}

impl<'a> ClamdLines<'a> {
    fn new(text: &'a [u8]) -> Self {
        Self {
            rest: text,
            continued: false,
        }
    }
}

impl<'a> Iterator for ClamdLines<'a> {
    type Item = Piece<'a>;

    fn next(&mut self) -> Option<Piece<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        let window = &self.rest[..self.rest.len().min(CLAMD_LINE_MAX)];
        let (len, cut) = match window.iter().position(|&b| b == b'\n') {
            Some(nl) => (nl + 1, false),
            None => (window.len(), window.len() < self.rest.len()),
        };
        let (bytes, rest) = self.rest.split_at(len);
        let piece = Piece {
            bytes,
            continued: self.continued,
            cut,
        };
        self.rest = rest;
        self.continued = cut;
        Some(piece)
    }
}

/// clamd drops a trailing ` (Clam)` and marks names from unsigned files `.UNOFFICIAL`
/// (CLAMD-DET-2).
fn display_name(name: &str, opts: &LoadOptions) -> String {
    let base = name.strip_suffix(" (Clam)").unwrap_or(name);
    if opts.unofficial_suffix {
        format!("{base}.UNOFFICIAL")
    } else {
        base.to_string()
    }
}
