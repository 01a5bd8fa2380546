//! Case inputs, generated at run time (EICAR is never stored in plain form in the repo).

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use rand::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::error::{HarnessError, Result};
use crate::profile::Verdict;

/// What file a case hands to the client.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum InputSpec {
    /// Pseudo-random clean bytes from a seed.
    Clean {
        #[serde(default = "default_size")]
        size: u64,
        #[serde(default)]
        seed: u64,
    },
    /// A zero-byte file.
    Empty,
    /// The 68-byte EICAR test file.
    Eicar,
    /// EICAR embedded in clean bytes at `offset` (needs a daemon that matches anywhere).
    EicarAt { offset: u64, size: u64, seed: u64 },
    /// A zip (deflate) whose one member is EICAR; `depth` > 1 nests zips inside zips.
    ZipEicar {
        #[serde(default = "one")]
        depth: u32,
    },
    /// A zip with only clean members.
    ZipClean,
    /// A whole RFC 822 message as a mail gateway hands it to clamd: a text part and EICAR as
    /// a base64 attachment in `multipart/mixed`; `nested` wraps it as `message/rfc822` inside
    /// a second multipart (a forwarded mail).
    MailEicar {
        #[serde(default)]
        nested: bool,
    },
    /// The given bytes, in the byte notation of [`fixtures::notation`] (escapes such as
    /// `\0` and `\xHH`, placeholders such as `{eicar}`).
    Bytes { data: String },
    /// Several files for one run (a client that scans them in one IDSESSION): written into
    /// the directory `input/`, which is what `{file}` names; each has its own expectation.
    Files { files: Vec<NamedInput> },
}

/// One file of a [`InputSpec::Files`] input.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NamedInput {
    /// File name inside `input/` (`[A-Za-z0-9._-]`, no leading dot).
    pub name: String,
    pub input: InputSpec,
    /// The verdict the client must report for this file.
    pub expect: Verdict,
}

fn default_size() -> u64 {
    4096
}

fn one() -> u32 {
    1
}

/// Largest input the harness will generate (guards typos in case files).
pub const MAX_INPUT: u64 = 1 << 31;

impl InputSpec {
    /// A short label for reports.
    pub fn label(&self) -> String {
        match self {
            InputSpec::Clean { size, .. } => format!("clean {size} bytes"),
            InputSpec::Empty => "empty file".into(),
            InputSpec::Eicar => "EICAR (68 bytes)".into(),
            InputSpec::EicarAt { offset, size, .. } => {
                format!("EICAR at offset {offset} of {size} bytes")
            }
            InputSpec::ZipEicar { depth } => format!("EICAR in zip, depth {depth}"),
            InputSpec::ZipClean => "clean zip".into(),
            InputSpec::MailEicar { nested: false } => "mail, EICAR as base64 attachment".into(),
            InputSpec::MailEicar { nested: true } => {
                "forwarded mail (message/rfc822), EICAR as base64 attachment".into()
            }
            InputSpec::Bytes { data } => match bytes_of(data) {
                Ok(b) => format!("{} literal bytes", b.len()),
                Err(_) => "bytes in bad notation".into(),
            },
            InputSpec::Files { files } => {
                let each: Vec<String> = files
                    .iter()
                    .map(|f| format!("{} ({})", f.name, f.input.label()))
                    .collect();
                format!("{} files: {}", files.len(), each.join(", "))
            }
        }
    }

    /// The files of a `files` input (None for a single-file input).
    pub fn files(&self) -> Option<&[NamedInput]> {
        match self {
            InputSpec::Files { files } => Some(files),
            _ => None,
        }
    }

