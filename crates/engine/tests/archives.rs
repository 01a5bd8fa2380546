//! Archive expansion: tar, gzip, zip (stored, deflate), nesting, limits, member names.

mod common;

use fixtures::{gzip_of, tar_of, zip_of};

use std::ops::ControlFlow;
use std::sync::Arc;

use scan_engine::{
    eicar, scan_reader, BuiltinOptions, ContainerKind, EicarMode, Formats, SignatureDb,
    TreeOptions, TreeScanner,
};

fn db() -> Arc<SignatureDb> {
    Arc::new(SignatureDb::builtin(&BuiltinOptions::default()))
}

/// (chain joined by " -> ", depth, opened, detection names) for each part.
type Seen = Vec<(String, u32, Option<ContainerKind>, Vec<String>)>;

fn walk(opts: TreeOptions, root: &[u8], data: &[u8]) -> (Seen, scan_engine::TreeSummary) {
    let mut seen = Seen::new();
    let summary = scan_reader(db(), opts, root, data, &mut |p| {
        let chain: Vec<String> = p
            .chain
            .iter()
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        seen.push((
            chain.join(" -> "),
            p.depth,
            p.opened,
            p.result.detections.iter().map(|d| d.name.clone()).collect(),
        ));
        ControlFlow::Continue(())
    })
    .unwrap();
    (seen, summary)
}

fn infected_parts(seen: &Seen) -> Vec<&str> {
    seen.iter()
        .filter(|s| !s.3.is_empty())
        .map(|s| s.0.as_str())
        .collect()
}

#[test]
fn zip_stored_and_deflated_members_are_scanned() {
    for deflate in [false, true] {
        let z = zip_of(
            &[("clean.txt", b"hello"), ("dir/eicar.com", &eicar())],
            deflate,
        );
        let (seen, summary) = walk(TreeOptions::default(), b"a.zip", &z);
        assert_eq!(seen[0].0, "", "root first");
        assert_eq!(seen[0].2, Some(ContainerKind::Zip));
        assert_eq!(infected_parts(&seen), vec!["dir/eicar.com"]);
        assert_eq!(summary.parts, 3);
        assert!(summary.root.is_clean(), "the zip's own bytes are clean");
    }
}

#[test]
fn tar_and_gzip_members_with_names() {
    let t = tar_of(&[("a.txt", b"aaa"), ("sub/e.com", &eicar())]);
    let (seen, _) = walk(TreeOptions::default(), b"x.tar", &t);
    assert_eq!(seen[0].2, Some(ContainerKind::Tar));
    assert_eq!(infected_parts(&seen), vec!["sub/e.com"]);

    let g = gzip_of(Some("inner.com"), &eicar());
    let (seen, _) = walk(TreeOptions::default(), b"/p/x.gz", &g);
    assert_eq!(infected_parts(&seen), vec!["inner.com"]);
    let g = gzip_of(None, &eicar());
    let (seen, _) = walk(TreeOptions::default(), b"/p/x.com.gz", &g);
    assert_eq!(
        infected_parts(&seen),
        vec!["x.com"],
        "SVSP-NAME-6 derived name"
    );
}

#[test]
fn nested_tar_gz_in_zip_and_depth_limit() {
    let inner_tgz = gzip_of(None, &tar_of(&[("deep/e.com", &eicar())]));
    let z = zip_of(&[("pkg.tgz", &inner_tgz)], true);
    let (seen, _) = walk(TreeOptions::default(), b"outer.zip", &z);
    assert_eq!(
        infected_parts(&seen),
        vec!["pkg.tgz -> pkg.tar -> deep/e.com"]
    );
    let depths: Vec<u32> = seen.iter().map(|s| s.1).collect();
    assert_eq!(depths, vec![0, 1, 2, 3]);

    // Depth limit 2: the gzip at depth 1 opens, the tar at depth 2 does not.
    let opts = TreeOptions {
        max_depth: Some(2),
        ..Default::default()
    };
    let (seen, _) = walk(opts, b"outer.zip", &z);
    assert!(infected_parts(&seen).is_empty());
    assert_eq!(seen.last().unwrap().2, None, "tar at depth 2 stays closed");

    // Depth 0: nothing is opened at all.
    let opts = TreeOptions {
        max_depth: Some(0),
        ..Default::default()
    };
    let (seen, _) = walk(opts, b"outer.zip", &z);
    assert_eq!(seen.len(), 1);
}

