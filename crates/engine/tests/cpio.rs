//! cpio archives as containers (CLAMD-DET-7): odc, newc, crc and binary (both byte orders);
//! members named from their headers, directories and the trailer skipped, a member with a
//! declared size larger than MaxFileSize scanned truncated (CLAMD-CONF-3, as zip/tar).

mod common;
use common::{infected, names, scan_as, Seen};

use scan_engine::{eicar, ContainerKind, LimitExceeded, ScanLimits, TreeSummary};

#[derive(Clone, Copy, Debug)]
enum Fmt {
    Odc,
    Newc,
    Crc,
    BinLe,
    BinBe,
}

const ALL: [Fmt; 5] = [Fmt::Odc, Fmt::Newc, Fmt::Crc, Fmt::BinLe, Fmt::BinBe];

fn pad_to(v: &mut Vec<u8>, align: usize) {
    while !v.len().is_multiple_of(align) {
        v.push(0);
    }
}

/// One cpio entry (header, name, data, padding) appended to `out`.
fn entry(out: &mut Vec<u8>, fmt: Fmt, name: &str, mode: u32, data: &[u8]) {
    let namesize = name.len() + 1;
    let size = data.len();
    match fmt {
        Fmt::Odc => {
            out.extend_from_slice(
                format!(
                    "070707{:06o}{:06o}{:06o}{:06o}{:06o}{:06o}{:06o}{:011o}{:06o}{:011o}",
                    0, 1, mode, 0, 0, 1, 0, 0, namesize, size
                )
                .as_bytes(),
            );
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            out.extend_from_slice(data);
        }
        Fmt::Newc | Fmt::Crc => {
            let magic = if matches!(fmt, Fmt::Newc) {
                "070701"
            } else {
                "070702"
            };
            let check: u32 = data.iter().map(|&b| u32::from(b)).sum();
            let check = if matches!(fmt, Fmt::Crc) { check } else { 0 };
            let fields = [
                1,
                mode,
                0,
                0,
                1,
                0,
                size as u32,
                0,
                0,
                0,
                0,
                namesize as u32,
            ];
            out.extend_from_slice(magic.as_bytes());
            for f in fields {
                out.extend_from_slice(format!("{f:08x}").as_bytes());
            }
            out.extend_from_slice(format!("{check:08x}").as_bytes());
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            pad_to(out, 4);
            out.extend_from_slice(data);
            pad_to(out, 4);
        }
        Fmt::BinLe | Fmt::BinBe => {
            let words: [u16; 13] = [
                0o070707,
                0,
                1,
                mode as u16,
                0,
                0,
                1,
                0,
                0,
                0,
                namesize as u16,
                (size >> 16) as u16,
                size as u16,
            ];
            for w in words {
                out.extend_from_slice(&if matches!(fmt, Fmt::BinLe) {
                    w.to_le_bytes()
                } else {
                    w.to_be_bytes()
                });
            }
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            pad_to(out, 2);
            out.extend_from_slice(data);
            pad_to(out, 2);
        }
    }
}

