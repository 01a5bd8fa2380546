//! The short, always-on versions of the fuzz targets (issue 9): proptest over random and
//! structured inputs (a few seconds in all), every seed in `fuzz/seeds/` and every saved
//! crash input in `regressions/<target>/`.

use std::path::{Path, PathBuf};

use hostile_tests::{by_name, targets, TARGETS};
use proptest::prelude::*;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    out.retain(|p| p.is_file());
    out.sort();
    out
}

/// Every seed of `fuzz/seeds/<target>` runs clean (and each target has seeds).
#[test]
fn fuzz_seeds_run_clean() {
    for t in TARGETS {
        let seeds = files_under(&repo_root().join("fuzz/seeds").join(t.name));
        assert!(!seeds.is_empty(), "no seeds for {}", t.name);
        for s in seeds {
            let data = std::fs::read(&s).expect("read seed");
            (t.run)(&data);
        }
    }
}

/// The `legacy` seeds (one container of each format, holding a clean payload, behind the
/// selector byte) as the fixture builders make them.
fn legacy_seeds() -> Vec<(&'static str, Vec<u8>)> {
    use fixtures::legacy_archives as la;
    let mut payload = b"seed payload for the legacy container walk ".repeat(6);
    payload.extend((0u8..=255).collect::<Vec<u8>>());
    let resource = b"resource fork of the seed".repeat(3);
    let files = [
        ("binhex", la::binhex_forks("seed.bin", &payload, &resource)),
        ("szdd", la::szdd_of(&payload)),
        ("tnef", la::tnef_of("seed.bin", &payload)),
        ("cab-stored", la::cab_stored_of("seed.bin", &payload)),
        ("cab-mszip", la::cab_mszip_of("seed.bin", &payload)),
        ("sis", la::sis_of(&payload)),
        ("arj-stored", la::arj_stored_of("seed.bin", &payload)),
        ("zip-implode", la::zip_implode_of("seed.bin", &payload)),
        ("chm-stored", la::chm_stored_of("/seed.bin", &payload)),
        ("chm-lzx", la::chm_lzx_of("/seed.bin", &payload)),
    ];
    files
        .into_iter()
        .map(|(n, f)| {
            let mut seed = vec![1u8];
            seed.extend_from_slice(&f);
            (n, seed)
        })
        .collect()
}

/// Seeds made once by the `arj` tool (methods 1 and 4, the same payload), which no builder
/// here can make: they are only checked to open.
const LEGACY_TOOL_SEEDS: &[&str] = &["arj-m1", "arj-m4"];

/// CLAMD-DET-7: `fuzz/seeds/legacy` holds one seed per format of the `legacy` target (the
/// builder-made ones equal to what the fixture builders make; `AVC_WRITE_SEEDS=1` rewrites
/// them), and each seed expands to at least one member (so the fuzzer starts inside every
/// parser).
#[test]
fn legacy_seeds_cover_every_format() {
    let dir = repo_root().join("fuzz/seeds/legacy");
    let write = std::env::var("AVC_WRITE_SEEDS").as_deref() == Ok("1");
    let mut all = Vec::new();
    for (name, seed) in legacy_seeds() {
        let path = dir.join(name);
        if write {
            std::fs::create_dir_all(&dir).expect("mkdir seeds");
            std::fs::write(&path, &seed).expect("write seed");
        }
        let stored = std::fs::read(&path).unwrap_or_default();
        assert_eq!(
            stored,
            seed,
            "{}: regenerate with AVC_WRITE_SEEDS=1",
            path.display()
        );
        all.push((name, seed));
    }
    for name in LEGACY_TOOL_SEEDS {
        let seed = std::fs::read(dir.join(name)).expect("tool-made seed");
        all.push((name, seed));
    }
    for (name, seed) in all {
        let db = std::sync::Arc::new(scan_engine::SignatureDb::builtin(&Default::default()));
        let mut parts = 0;
        scan_engine::scan_reader(db, Default::default(), b"seed", &seed[1..], &mut |_| {
            parts += 1;
            std::ops::ControlFlow::Continue(())
        })
        .expect("scan");
        assert!(parts >= 2, "{name}: the seed opens no member");
    }
}

/// Crash inputs found by fuzzing, kept as regression tests: `regressions/<target>/<file>`.
#[test]
fn fuzz_regressions_run_clean() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    for sub in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let name = sub.file_name().to_string_lossy().into_owned();
        let t = by_name(&name).unwrap_or_else(|| panic!("regressions/{name}: unknown target"));
        for f in files_under(&sub.path()) {
            let data = std::fs::read(&f).expect("read regression input");
            (t.run)(&data);
        }
    }
}