#[test]
fn disabled_formats_are_scanned_raw() {
    let z = zip_of(&[("e.com", &eicar())], false);
    let opts = TreeOptions {
        formats: Formats {
            zip: false,
            ..Formats::all()
        },
        ..Default::default()
    };
    let (seen, _) = walk(opts, b"a.zip", &z);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].2, None);
}

#[test]
fn corrupt_archive_is_a_plain_file() {
    let mut z = zip_of(&[("e.com", &eicar())], true);
    let len = z.len();
    z.truncate(len - 30); // cut the central directory
    let (seen, _) = walk(TreeOptions::default(), b"bad.zip", &z);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].2, None);
}

#[test]
fn visitor_break_stops_the_walk() {
    let z = zip_of(&[("1.com", &eicar()), ("2.com", &eicar())], false);
    let mut parts = 0;
    scan_reader(db(), TreeOptions::default(), b"z", &z[..], &mut |p| {
        parts += 1;
        if p.result.is_clean() {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    })
    .unwrap();
    assert_eq!(parts, 2, "root, then the first infected member");
}

#[test]
fn zip_bomb_stops_at_the_expansion_limit() {
    // 64 MiB of zeros deflate to ~64 KiB; the limit is 1 MiB.
    let zeros = vec![0u8; 64 << 20];
    let z = zip_of(&[("zeros.bin", &zeros), ("e.com", &eicar())], true);
    drop(zeros);
    let opts = TreeOptions {
        max_expanded_bytes: 1 << 20,
        ..Default::default()
    };
    let (seen, summary) = walk(opts, b"bomb.zip", &z);
    assert!(summary.truncated);
    assert_eq!(seen.len(), 1, "only the root is reported");
}

#[test]
fn member_limit_truncates() {
    let members: Vec<(String, Vec<u8>)> = (0..20).map(|i| (format!("f{i}"), vec![b'x'])).collect();
    let refs: Vec<(&str, &[u8])> = members
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let z = zip_of(&refs, false);
    let opts = TreeOptions {
        max_members: 5,
        ..Default::default()
    };
    let (seen, summary) = walk(opts, b"many.zip", &z);
    assert!(summary.truncated);
    assert_eq!(seen.len(), 6);
}

#[test]
fn large_container_spills_to_disk_and_still_works() {
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let z = zip_of(&[("big.bin", &big), ("e.com", &eicar())], false);
    let opts = TreeOptions {
        spill_threshold: 64 * 1024,
        ..Default::default()
    };
    let (seen, _) = walk(opts, b"big.zip", &z);
    assert_eq!(infected_parts(&seen), vec!["e.com"]);
}

#[test]
fn tree_scanner_chunking_does_not_change_the_parts() {
    let z = zip_of(&[("a", b"x"), ("e.com", &eicar())], true);
    let (expected, _) = walk(TreeOptions::default(), b"z", &z);
    for chunk in [1usize, 7, 511, 512, 513, 4096] {
        let mut t = TreeScanner::new(db(), TreeOptions::default(), b"z");
        for c in z.chunks(chunk) {
            t.update(c).unwrap();
        }
        let mut seen = Vec::new();
        t.finish(&mut |p| {
            seen.push((p.chain.to_vec(), p.result.detections.len()));
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(seen.len(), expected.len(), "chunk {chunk}");
        assert_eq!(seen[2].1, 1, "chunk {chunk}");
    }
}

#[test]
fn anywhere_mode_finds_eicar_inside_members_with_offsets() {
    let db = Arc::new(SignatureDb::builtin(&BuiltinOptions {
        eicar_name: "CVDL DOS/EICAR.Test".into(),
        eicar_mode: EicarMode::Anywhere,
        marker: false,
    }));
    let mut data = b"12345".to_vec();
    data.extend(eicar());
    let t = tar_of(&[("m", &data)]);
    let mut ends = Vec::new();
    scan_reader(db, TreeOptions::default(), b"t.tar", &t[..], &mut |p| {
        for d in &p.result.detections {
            ends.push((d.name.clone(), d.end_offset));
        }
        ControlFlow::Continue(())
    })
    .unwrap();
    // The tar's own bytes hold the member uncompressed (after a 512-byte header), then the member.
    let name = "CVDL DOS/EICAR.Test".to_string();
    assert_eq!(ends, vec![(name.clone(), Some(512 + 73)), (name, Some(73))]);
}
