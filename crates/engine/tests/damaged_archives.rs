//! Damaged zip and tar archives read as clamd 1.4.6 reads them (`unzip.rs`, `untar.rs`), and
//! never a panic or an unbounded walk on any damage (CLAMD-DET-7).

mod common;

use common::scan_as;
use fixtures::legacy_archives::zip_implode_of;
use fixtures::{tar_of, zip_of};
use proptest::prelude::*;
use scan_engine::{eicar, ScanLimits, MARKER_BYTES};

fn infected(seen: &common::Seen) -> Vec<&str> {
    seen.iter().filter(|p| p.2).map(|p| p.0.as_str()).collect()
}

/// CLAMD-DET-7: clamd takes an end record whatever its comment length says (the content
/// fuzzer's `zip_eocd_comment_length`), and the method of a directory entry is not used (the
/// local header's is): the deflated member is still scanned.
#[test]
fn zip_with_a_damaged_end_record_or_directory_method_is_read() {
    let z = zip_of(&[("m.bin", MARKER_BYTES)], true);
    let mut comment = z.clone();
    let n = comment.len();
    comment[n - 2] = 1;
    assert_eq!(
        infected(&scan_as(b"z", &comment, ScanLimits::default()).0),
        ["m.bin"]
    );
    let mut method = z.clone();
    let dir = memchr_central(&method);
    method[dir + 10] = 0x63;
    assert_eq!(
        infected(&scan_as(b"z", &method, ScanLimits::default()).0),
        ["m.bin"]
    );
}

/// CLAMD-DET-7: without an end record clamd unpacks nothing (the local headers are walked
/// only after a directory that gave few members).
#[test]
fn zip_without_an_end_record_is_not_unpacked() {
    let z = zip_of(&[("m.bin", MARKER_BYTES)], true);
    let cut = &z[..z.len() - 22];
    assert!(infected(&scan_as(b"z", cut, ScanLimits::default()).0).is_empty());
}

/// CLAMD-DET-7: a deflated member whose data is damaged is not scanned at all; one cut short
/// by a smaller compressed size is scanned as far as it inflates.
#[test]
fn zip_deflate_error_scans_nothing_of_the_member() {
    let payload = [MARKER_BYTES, &[b'A'; 4000][..]].concat();
    let z = zip_of(&[("m.bin", &payload)], true);
    let data = 30 + "m.bin".len();
    let mut bad = z.clone();
    // a reserved block type (3) in the first block header
    bad[data] |= 0b110;
    assert!(infected(&scan_as(b"z", &bad, ScanLimits::default()).0).is_empty());
}

/// CLAMD-DET-7: tar (`cli_untar`): a header whose checksum fails is skipped and the next
/// block tried, so the second member is still found (the content fuzzer's
/// `tar_first_of_two_headers_bad`).
#[test]
fn tar_header_with_a_bad_checksum_is_skipped() {
    let mut t = tar_of(&[("a.txt", b"clean"), ("e.com", &eicar())]);
    t[0] ^= 1;
    assert_eq!(
        infected(&scan_as(b"t", &t, ScanLimits::default()).0),
        ["e.com"]
    );
}

fn memchr_central(z: &[u8]) -> usize {
    z.windows(4)
        .position(|w| w == b"PK\x01\x02")
        .expect("a directory entry")
}

/// One damage: flip, cut, insert or overwrite a 4-byte field.
#[derive(Debug, Clone)]
enum Damage {
    Flip(usize, u8),
    Cut(usize),
    Insert(usize, Vec<u8>),
    Field(usize, u32),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), 1u8..).prop_map(|(i, x)| Damage::Flip(i, x)),
        any::<usize>().prop_map(Damage::Cut),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..40)
        )
            .prop_map(|(i, b)| Damage::Insert(i, b)),
        (any::<usize>(), any::<u32>()).prop_map(|(i, v)| Damage::Field(i, v)),
    ]
}

fn apply(data: &mut Vec<u8>, d: &Damage) {
    let len = data.len();
    if len == 0 {
        return;
    }
    match d {
        Damage::Flip(i, x) => data[i % len] ^= x,
        Damage::Cut(i) => data.truncate(i % len),
        Damage::Insert(i, b) => {
            let at = i % len;
            data.splice(at..at, b.iter().copied());
        }
        Damage::Field(i, v) => {
            let at = i % len;
            let end = (at + 4).min(len);
            data[at..end].copy_from_slice(&v.to_le_bytes()[..end - at]);
        }
    }
}

fn archive(kind: u8, payload: &[u8]) -> Vec<u8> {
    let members = [("a.txt", &b"clean text"[..]), ("p.bin", payload)];
    match kind % 4 {
        0 => zip_of(&members, false),
        1 => zip_of(&members, true),
        2 => zip_implode_of("p.bin", payload),
        _ => tar_of(&members),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// CLAMD-DET-7: any damage to a zip (stored, deflate, implode) or tar, twice nested or
    /// not, under clamd's limits: the walk ends without a panic, reports a bounded number of
    /// parts and scans at most MaxFiles members.
    #[test]
    fn damaged_zip_and_tar_never_panic_and_stay_bounded(
        kind in any::<u8>(),
        nest in any::<bool>(),
        damages in proptest::collection::vec(damage(), 1..4),
    ) {
        let mut data = archive(kind, &eicar());
        for d in &damages {
            apply(&mut data, d);
        }
        if nest {
            data = zip_of(&[("inner", &data[..]), ("inner2", &data[..])], true);
        }
        let limits = ScanLimits {
            max_file_size: 8192,
            max_scan_size: 1 << 20,
            max_files: 12,
            max_recursion: 4,
        };
        let (seen, summary) = scan_as(b"x", &data, limits);
        prop_assert!(summary.parts <= 1 + 12, "{} parts", summary.parts);
        prop_assert_eq!(seen.len() as u64, summary.parts);
    }
}
