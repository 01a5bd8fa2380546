//! Content differential fuzzer (CLAMD-DET-7, CLAMD-CONF-3): generated scan inputs (the
//! fixtures' containers and documents nested up to three deep, with truncations, flips,
//! insertions, deletions, changed size fields and duplicated ranges; sizes around a lowered
//! `MaxFileSize`) sent by INSTREAM to the real clamd 1.4.6 and to the fake, both started from
//! the same clamd.conf and tiny DB ([`clamd_oracle::content_fuzz::LIMITS_CONF`]); the reply
//! bytes must be identical. One real clamd and one fake serve every input.
//!
//! Seed: `PROPTEST_RNG_SEED` if set; a fixed seed in CI (`CI` or `AVC_REQUIRE_CLAMD=1`); else
//! a fresh one (printed). `CONTENT_FUZZ_INPUTS` (default 2000, a few seconds) sets the count,
//! `CONTENT_FUZZ_MAX_DIVERGENCES` (default 5) how many are shrunk and shown; `CONTENT_FUZZ_ALL=1` also generates the shapes of the documented mismatches. Prints SKIP
//! when clamd is not installed (fails with AVC_REQUIRE_CLAMD=1).

mod common;

use clamd_oracle::content_fuzz::{
    known_mismatch, ContentInput, ContentPair, Layer, Mutation, Payload, Wrap, LIMITS_CONF,
};
use clamd_oracle::OracleEnv;

const FIXED_SEED: u64 = 7;

/// CLAMD-DET-7, CLAMD-CONF-3: on generated and mutated containers and documents the fake's
/// INSTREAM reply bytes equal clamd 1.4.6's.
#[test]
fn content_fuzz_fake_replies_equal_real_clamd_on_generated_inputs() {
    if !common::real_clamd_or_skip() {
        return;
    }
    let n: usize = clamd_oracle::explore::count_from_env("CONTENT_FUZZ_INPUTS", 2000);
    let all = std::env::var("CONTENT_FUZZ_ALL").as_deref() == Ok("1");
    let seed = clamd_oracle::explore::seed(FIXED_SEED);
    let env = OracleEnv::create().expect("oracle env");
    let (_servers, pair) = start(&env);
    let max: usize = clamd_oracle::explore::count_from_env("CONTENT_FUZZ_MAX_DIVERGENCES", 5);
    let rep = pair.explore(seed, n, !all, max);
    println!("content fuzz seed {seed}: {}", rep.summary());
    for (i, d) in rep.divergences.iter().enumerate() {
        println!(
            "DIVERGENCE {i}: clamd {:?}, fake {:?}\n  {}",
            String::from_utf8_lossy(&d.reference),
            String::from_utf8_lossy(&d.candidate),
            d.input.shown(4096)
        );
    }
    assert_eq!(rep.inputs, n, "{}", rep.summary());
    assert!(
        rep.reference_found * 4 >= n,
        "too few inputs clamd finds something in: {}",
        rep.summary()
    );
    assert!(
        rep.divergences.is_empty(),
        "seed {seed}: {} shrunk diverging inputs (above): fix the fake or document them",
        rep.divergences.len()
    );
}

/// The real clamd and the fake from [`LIMITS_CONF`], as the fuzzer's pair.
fn start(env: &OracleEnv) -> (common::Pair, ContentPair) {
    let conf: Vec<String> = LIMITS_CONF.iter().map(|l| l.to_string()).collect();
    let servers = common::Pair::start(env, "content", &conf);
    let pair = ContentPair {
        reference: servers.real.clone(),
        candidate: servers.fake.clone(),
    };
    (servers, pair)
}

/// One layer of `wrap` with `mutations`.
fn layer(wrap: Wrap, mutations: Vec<Mutation>) -> Layer {
    Layer {
        wrap,
        siblings: 0,
        duplicate: false,
        mutations,
    }
}

fn input(payload: Payload, layers: Vec<Layer>) -> ContentInput {
    ContentInput { payload, layers }
}