fn archive(fmt: Fmt, members: &[(&str, u32, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, mode, data) in members {
        entry(&mut out, fmt, name, *mode, data);
    }
    entry(&mut out, fmt, "TRAILER!!!", 0, b"");
    out
}

const FILE: u32 = 0o100644;
const DIR: u32 = 0o040755;

fn scan(data: &[u8], limits: ScanLimits) -> (Seen, TreeSummary) {
    scan_as(b"a.cpio", data, limits)
}

/// CLAMD-DET-7: in each of the five cpio formats, EICAR in the second member is found under
/// its stored name; the directory, the empty file and the trailer are not parts.
#[test]
fn eicar_in_each_cpio_format_is_found_under_its_name() {
    let e = eicar();
    for fmt in ALL {
        let data = archive(
            fmt,
            &[
                ("d", DIR, b""),
                ("d/odd", FILE, b"abc"),
                ("d/empty", FILE, b""),
                ("d/e.com", FILE, &e),
                ("last", FILE, b"x"),
            ],
        );
        let (seen, _) = scan(&data, ScanLimits::default());
        assert_eq!(seen[0].1, Some(ContainerKind::Cpio), "{fmt:?}");
        assert_eq!(
            names(&seen),
            vec!["", "d/odd", "d/e.com", "last"],
            "{fmt:?}"
        );
        assert_eq!(infected(&seen), vec!["d/e.com"], "{fmt:?}");
    }
}

/// CLAMD-DET-7: a tar inside a newc cpio inside a binary cpio is walked to EICAR.
#[test]
fn nested_cpio_and_tar_are_walked() {
    let e = eicar();
    let t = fixtures::tar_of(&[("t/e.com", &e)]);
    let inner = archive(Fmt::Newc, &[("in.tar", FILE, &t)]);
    let outer = archive(Fmt::BinBe, &[("in.cpio", FILE, &inner)]);
    let (seen, _) = scan(&outer, ScanLimits::default());
    assert_eq!(infected(&seen), vec!["in.cpio -> in.tar -> t/e.com"]);
    assert_eq!(seen[1].1, Some(ContainerKind::Cpio));
}

/// CLAMD-CONF-3: MaxFileSize caps members with a declared size: a cpio (in a deflated zip, so
/// that the root stays under the cap) is cut to MaxFileSize; its member larger than the cap is
/// scanned truncated and the walk goes on quietly; EICAR past the cap is not found, and is
/// found without the limit.
#[test]
fn cpio_members_are_capped_at_max_file_size() {
    let e = eicar();
    let pad = vec![b'.'; 20_000];
    for fmt in ALL {
        let inner = archive(
            fmt,
            &[
                ("e.com", FILE, &e),
                ("pad", FILE, &pad),
                ("e2.com", FILE, &e),
            ],
        );
        let root = fixtures::zip_of(&[("a.cpio", &inner)], true);
        let capped = ScanLimits {
            max_file_size: 10_000,
            ..ScanLimits::default()
        };
        assert!((root.len() as u64) < capped.max_file_size);
        let (seen, summary) = scan(&root, capped);
        assert_eq!(infected(&seen), vec!["a.cpio -> e.com"], "{fmt:?}");
        assert!(names(&seen).contains(&"a.cpio -> pad"), "{fmt:?}");
        assert_eq!(summary.exceeded, None, "{fmt:?}");
        let (seen, _) = scan(&root, ScanLimits::default());
        assert!(infected(&seen).contains(&"a.cpio -> e2.com"), "{fmt:?}");
    }
}

/// CLAMD-CONF-3: MaxScanSize is a budget: a member whose declared size does not fit ends
/// the cpio archive.
#[test]
fn cpio_member_over_max_scan_size_ends_the_archive() {
    let e = eicar();
    let big = vec![b'.'; 4000];
    let data = archive(Fmt::Newc, &[("big", FILE, &big), ("e.com", FILE, &e)]);
    let limits = ScanLimits {
        max_scan_size: data.len() as u64 + 1000,
        ..ScanLimits::default()
    };
    let (seen, summary) = scan(&data, limits);
    assert_eq!(infected(&seen), Vec::<&str>::new());
    assert_eq!(summary.exceeded, Some(LimitExceeded::MaxScanSize));
}

/// Hardening: a cut archive, a bad header and an over-long name end the walk without error;
/// members before them are still scanned.
#[test]
fn cut_or_corrupt_cpio_ends_the_walk_quietly() {
    let e = eicar();
    for fmt in ALL {
        let full = archive(fmt, &[("e.com", FILE, &e), ("b", FILE, b"bbbb")]);
        for cut in [full.len() - 3, full.len() / 2] {
            let (seen, _) = scan(&full[..cut], ScanLimits::default());
            assert_eq!(seen[0].1, Some(ContainerKind::Cpio), "{fmt:?} cut {cut}");
        }
        // garbage where the trailer's header should be
        let mut bad = Vec::new();
        entry(&mut bad, fmt, "e.com", FILE, &e);
        bad.extend_from_slice(&[b'z'; 400]);
        let (seen, _) = scan(&bad, ScanLimits::default());
        assert_eq!(infected(&seen), vec!["e.com"], "{fmt:?}");
    }
    let long = "n".repeat(5000);
    let data = archive(Fmt::Newc, &[(&long, FILE, b"x"), ("e.com", FILE, &e)]);
    let (seen, _) = scan(&data, ScanLimits::default());
    assert_eq!(
        names(&seen),
        vec![""],
        "a name over 4096 bytes ends the archive"
    );
}