    /// Checks what can be checked before a run: `files` names and nesting.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if let InputSpec::Bytes { data } = self {
            return bytes_of(data).map(drop);
        }
        let Some(files) = self.files() else {
            return Ok(());
        };
        if files.len() < 2 {
            return Err("a files input needs at least two files".into());
        }
        for (i, f) in files.iter().enumerate() {
            let ok_name = !f.name.is_empty()
                && !f.name.starts_with('.')
                && f.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
            if !ok_name {
                return Err(format!(
                    "file name {:?}: use only [A-Za-z0-9._-], no leading dot",
                    f.name
                ));
            }
            if files[..i].iter().any(|g| g.name == f.name) {
                return Err(format!("file name {:?} given twice", f.name));
            }
            if f.input.files().is_some() {
                return Err(format!("file {:?}: a files input cannot nest", f.name));
            }
        }
        Ok(())
    }

    /// The file's name inside the case directory.
    pub fn file_name(&self) -> &'static str {
        match self {
            InputSpec::Files { .. } => "input",
            InputSpec::ZipEicar { .. } | InputSpec::ZipClean => "input.zip",
            InputSpec::Eicar => "input.com",
            InputSpec::MailEicar { .. } => "input.eml",
            _ => "input.bin",
        }
    }

    /// Builds the bytes.
    pub fn generate(&self) -> Result<Vec<u8>> {
        match self {
            InputSpec::Clean { size, seed } => random_bytes(*size, *seed),
            InputSpec::Empty => Ok(Vec::new()),
            InputSpec::Eicar => Ok(eicar()),
            InputSpec::EicarAt { offset, size, seed } => {
                let e = eicar();
                if offset.saturating_add(e.len() as u64) > *size {
                    return Err(HarnessError::Fixture(format!(
                        "eicar-at: offset {offset} + 68 exceeds size {size}"
                    )));
                }
                let mut v = random_bytes(*size, *seed)?;
                let o = *offset as usize;
                v[o..o + e.len()].copy_from_slice(&e);
                Ok(v)
            }
            InputSpec::ZipEicar { depth } => {
                if *depth == 0 || *depth > 16 {
                    return Err(HarnessError::Fixture(
                        "zip-eicar depth must be 1..=16".into(),
                    ));
                }
                let mut data = zip_one("eicar.com", &eicar())?;
                for level in 1..*depth {
                    data = zip_one(&format!("level{level}.zip"), &data)?;
                }
                Ok(data)
            }
            InputSpec::ZipClean => zip_one("readme.txt", b"nothing to see here\n"),
            InputSpec::MailEicar { nested } => Ok(mail_with_attachment(&eicar(), *nested)),
            InputSpec::Bytes { data } => bytes_of(data).map_err(HarnessError::Fixture),
            InputSpec::Files { .. } => Err(HarnessError::Fixture(
                "a files input is a directory, not one file's bytes".into(),
            )),
        }
    }

    /// Writes the input into `dir` and returns its path (for `files`, the directory
    /// holding them).
    pub fn write_to(&self, dir: &Path) -> Result<PathBuf> {
        let path = dir.join(self.file_name());
        if let Some(files) = self.files() {
            self.validate().map_err(HarnessError::Fixture)?;
            std::fs::create_dir(&path)
                .map_err(|e| HarnessError::io(format!("creating {}", path.display()), e))?;
            for f in files {
                let p = path.join(&f.name);
                std::fs::write(&p, f.input.generate()?)
                    .map_err(|e| HarnessError::io(format!("writing {}", p.display()), e))?;
            }
            return Ok(path);
        }
        let data = self.generate()?;
        std::fs::write(&path, data)
            .map_err(|e| HarnessError::io(format!("writing {}", path.display()), e))?;
        Ok(path)
    }
}

/// The EICAR test file (decoded at run time by the engine; never stored in plain form).
pub fn eicar() -> Vec<u8> {
    scan_engine::eicar()
}

/// The bytes of a `bytes` input (notation decoded, placeholders filled in).
fn bytes_of(data: &str) -> std::result::Result<Vec<u8>, String> {
    fixtures::notation::expand(data, &Default::default()).map_err(|e| format!("bytes: {e}"))
}

