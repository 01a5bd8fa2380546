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
//! inodes/{w.com, sub_b/x.com, b.com (clean), a.com, sub_a/x.com, c.com} (created in this order)
//! limits/ (clamd's Max* limits around 1 MiB, marker A inside; see [`build_limits`])
//! ```

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::files::{make_symlink, set_mode, write_file};
use crate::sigs::{eicar, MARKER_A, MARKER_B};
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
    // created out of name order: clamd walks files by inode number, then subdirectories
    // (CLAMD-SCAN-6), which tells its order from sorted names and from raw readdir order
    mkdir("inodes")?;
    file("inodes/w.com", &e)?;
    mkdir("inodes/sub_b")?;
    file("inodes/sub_b/x.com", &e)?;
    file("inodes/b.com", &clean)?;
    file("inodes/a.com", &e)?;
    mkdir("inodes/sub_a")?;
    file("inodes/sub_a/x.com", &e)?;
    file("inodes/c.com", &e)?;
    build_limits(dir)?;
    Ok(())
}

/// `limits/`: inputs around 1 MiB for clamd's `MaxFileSize`, `MaxScanSize` and
/// `MaxRecursion` (hardening item 3; the oracle profiles `limits_*` set those limits to 1 MiB
/// and a few levels). Marker A is the "infection" so that hash signatures play no part.
fn build_limits(dir: &Path) -> Result<(), Error> {
    const MIB: usize = 1 << 20;
    let m = MARKER_A;
    let fill = |byte: u8, n: usize| vec![byte; n];
    let cat = |parts: &[&[u8]]| parts.concat();
    let base = dir.join("limits");
    fs::create_dir(&base).map_err(|err| Error::io(&base, err))?;
    set_mode(&base, 0o755)?;
    let file = |rel: &str, data: &[u8]| write_file(&base.join(rel), data, 0o644);
    let deflated =
        |members: &[(&str, &[u8])]| zip_members(members, zip::CompressionMethod::Deflated);

    file("marker_then_3m.bin", &cat(&[m, &fill(b'A', 3 * MIB)]))?;
    file("3m_then_marker.bin", &cat(&[&fill(b'A', 3 * MIB), m]))?;
    file(
        "exact_1m_marker.bin",
        &cat(&[m, &fill(b'A', MIB - m.len())]),
    )?;
    file(
        "over_1m_marker.bin",
        &cat(&[m, &fill(b'A', MIB - m.len() + 1)]),
    )?;
    file(
        "zip_2m_then_marker.zip",
        &deflated(&[("a_big", &fill(b'B', 2 * MIB)), ("b_marker.txt", m)])?,
    )?;
    file(
        "zip_marker_before_1m.zip",
        &deflated(&[(
            "a_big",
            &cat(&[&fill(b'B', MIB - 100), m, &fill(b'B', MIB)]),
        )])?,
    )?;
    file(
        "zip_marker_after_1m.zip",
        &deflated(&[("a_big", &cat(&[&fill(b'B', MIB + 10), m, &fill(b'B', MIB)]))])?,
    )?;
    let k600 = fill(b'C', 600 << 10);
    file(
        "zip_600k_600k_marker.zip",
        &deflated(&[("a", &k600), ("b", &k600), ("c_marker.txt", m)])?,
    )?;
    let inner = deflated(&[("a", &k600), ("b", &k600)])?;
    file(
        "zip_nested_budget_then_marker.zip",
        &deflated(&[("a_inner.zip", &inner), ("b_marker.txt", m)])?,
    )?;
    file(
        "zip_near_1m_then_marker.zip",
        &deflated(&[("a", &fill(b'D', MIB - 1000)), ("c_marker.txt", m)])?,
    )?;
    file(
        "gz_marker_then_2m.gz",
        &gzip_of(&cat(&[m, &fill(b'A', 2 * MIB)]))?,
    )?;
    let level1 = deflated(&[("marker.txt", m)])?;
    let level2 = deflated(&[("x.zip", &level1)])?;
    file("zip_level1.zip", &level1)?;
    file("zip_level2.zip", &level2)?;
    file("zip_level3.zip", &deflated(&[("y.zip", &level2)])?)?;
    Ok(())
}

fn zip_members(
    members: &[(&str, &[u8])],
    method: zip::CompressionMethod,
) -> Result<Vec<u8>, Error> {
    let ioerr = |e: zip::result::ZipError| Error::Corpus(format!("zip: {e}"));
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, data) in members {
        w.start_file(*name, opts).map_err(ioerr)?;
        w.write_all(data)
            .map_err(|e| Error::Corpus(format!("zip: {e}")))?;
    }
    Ok(w.finish().map_err(ioerr)?.into_inner())
}

fn gzip_of(data: &[u8]) -> Result<Vec<u8>, Error> {
    let err = |e: std::io::Error| Error::Corpus(format!("gzip: {e}"));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).map_err(err)?;
    gz.finish().map_err(err)
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
