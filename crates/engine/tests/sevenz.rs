//! 7z archives as containers (CLAMD-DET-7): members decoded as streams under their stored
//! names, solid blocks included; a coder dictionary over the memory limit is refused; a
//! member larger than MaxFileSize is scanned truncated (CLAMD-CONF-3, as zip/tar).

mod common;
use common::{infected, names, scan_as, Seen};

use std::io::Cursor;

use scan_engine::{eicar, ContainerKind, ScanLimits, TreeSummary, MARKER_BYTES};
use sevenz_rust2::encoder_options::LzmaOptions;
use sevenz_rust2::{ArchiveEntry, ArchiveWriter, EncoderConfiguration, SourceReader};

/// Each member in its own block (LZMA2 defaults).
fn sevenz(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = ArchiveWriter::new(Cursor::new(Vec::new())).unwrap();
    for (name, data) in members {
        w.push_archive_entry(ArchiveEntry::new_file(name), Some(*data))
            .unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// All members in one solid block.
fn sevenz_solid(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = ArchiveWriter::new(Cursor::new(Vec::new())).unwrap();
    let entries = members
        .iter()
        .map(|(n, _)| ArchiveEntry::new_file(n))
        .collect();
    let readers = members.iter().map(|(_, d)| SourceReader::new(*d)).collect();
    w.push_archive_entries(entries, readers).unwrap();
    w.finish().unwrap().into_inner()
}

/// One member with LZMA and a 1 MiB dictionary.
fn sevenz_lzma(name: &str, data: &[u8]) -> Vec<u8> {
    let mut w = ArchiveWriter::new(Cursor::new(Vec::new())).unwrap();
    let mut o = LzmaOptions::from_level(1);
    o.set_dictionary_size(1 << 20);
    w.set_content_methods(vec![EncoderConfiguration::from(o)]);
    w.push_archive_entry(ArchiveEntry::new_file(name), Some(data))
        .unwrap();
    w.finish().unwrap().into_inner()
}

fn scan(data: &[u8], limits: ScanLimits) -> (Seen, TreeSummary) {
    scan_as(b"a.7z", data, limits)
}

/// CLAMD-DET-7: EICAR in a 7z (per-member blocks, and in a solid block after another
/// member) is found under its stored name.
#[test]
fn eicar_in_7z_is_found_under_its_name() {
    let e = eicar();
    let members: [(&str, &[u8]); 3] = [("a.txt", b"hello"), ("d/e.com", &e), ("z", b"zz")];
    for data in [sevenz(&members), sevenz_solid(&members)] {
        let (seen, _) = scan(&data, ScanLimits::default());
        assert_eq!(seen[0].1, Some(ContainerKind::SevenZ));
        assert_eq!(names(&seen), vec!["", "a.txt", "d/e.com", "z"]);
        assert_eq!(infected(&seen), vec!["d/e.com"]);
    }
}

/// CLAMD-DET-7: a 7z inside a zip-free 7z nesting, and a tar inside 7z, are walked.
#[test]
fn nested_7z_and_tar_are_walked() {
    let e = eicar();
    let t = fixtures::tar_of(&[("t/e.com", &e)]);
    let inner = sevenz(&[("in.tar", &t)]);
    let outer = sevenz_solid(&[("x", b"x"), ("in.7z", &inner)]);
    let (seen, _) = scan(&outer, ScanLimits::default());
    assert_eq!(infected(&seen), vec!["in.7z -> in.tar -> t/e.com"]);
    assert_eq!(seen[2].1, Some(ContainerKind::SevenZ));
}

/// Hardening: an LZMA coder whose dictionary (1 GiB) is over the decoder memory limit is
/// refused before anything is allocated: the member is not scanned, and the scan ends
/// normally. The same archive with its 1 MiB dictionary is found.
#[test]
fn sevenz_dictionary_over_the_memory_limit_is_refused() {
    let e = eicar();
    let good = sevenz_lzma("e.com", &e);
    let (seen, _) = scan(&good, ScanLimits::default());
    assert_eq!(infected(&seen), vec!["e.com"]);
    // LZMA properties: lc/lp/pb byte 0x5d, then the dictionary size (LE)
    let props = [0x5d, 0x00, 0x00, 0x10, 0x00];
    let at = good
        .windows(5)
        .rposition(|w| w == props)
        .expect("raw header holds the LZMA properties");
    let mut bad = good.clone();
    bad[at + 1..at + 5].copy_from_slice(&(1u32 << 30).to_le_bytes());
    // fix the next-header CRC, then the start-header CRC
    let next_off = u64::from_le_bytes(bad[12..20].try_into().unwrap()) as usize + 32;
    let next_len = u64::from_le_bytes(bad[20..28].try_into().unwrap()) as usize;
    let next_crc = crc32fast::hash(&bad[next_off..next_off + next_len]);
    bad[28..32].copy_from_slice(&next_crc.to_le_bytes());
    let start_crc = crc32fast::hash(&bad[12..32]);
    bad[8..12].copy_from_slice(&start_crc.to_le_bytes());
    let (seen, summary) = scan(&bad, ScanLimits::default());
    assert_eq!(names(&seen), vec![""], "no member decoded");
    assert!(summary.root.is_clean());
}

/// CLAMD-CONF-3: a 7z member's size is declared: one larger than MaxFileSize is scanned
/// truncated to MaxFileSize bytes (the marker at its start found, past the cap not), and a
/// later member of the same solid block is still reached.
#[test]
fn sevenz_member_over_max_file_size_is_scanned_truncated() {
    let e = eicar();
    let mut head = MARKER_BYTES.to_vec();
    head.extend_from_slice(&vec![b'.'; 50_000]);
    let mut tail = vec![b'.'; 50_000];
    tail.extend_from_slice(MARKER_BYTES);
    let data = sevenz_solid(&[("head", &head), ("tail", &tail), ("e.com", &e)]);
    let limits = ScanLimits {
        max_file_size: 10_000,
        ..ScanLimits::default()
    };
    assert!((data.len() as u64) < limits.max_file_size);
    let (seen, summary) = scan(&data, limits);
    assert_eq!(infected(&seen), vec!["head", "e.com"]);
    assert_eq!(summary.exceeded, None);
    let (seen, _) = scan(&data, ScanLimits::default());
    assert_eq!(infected(&seen), vec!["head", "tail", "e.com"]);
}

/// Hardening: cut and corrupt 7z archives end the walk without error or panic.
#[test]
fn cut_or_corrupt_7z_ends_quietly() {
    let e = eicar();
    let data = sevenz(&[("e.com", &e), ("b", b"bbbb")]);
    for cut in [8, 32, data.len() / 2, data.len() - 1] {
        let (seen, _) = scan(&data[..cut], ScanLimits::default());
        assert!(infected(&seen).is_empty(), "cut {cut}");
    }
    let mut flipped = data.clone();
    flipped[40] ^= 0xff;
    let (seen, _) = scan(&flipped, ScanLimits::default());
    assert_eq!(seen[0].1, Some(ContainerKind::SevenZ));
}