/// Shrunk inputs the fuzzer found, by name: `None` when the fake now answers as clamd does
/// (a fixed divergence), else the MISMATCHES.md entry that explains why it still differs.
fn named() -> Vec<(&'static str, ContentInput, Option<&'static str>)> {
    use Mutation::*;
    use Wrap::*;
    let marker_8k = Payload::Sized {
        len: 8192,
        marker_at_end: false,
    };
    vec![
        (
            "gzip_cut_in_trailer",
            input(Payload::Eicar, vec![layer(Gzip, vec![Truncate(59518)])]),
            None,
        ),
        (
            "gzip_cut_in_data",
            input(marker_8k.clone(), vec![layer(Gzip, vec![Truncate(47490)])]),
            None,
        ),
        // session 9 (seed 90910): gzip's last output before a cut followed by other bytes
        (
            "gzip_cut_in_pdf_raw_stream",
            input(
                marker_8k.clone(),
                vec![layer(Gzip, vec![Truncate(47490)]), layer(PdfRaw, vec![])],
            ),
            None,
        ),
        // session 9: a zip bomb at MaxRecursion's last level still raises its alert
        (
            "zip_bomb_in_html_data_uri_in_zip",
            input(
                Payload::Clean(86),
                vec![
                    layer(ZipOverlapping, vec![]),
                    layer(HtmlDataUri, vec![]),
                    layer(ZipStored, vec![]),
                ],
            ),
            None,
        ),
        (
            "gzip_in_pdf_raw_stream",
            input(
                Payload::Eicar,
                vec![layer(Gzip, vec![]), layer(PdfRaw, vec![])],
            ),
            None,
        ),
        (
            "gzip_in_mime_quoted_printable",
            input(
                Payload::Eicar,
                vec![layer(Gzip, vec![]), layer(MimeQp, vec![])],
            ),
            None,
        ),
        (
            "gzip_byte_inserted_in_pdf_flate",
            input(
                Payload::Eicar,
                vec![
                    layer(PdfFlate, vec![]),
                    layer(
                        Gzip,
                        vec![Duplicate {
                            from: 0,
                            len: 1,
                            to: 58217,
                        }],
                    ),
                ],
            ),
            None,
        ),
        (
            "bzip2_in_mime_quoted_printable",
            input(
                Payload::Eicar,
                vec![layer(Bzip2, vec![]), layer(MimeQp, vec![])],
            ),
            None,
        ),
        (
            "xz_in_pdf_raw_stream",
            input(
                Payload::Eicar,
                vec![layer(Xz, vec![]), layer(PdfRaw, vec![])],
            ),
            None,
        ),
        (
            "xz_in_mime_quoted_printable",
            input(
                Payload::Eicar,
                vec![layer(Xz, vec![]), layer(MimeQp, vec![])],
            ),
            None,
        ),
        (
            "bzip2_cut_after_first_8k",
            input(
                Payload::Sized {
                    len: 8192,
                    marker_at_end: false,
                },
                vec![layer(Bzip2, vec![Truncate(55238)])],
            ),
            None,
        ),
        (
            "ole2_package_holding_html_data_uri",
            input(
                Payload::Eicar,
                vec![layer(HtmlDataUri, vec![]), layer(Ole2Package, vec![])],
            ),
            Some("ole2-package-nested"),
        ),
        (
            "szdd_over_max_file_size_in_zip",
            input(
                Payload::Sized {
                    len: 8193,
                    marker_at_end: false,
                },
                vec![layer(Szdd, vec![]), layer(ZipDeflate, vec![])],
            ),
            Some("szdd-over-max-file-size-nested"),
        ),
        (
            "uuencoded_mail_in_pdf_in_quoted_printable_mail",
            input(
                Payload::Eicar,
                vec![
                    layer(MimeUu, vec![]),
                    layer(PdfRaw, vec![]),
                    layer(MimeQp, vec![]),
                ],
            ),
            Some("mail-in-pdf-in-mail"),
        ),
        (
            "gzip_cut_holding_chm_holding_zip",
            input(
                Payload::Sized {
                    len: 8190,
                    marker_at_end: false,
                },
                vec![
                    layer(ZipDeflate, vec![]),
                    layer(Chm, vec![]),
                    layer(Gzip, vec![Truncate(57867)]),
                ],
            ),
            None,
        ),
        (
            "zip_eocd_comment_length",
            input(
                Payload::Marker,
                vec![layer(ZipDeflate, vec![Flip(64600, 1)])],
            ),
            None,
        ),
        (
            "cab_mszip_member_near_max_file_size",
            input(
                Payload::Sized {
                    len: 8190,
                    marker_at_end: false,
                },
                vec![layer(CabMszip, vec![])],
            ),
            Some("cab-mszip-near-max-file-size"),
        ),
        (
            "ole2_package_in_one_zip",
            input(
                Payload::Eicar,
                vec![layer(Ole2Package, vec![]), layer(ZipStored, vec![])],
            ),
            None,
        ),
        (
            "ole2_package_in_two_zips",
            input(
                Payload::Eicar,
                vec![
                    layer(Ole2Package, vec![]),
                    layer(ZipStored, vec![]),
                    layer(ZipStored, vec![]),
                ],
            ),
            Some("ole2-package-nested"),
        ),
        (
            "zip_cut_before_its_directory_in_7z",
            input(
                Payload::Eicar,
                vec![
                    layer(ZipStored, vec![Truncate(38077)]),
                    layer(SevenZ, vec![]),
                ],
            ),
            None,
        ),
        (
            "zip_after_a_stray_byte",
            input(
                Payload::Eicar,
                vec![layer(
                    ZipStored,
                    vec![Duplicate {
                        from: 369,
                        len: 1,
                        to: 0,
                    }],
                )],
            ),
            None,
        ),
        (
            "imploded_zip_cut_in_ole2",
            input(
                Payload::Marker,
                vec![
                    layer(ZipImplode, vec![Truncate(31249)]),
                    layer(Ole2, vec![]),
                ],
            ),
            None,
        ),
        (
            "rtf_package_in_7z_in_pdf_raw_stream",
            input(
                Payload::Eicar,
                vec![
                    layer(RtfPackage, vec![]),
                    layer(SevenZ, vec![]),
                    layer(PdfRaw, vec![]),
                ],
            ),
            Some("rtf-package-nested"),
        ),
        (
            "mail_in_arj_cut_by_max_file_size_in_zip",
            input(
                Payload::Sized {
                    len: 8190,
                    marker_at_end: false,
                },
                vec![
                    layer(MimeBase64, vec![]),
                    layer(Arj, vec![]),
                    layer(ZipDeflate, vec![]),
                ],
            ),
            Some("arj-cut-by-max-file-size"),
        ),
        (
            "tar_first_of_two_headers_bad",
            input(
                Payload::Eicar,
                vec![Layer {
                    duplicate: true,
                    ..layer(Tar, vec![Flip(0, 1)])
                }],
            ),
            None,
        ),
    ]
}

