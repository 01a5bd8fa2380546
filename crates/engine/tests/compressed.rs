//! bzip2 and xz as containers (CLAMD-DET-7), and zip members in bzip2 / deflate64: the one
//! member is decompressed as a stream and scanned; clamd's MaxFileSize applies to a member
//! whose size is known only by decompressing it (CLAMD-CONF-3, as for gzip).

mod common;

use common::infected;

use std::io::{Cursor, Write};
use std::sync::Arc;

use scan_engine::{
    eicar, BuiltinOptions, ContainerKind, LimitExceeded, ScanLimits, SignatureDb, TreeSummary,
};

fn db() -> Arc<SignatureDb> {
    Arc::new(SignatureDb::builtin(&BuiltinOptions::default()))
}

fn bz2(data: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn xz(data: &[u8]) -> Vec<u8> {
    let mut w =
        lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(6)).unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap()
}

fn scan(name: &[u8], data: &[u8], limits: ScanLimits) -> (common::Seen, TreeSummary) {
    common::scan_with(db(), name, data, limits)
}

/// CLAMD-DET-7: `.bz2` and `.xz` hold one member named after the file (suffix removed).
#[test]
fn bzip2_and_xz_members_are_found_with_derived_names() {
    let (seen, _) = scan(b"/in/e.com.bz2", &bz2(&eicar()), ScanLimits::default());
    assert_eq!(seen[0].1, Some(ContainerKind::Bzip2));
    assert_eq!(infected(&seen), vec!["e.com"]);
    let (seen, _) = scan(b"e.com.xz", &xz(&eicar()), ScanLimits::default());
    assert_eq!(seen[0].1, Some(ContainerKind::Xz));
    assert_eq!(infected(&seen), vec!["e.com"]);
}

/// CLAMD-DET-7: a tar inside xz inside bzip2 (nesting through both decoders).
#[test]
fn tar_in_xz_in_bzip2_is_walked() {
    let e = eicar();
    let t = fixtures::tar_of(&[("x/e.com", &e)]);
    let (seen, _) = scan(b"a.txz.bz2", &bz2(&xz(&t)), ScanLimits::default());
    assert_eq!(infected(&seen), vec!["a.txz -> a.tar -> x/e.com"]);
}

/// CLAMD-CONF-3 MaxFileSize: a decompressed member that grows past it is not scanned.
#[test]
fn bzip2_member_over_max_file_size_is_not_scanned() {
    let mut big = eicar();
    big.extend(std::iter::repeat_n(b' ', 1 << 20));
    for c in [bz2(&big), xz(&big)] {
        let limits = ScanLimits {
            max_file_size: 64 << 10,
            ..ScanLimits::default()
        };
        let (seen, summary) = scan(b"big", &c, limits);
        assert!(infected(&seen).is_empty());
        assert_eq!(summary.exceeded, Some(LimitExceeded::MaxFileSize));
    }
}

/// A corrupt stream is a plain file plus whatever decoded before the damage; never an error.
#[test]
fn corrupt_bzip2_and_xz_are_not_errors() {
    for mut c in [bz2(&eicar()), xz(&eicar())] {
        let n = c.len();
        c.truncate(n / 2);
        let (seen, summary) = scan(b"bad", &c, ScanLimits::default());
        assert!(infected(&seen).is_empty());
        assert!(summary.root.is_clean());
    }
}

/// `data` as xz whose LZMA2 dictionary property says `dict_byte` (size (2|b&1) << (b/2+11)),
/// with the block header CRC fixed up.
fn xz_with_dict(data: &[u8], dict_byte: u8) -> Vec<u8> {
    let mut c = xz(data);
    // stream header (12 bytes), block header: size byte, flags, filter id 0x21, props size 1,
    // dictionary byte, padding, CRC32
    assert_eq!(&c[14..16], &[0x21, 0x01], "unexpected block header");
    c[16] = dict_byte;
    let len = (usize::from(c[12]) + 1) * 4;
    let crc = crc32fast::hash(&c[12..12 + len - 4]);
    c[12 + len - 4..12 + len].copy_from_slice(&crc.to_le_bytes());
    c
}

/// Bounded memory: an xz header asking for a dictionary beyond the decoder memory limit
/// (80 MiB) is refused instead of allocated; 64 MiB (`xz -9`) is accepted.
#[test]
fn xz_dictionary_over_the_memory_limit_is_refused() {
    let (seen, _) = scan(b"e.xz", &xz_with_dict(&eicar(), 28), ScanLimits::default());
    assert_eq!(infected(&seen), vec!["e"], "64 MiB dictionary decodes");
    let (seen, _) = scan(b"e.xz", &xz_with_dict(&eicar(), 30), ScanLimits::default());
    assert!(infected(&seen).is_empty(), "128 MiB dictionary refused");
}

fn zip_with(method: zip::CompressionMethod, data: &[u8]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(method);
    w.start_file("e.com", opts).unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap().into_inner()
}

/// CLAMD-DET-7: zip members compressed with bzip2 are expanded (deflate64 is checked
/// against clamav-testfiles' clam.d64.zip in the clamd-oracle differential; zip cannot
/// write it).
#[test]
fn zip_member_in_bzip2_is_found() {
    let z = zip_with(zip::CompressionMethod::Bzip2, &eicar());
    let (seen, _) = scan(b"a.zip", &z, ScanLimits::default());
    assert_eq!(infected(&seen), vec!["e.com"]);
}
