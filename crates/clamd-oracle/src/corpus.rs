//! The scan corpus, generated at run time (EICAR is never stored on disk in the repository).
//!
//! Layout (paths relative to `{corpus}`):
//! ```text
//! clean.txt  eicar.com  eicar_nl.txt  eicar_embedded.txt  empty.txt  with space.com
//! marker_a.txt  markers_ab.txt  markers_ba.txt  colon: name.txt
//! eicar_stored.zip  eicar_deflate.zip  eicar.tar.gz  clean.zip
//! unreadable.com (mode 000)   mixperm/secret.com (000)   noaccess/ (dir 000, holds inner.txt)
//! fifo (named pipe)   link_eicar.com -> eicar.com   link_dir -> onefound
//! symdir/{clean.txt, link_eicar.com -> ../eicar.com}
//! onefound/{a_clean.txt, b_eicar.com, c_clean.txt}
//! mixed/{a_clean.txt, b_eicar.com, sub/c_clean.txt, sub/d_eicar.com}
//! cleandir/{one.txt, two.txt, sub/three.txt}   emptydir/
//! ```

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::env::{eicar, make_symlink, set_mode, write_file, MARKER_A, MARKER_B};
use crate::Error;

/// Builds the corpus under `dir` (which must exist and be empty).
pub fn build(dir: &Path) -> Result<(), Error> {
    let e = eicar();
    let clean = b"a clean file for the clamd oracle\n".to_vec();
    let mkdir = |rel: &str| -> Result<(), Error> {
        let p = dir.join(rel);
        fs::create_dir(&p).map_err(|err| Error::io(&p, err))?;
        set_mode(&p, 0o755)
    };
    let file = |rel: &str, data: &[u8]| write_file(&dir.join(rel), data, 0o644);

    file("clean.txt", &clean)?;
    file("eicar.com", &e)?;
    file("eicar_nl.txt", &[e.as_slice(), b"\n"].concat())?;
    file(
        "eicar_embedded.txt",
        &[b"prefix ".as_slice(), &e, b" suffix"].concat(),
    )?;
    file("empty.txt", b"")?;
    file("with space.com", &e)?;
    file("colon: name.txt", &clean)?;
    file(
        "marker_a.txt",
        &[b"xx ".as_slice(), MARKER_A, b" xx\n"].concat(),
    )?;
    file(
        "markers_ab.txt",
        &[MARKER_A, b" and ".as_slice(), MARKER_B, b"\n"].concat(),
    )?;
    file(
        "markers_ba.txt",
        &[MARKER_B, b" and ".as_slice(), MARKER_A, b"\n"].concat(),
    )?;
    file(
        "eicar_stored.zip",
        &zip_of("eicar.com", &e, zip::CompressionMethod::Stored)?,
    )?;
    file(
        "eicar_deflate.zip",
        &zip_of("eicar.com", &e, zip::CompressionMethod::Deflated)?,
    )?;
    file(
        "clean.zip",
        &zip_of("clean.txt", &clean, zip::CompressionMethod::Deflated)?,
    )?;
    file("eicar.tar.gz", &tar_gz_of("eicar.com", &e)?)?;

    file("unreadable.com", &clean)?;
    set_mode(&dir.join("unreadable.com"), 0o000)?;
    mkdir("mixperm")?;
    file("mixperm/secret.com", &clean)?;
    set_mode(&dir.join("mixperm/secret.com"), 0o000)?;
    mkdir("noaccess")?;
    file("noaccess/inner.txt", &clean)?;
    set_mode(&dir.join("noaccess"), 0o000)?;

    let fifo = dir.join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644))
        .map_err(|err| Error::io(&fifo, err.into()))?;
    make_symlink("eicar.com", &dir.join("link_eicar.com"))?;
    make_symlink("onefound", &dir.join("link_dir"))?;
    mkdir("symdir")?;
    file("symdir/clean.txt", &clean)?;
    make_symlink("../eicar.com", &dir.join("symdir/link_eicar.com"))?;

    mkdir("onefound")?;
    file("onefound/a_clean.txt", &clean)?;
    file("onefound/b_eicar.com", &e)?;
    file("onefound/c_clean.txt", &clean)?;
    mkdir("mixed")?;
    mkdir("mixed/sub")?;
    file("mixed/a_clean.txt", &clean)?;
    file("mixed/b_eicar.com", &e)?;
    file("mixed/sub/c_clean.txt", &clean)?;
    file("mixed/sub/d_eicar.com", &e)?;
    mkdir("cleandir")?;
    mkdir("cleandir/sub")?;
    file("cleandir/one.txt", &clean)?;
    file("cleandir/two.txt", b"two\n")?;
    file("cleandir/sub/three.txt", b"three\n")?;
    mkdir("emptydir")?;
    Ok(())
}

fn zip_of(name: &str, data: &[u8], method: zip::CompressionMethod) -> Result<Vec<u8>, Error> {
    let ioerr = |e: zip::result::ZipError| Error::Corpus(format!("zip: {e}"));
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(method);
    w.start_file(name, opts).map_err(ioerr)?;
    w.write_all(data)
        .map_err(|e| Error::Corpus(format!("zip: {e}")))?;
    Ok(w.finish().map_err(ioerr)?.into_inner())
}

fn tar_gz_of(name: &str, data: &[u8]) -> Result<Vec<u8>, Error> {
    let err = |e: std::io::Error| Error::Corpus(format!("tar.gz: {e}"));
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut t = tar::Builder::new(gz);
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    h.set_cksum();
    t.append_data(&mut h, name, data).map_err(err)?;
    let gz = t.into_inner().map_err(err)?;
    gz.finish().map_err(err)
}