fn random_bytes(size: u64, seed: u64) -> Result<Vec<u8>> {
    if size > MAX_INPUT {
        return Err(HarnessError::Fixture(format!(
            "input size {size} over the {MAX_INPUT} cap"
        )));
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut v = vec![0u8; size as usize];
    rng.fill_bytes(&mut v);
    Ok(v)
}

fn zip_one(name: &str, data: &[u8]) -> Result<Vec<u8>> {
    let err = |e: &dyn std::fmt::Display| HarnessError::Fixture(format!("zip: {e}"));
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    w.start_file(name, opts).map_err(|e| err(&e))?;
    w.write_all(data).map_err(|e| err(&e))?;
    Ok(w.finish().map_err(|e| err(&e))?.into_inner())
}

/// A MIME message with `data` as a base64 attachment (lines of 76 characters, CRLF), as a
/// mail client writes one; `nested` forwards it inside a second message.
fn mail_with_attachment(data: &[u8], nested: bool) -> Vec<u8> {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    let mut body = String::new();
    for line in encoded.as_bytes().chunks(76) {
        body.push_str(std::str::from_utf8(line).unwrap_or_default());
        body.push_str("\r\n");
    }
    let inner = format!(
        "From: sender@example.test\r\nTo: rcpt@example.test\r\nSubject: invoice\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"inner-b\"\r\n\r\n\
         --inner-b\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nSee attachment.\r\n\
         --inner-b\r\nContent-Type: application/octet-stream; name=\"invoice.com\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=\"invoice.com\"\r\n\r\n{body}--inner-b--\r\n"
    );
    if !nested {
        return inner.into_bytes();
    }
    format!(
        "From: forwarder@example.test\r\nTo: rcpt@example.test\r\nSubject: Fwd: invoice\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"outer-b\"\r\n\r\n\
         --outer-b\r\nContent-Type: text/plain\r\n\r\nForwarded.\r\n\
         --outer-b\r\nContent-Type: message/rfc822\r\n\r\n{inner}--outer-b--\r\n"
    )
    .into_bytes()
}

/// Bytes shown as text (`\0 \n \r \t \\`, `\xHH`): the one escaper shared with clamd-proto.
pub use clamd_proto::display::escape;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eicar_decodes_to_known_hash() {
        use sha1::{Digest, Sha1};
        let e = eicar();
        assert_eq!(e.len(), 68);
        assert_eq!(
            hex::encode(Sha1::digest(&e)),
            "3395856ce81f2b7382dee72602f798b642f14140"
        );
    }

    /// CLAMD-DET-7: the generated messages carry EICAR as base64 the engine decodes.
    #[test]
    fn mail_inputs_are_found_by_the_engine() {
        for nested in [false, true] {
            let mail = InputSpec::MailEicar { nested }.generate().unwrap();
            assert!(!mail.windows(68).any(|w| w == eicar().as_slice()));
            let db = std::sync::Arc::new(scan_engine::SignatureDb::builtin(&Default::default()));
            let mut found = Vec::new();
            let mut tree = scan_engine::TreeScanner::new(db, Default::default(), b"m.eml");
            tree.update(&mail).unwrap();
            tree.finish(&mut |part| {
                found.extend(part.result.detections.iter().map(|d| d.name.clone()));
                std::ops::ControlFlow::Continue(())
            })
            .unwrap();
            assert!(!found.is_empty(), "nested={nested}: nothing found");
        }
    }

    /// A `bytes` input is read in the strict notation: a bad escape fails at load time.
    #[test]
    fn bytes_input_uses_the_strict_notation() {
        let ok = InputSpec::Bytes {
            data: "a\\x41\\0{eicar:0:2}".into(),
        };
        assert_eq!(
            ok.generate().unwrap(),
            [b"aA\0".as_slice(), &eicar()[..2]].concat()
        );
        assert_eq!(ok.label(), "5 literal bytes");
        let bad = InputSpec::Bytes {
            data: "a\\q".into(),
        };
        let e = bad.validate().unwrap_err();
        assert!(
            e.contains("unknown escape `\\q`") && e.contains("at byte 1"),
            "{e}"
        );
        assert!(bad.generate().is_err());
    }

    #[test]
    fn files_input_writes_a_directory_and_checks_names() {
        let spec: InputSpec = toml::from_str::<toml::Table>(
            r#"input = { kind = "files", files = [
                 { name = "a.bin", expect = "clean", input = { kind = "clean", size = 10 } },
                 { name = "b.com", expect = "infected", input = { kind = "eicar" } } ] }"#,
        )
        .unwrap()["input"]
            .clone()
            .try_into()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = spec.write_to(dir.path()).unwrap();
        assert!(p.is_dir());
        assert_eq!(std::fs::read(p.join("a.bin")).unwrap().len(), 10);
        assert_eq!(std::fs::read(p.join("b.com")).unwrap(), eicar());
        assert!(spec.generate().is_err());
        let bad = |name: &str| InputSpec::Files {
            files: vec![
                NamedInput {
                    name: name.into(),
                    input: InputSpec::Empty,
                    expect: Verdict::Clean,
                },
                NamedInput {
                    name: "ok".into(),
                    input: InputSpec::Empty,
                    expect: Verdict::Clean,
                },
            ],
        };
        for name in ["../x", ".hidden", "", "a/b", "ok"] {
            assert!(bad(name).validate().is_err(), "{name:?}");
        }
        assert!(bad("fine-1.bin").validate().is_ok());
    }

    #[test]
    fn zip_nesting_grows() {
        let one = InputSpec::ZipEicar { depth: 1 }.generate().unwrap();
        let two = InputSpec::ZipEicar { depth: 2 }.generate().unwrap();
        assert!(one.starts_with(b"PK\x03\x04"));
        assert!(two.len() > one.len());
        assert!(InputSpec::ZipEicar { depth: 0 }.generate().is_err());
    }
}