/// CLAMD-DET-7, CLAMD-CONF-3: the fuzzer's shrunk inputs: each fixed one gets clamd 1.4.6's
/// INSTREAM reply bytes from the fake; each documented one still differs (and is a shape
/// [`known_mismatch`] excludes), so the list only shrinks as the fake catches up.
#[test]
fn content_fuzz_named_inputs_fixed_equal_and_documented_still_differ() {
    if !common::real_clamd_or_skip() {
        return;
    }
    let env = OracleEnv::create().expect("oracle env");
    let (_servers, pair) = start(&env);
    let mut failures = Vec::new();
    for (name, input, known) in named() {
        let (real, fake) = pair.check_one(&input);
        let (real, fake) = (real.unwrap_or_default(), fake.unwrap_or_default());
        println!(
            "{name}: clamd {:?}, fake {:?}",
            String::from_utf8_lossy(&real),
            String::from_utf8_lossy(&fake)
        );
        assert!(!real.is_empty(), "{name}: clamd gave no reply");
        if known.is_some() {
            assert_eq!(
                known_mismatch(&input),
                known,
                "{name}: the run's exclusion must name the same mismatch"
            );
        }
        match (real == fake, known) {
            (true, None) | (false, Some(_)) => {}
            (false, None) => failures.push(format!("{name}: fake differs from clamd")),
            (true, Some(m)) => failures.push(format!(
                "{name}: fake now equals clamd: remove {m} from MISMATCHES.md and known_mismatch"
            )),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