/// `fuzz/Cargo.toml`, `fuzz/fuzz_targets/` and `cargo xtask fuzz --list` know every target.
#[test]
fn fuzz_manifest_and_xtask_list_every_target() {
    let root = repo_root();
    let manifest = std::fs::read_to_string(root.join("fuzz/Cargo.toml")).expect("fuzz/Cargo.toml");
    let xtask = std::fs::read_to_string(root.join("xtask/src/fuzz.rs")).expect("xtask/src/fuzz.rs");
    for t in TARGETS {
        assert!(
            manifest.contains(&format!("name = \"{}\"", t.name)),
            "{} not in fuzz/Cargo.toml",
            t.name
        );
        assert!(root
            .join(format!("fuzz/fuzz_targets/{}.rs", t.name))
            .is_file());
        assert!(
            xtask.contains(&format!("\"{}\"", t.name)),
            "{} not in xtask fuzz list",
            t.name
        );
    }
}

/// One of `tokens`, or (as often as any one of them) up to `max_random` arbitrary bytes.
fn token_or_bytes(
    tokens: &'static [&'static [u8]],
    max_random: usize,
) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        tokens.len() as u32 => prop::sample::select(tokens).prop_map(<[u8]>::to_vec),
        1 => prop::collection::vec(any::<u8>(), 0..max_random),
    ]
}

/// A selector byte, then up to `max` tokens back to back.
fn stream_of(token: impl Strategy<Value = Vec<u8>>, max: usize) -> impl Strategy<Value = Vec<u8>> {
    (any::<u8>(), prop::collection::vec(token, 0..max)).prop_map(|(sel, toks)| {
        let mut v = vec![sel];
        v.extend(toks.concat());
        v
    })
}

/// Tokens that make random clamd command streams interesting.
const CLAMD_TOKENS: &[&[u8]] = &[
    b"zPING\0",
    b"nPING\n",
    b"PING\n",
    b"zIDSESSION\0",
    b"zEND\0",
    b"zINSTREAM\0",
    b"nFILDES\n",
    b"zSCAN /tmp/x\0",
    b"nCONTSCAN  /a\n",
    b"zVERSIONCOMMANDS\0",
    &[b'z'; 300],
    b"\0\n\r",
];

fn token_stream() -> impl Strategy<Value = Vec<u8>> {
    stream_of(token_or_bytes(CLAMD_TOKENS, 64), 40)
}

const SVSP_TOKENS: &[&[u8]] = &[
    b"SCAN/FILE /x",
    b"SCAN/FILE-SHA1 \"a b\"",
    b"SCAN/REQUEST",
    b"SCAN/PORT 65535",
    b"SCAN/DATA 10",
    b"ENABLE",
    b"DISABLE",
    b"EXPAND",
    b"IGNORE",
    b"ZIP",
    b"QUIT",
    b"123",
    b"00000000001",
    b" ",
    b"\t",
    b"\"",
    b" -> ",
    b"\r\n",
    b"\n",
];

fn svsp_stream() -> impl Strategy<Value = Vec<u8>> {
    // the upper-case words weigh as much as one listed token
    let token = prop_oneof![
        SVSP_TOKENS.len() as u32 + 1 => token_or_bytes(SVSP_TOKENS, 16),
        1 => "[A-Z]{1,8}".prop_map(String::into_bytes),
    ];
    stream_of(token, 30)
}

const RESPONSE_TOKENS: &[&[u8]] = &[
    b"READY",
    b"DENIED",
    b"OK",
    b"QUEUED",
    b"SEND 1234",
    b"SCANNING",
    b"CLEAN",
    b"INFECTED",
    b"DONE",
    b"ENOENT",
    b"EINVAL",
    b" : ",
    b"\"x\"",
    b"\"a\\\"b\"",
    b" -> ",
    b"da39a3ee5e6b4b0d3255bfef95601890afd80709",
    b"7",
    b" ",
    b"\r\n",
];

fn response_token() -> impl Strategy<Value = Vec<u8>> {
    token_or_bytes(RESPONSE_TOKENS, 12)
}

fn ndb_line() -> impl Strategy<Value = String> {
    let hex = "([0-9a-f]{2}){1,6}";
    let part = prop_oneof![
        hex.prop_map(|s| s),
        Just("??".to_string()),
        Just("*".to_string()),
        Just("{1-3}".to_string()),
        Just("{-2}".to_string()),
        Just("(41|42)".to_string()),
        Just("a?".to_string()),
        "[ -~]{0,4}".prop_map(|s| s),
    ];
    (
        prop_oneof![Just("*"), Just("0"), Just("EOF-4"), Just("3,5"), Just("x")],
        prop::collection::vec(part, 1..6),
    )
        .prop_map(|(off, parts)| format!("T.Sig:0:{off}:{}", parts.concat()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, .. ProptestConfig::default() })]

    #[test]
    fn prop_clamd_command_random(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        targets::clamd_command(&data);
    }

    #[test]
    fn prop_clamd_command_tokens(data in token_stream()) {
        targets::clamd_command(&data);
    }

    #[test]
    fn prop_clamd_instream(quota in 0u16..512, seed in any::<u8>(),
                           chunks in prop::collection::vec((0u32..300, any::<u8>()), 0..12),
                           tail in prop::collection::vec(any::<u8>(), 0..8)) {
        let mut data = quota.to_be_bytes().to_vec();
        data.push(seed);
        for (len, fill) in chunks {
            data.extend_from_slice(&len.to_be_bytes());
            data.extend(std::iter::repeat_n(fill, len as usize));
        }
        data.extend_from_slice(&tail);
        targets::clamd_instream(&data);
    }

    #[test]
    fn prop_clamd_conf(lines in prop::collection::vec(
        ("[A-Za-z#\" ]{0,24}", "[ \t]{0,2}", "[0-9A-Za-z\"/ .^$*]{0,12}"), 0..12)) {
        let mut text = String::new();
        for (name, ws, value) in lines {
            text.push_str(&format!("{name}{ws}{value}\n"));
        }
        targets::clamd_conf(text.as_bytes());
    }

    #[test]
    fn prop_clamd_conf_known_names(names in prop::collection::vec(prop_oneof![
            Just("TCPSocket"), Just("StreamMaxLength"), Just("MaxQueue"), Just("LocalSocketMode"),
            Just("ExcludePath"), Just("MaxThreads"), Just("CommandReadTimeout"), Just("LogFile")], 1..6),
        values in prop::collection::vec("[0-9]{0,12}[kKmMgG]?|\"[^\"\n]{0,8}\"?|[(\\[*+?]{1,3}", 6)) {
        let text: String = names.iter().zip(values.iter())
            .map(|(n, v)| format!("{n} {v}\n")).collect();
        targets::clamd_conf(text.as_bytes());
    }

    #[test]
    fn prop_svsp_line(data in svsp_stream()) {
        targets::svsp_line(&data);
    }

    #[test]
    fn prop_svsp_response(toks in prop::collection::vec(response_token(), 0..12)) {
        targets::svsp_response(&toks.concat());
    }

    #[test]
    fn prop_sigdb_ndb(lines in prop::collection::vec(ndb_line(), 1..4),
                      payload in prop::collection::vec(prop_oneof![Just(b'A'), Just(b'B'), any::<u8>()], 0..256),
                      seed in any::<u8>()) {
        let mut data = vec![2u8.wrapping_add(seed.wrapping_mul(3))];
        data.extend_from_slice(lines.join("\n").as_bytes());
        data.push(0xFF);
        data.extend_from_slice(&payload);
        targets::sigdb(&data);
    }

    #[test]
    fn prop_sigdb_hash(kind in 0u8..2, digest in "[0-9a-fA-F]{0,64}", size in "[0-9*]{0,4}",
                       payload in prop::collection::vec(any::<u8>(), 0..64)) {
        let mut data = vec![kind];
        data.extend_from_slice(format!("{digest}:{size}:T.Hash").as_bytes());
        data.push(0xFF);
        data.extend_from_slice(&payload);
        targets::sigdb(&data);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, .. ProptestConfig::default() })]

    #[test]
    fn prop_archive_mutated_seeds(which in 0usize..4, flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
                                  cut in any::<prop::sample::Index>(), do_cut in any::<bool>()) {
        let seeds = files_under(&repo_root().join("fuzz/seeds/archive"));
        prop_assume!(!seeds.is_empty());
        let mut data = std::fs::read(&seeds[which % seeds.len()]).expect("seed");
        for (i, b) in flips {
            let i = i.index(data.len());
            data[i] ^= b;
        }
        if do_cut {
            data.truncate(cut.index(data.len() + 1));
        }
        targets::archive(&data);
    }
}
