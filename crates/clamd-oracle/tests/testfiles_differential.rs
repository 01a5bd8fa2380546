//! Content differential (CLAMD-DET-7, CLAMD-DET-4, CLAMD-SCAN-10, CLAMD-INSTREAM-*): with a
//! one-line hash signature of ClamAV's `clam.exe` (its MD5, computed here), the fake's reply
//! bytes must equal the real clamd 1.4.6's, over SCAN and INSTREAM, for every file of Debian's
//! `clamav-testfiles` (`clam.exe` wrapped in ~45 forms) except those on the allow-list below,
//! and for generated mail/compressed inputs holding EICAR (decoded at run time).
//!
//! Skips visibly when clamd or the test files are absent; fails then with AVC_REQUIRE_CLAMD=1.

mod common;

use common::Pair as Servers;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use clamd_oracle::{OracleEnv, RealClamd, Target};
use fixtures::documents::{mime_message, multipart_body};
use fixtures::pipe_through;

const TESTFILES: &str = "/usr/share/clamav-testfiles";
const SIG_NAME: &str = "Clam.Exe.Testfile-1";
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// Files the fake does not unpack yet, with the reason. A file listed here must still differ
/// (clamd finds it, the fake does not): once a format lands, the test fails until the file
/// is removed from this list, so the list only shrinks.
const NOT_YET: &[(&str, &str)] = &[
    ("clam-aspack.exe", "PE unpacker (ASPack)"),
    ("clam-fsg.exe", "PE unpacker (FSG)"),
    ("clam-mew.exe", "PE unpacker (MEW)"),
    ("clam-nsis.exe", "NSIS installer"),
    ("clam-pespin.exe", "PE unpacker (PESpin)"),
    ("clam-petite.exe", "PE unpacker (Petite)"),
    ("clam-upack.exe", "PE unpacker (Upack)"),
    ("clam-upx.exe", "PE unpacker (UPX)"),
    ("clam-wwpack.exe", "PE unpacker (WWPack)"),
    ("clam-yc.exe", "PE unpacker (yC)"),
    ("clam.ea05.exe", "AutoIt script (EA05) not unpacked"),
    ("clam.ea06.exe", "AutoIt script (EA06) not unpacked"),
    ("clam_IScab_ext.exe", "InstallShield CAB not unpacked"),
    ("clam_IScab_int.exe", "InstallShield CAB not unpacked"),
    ("clam_ISmsi_ext.exe", "InstallShield MSI not unpacked"),
    ("clam_ISmsi_int.exe", "InstallShield MSI not unpacked"),
];

fn skip_or_fail(why: &str) {
    assert!(
        std::env::var("AVC_REQUIRE_CLAMD").as_deref() != Ok("1"),
        "AVC_REQUIRE_CLAMD=1 but {why}"
    );
    println!("SKIP: {why}");
}

/// What `md5sum` says about `path` (lower-case hex).
fn md5_hex(path: &Path) -> String {
    let out = Command::new("md5sum")
        .arg(path)
        .output()
        .expect("md5sum runs");
    assert!(out.status.success(), "md5sum {}", path.display());
    let text = String::from_utf8_lossy(&out.stdout);
    let hex = text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    assert_eq!(hex.len(), 32, "md5sum output {text:?}");
    hex
}

/// One clamd conversation: send `request`, read the reply to EOF (bounded).
fn converse(target: &Target, request: &[u8]) -> Vec<u8> {
    clamd_oracle::runner::converse(target, request, 1 << 20, IO_TIMEOUT).expect("connect")
}

fn scan_request(path: &Path) -> Vec<u8> {
    let mut r = b"zSCAN ".to_vec();
    r.extend_from_slice(path.as_os_str().as_encoded_bytes());
    r.push(0);
    r
}

/// zINSTREAM in chunks of 1000 bytes, then the zero terminator.
fn instream_request(data: &[u8]) -> Vec<u8> {
    let mut r = b"zINSTREAM\0".to_vec();
    for chunk in data.chunks(1000) {
        r.extend_from_slice(&(chunk.len() as u32).to_be_bytes());
        r.extend_from_slice(chunk);
    }
    r.extend_from_slice(&[0, 0, 0, 0]);
    r
}

/// (SCAN reply, INSTREAM reply) from one server.
fn both(target: &Target, path: &Path, data: &[u8]) -> (Vec<u8>, Vec<u8>) {
    (
        converse(target, &scan_request(path)),
        converse(target, &instream_request(data)),
    )
}

fn shown(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The real clamd and the fake, both with the oracle DB plus the clam.exe hash signature.
fn start(env: &OracleEnv, clam_exe: &Path) -> Servers {
    start_with(env, clam_exe, &[])
}

/// [`start`] with extra clamd.conf lines for both servers.
fn start_with(env: &OracleEnv, clam_exe: &Path, conf: &[String]) -> Servers {
    let size = std::fs::metadata(clam_exe).expect("clam.exe").len();
    let hdb = format!("{}:{size}:{SIG_NAME}\n", md5_hex(clam_exe));
    std::fs::write(env.db_dir.join("clamexe.hdb"), hdb).expect("write hdb");
    Servers::start(env, "testfiles", conf)
}

fn available() -> bool {
    if !RealClamd::available() {
        skip_or_fail(&format!(
            "real clamd not installed at {}",
            RealClamd::bin().display()
        ));
        return false;
    }
    if !Path::new(TESTFILES).join("clam.exe").is_file() {
        skip_or_fail(&format!(
            "{TESTFILES}/clam.exe missing (apt-get install clamav-testfiles)"
        ));
        return false;
    }
    true
}

/// CLAMD-DET-7: every clamav-testfiles file not on the allow-list gets the same SCAN and
/// INSTREAM reply bytes from the fake as from clamd 1.4.6; every listed one still differs.
#[test]
fn clamav_testfiles_fake_replies_equal_real_clamd_except_allow_list() {
    if !available() {
        return;
    }
    let dir = Path::new(TESTFILES);
    let env = OracleEnv::create().expect("oracle env");
    let servers = start(&env, &dir.join("clam.exe"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("testfiles dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let mut failures = Vec::new();
    let mut real_found = 0;
    let mut fake_found = 0;
    for path in &files {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let data = std::fs::read(path).expect("read test file");
        let real = both(&servers.real, path, &data);
        let fake = both(&servers.fake, path, &data);
        real_found += usize::from(real.0.ends_with(b" FOUND\0"));
        fake_found += usize::from(fake.0.ends_with(b" FOUND\0"));
        let same = real == fake;
        let listed = NOT_YET.iter().find(|(n, _)| *n == name);
        println!(
            "{name}: real {:?} / {:?}, fake {:?} / {:?}{}",
            shown(&real.0),
            shown(&real.1),
            shown(&fake.0),
            shown(&fake.1),
            listed.map_or(String::new(), |(_, why)| format!(" [not yet: {why}]"))
        );
        match (same, listed) {
            (true, None) | (false, Some(_)) => {}
            (false, None) => failures.push(format!("{name}: fake differs from clamd")),
            (true, Some(_)) => failures.push(format!(
                "{name}: fake now equals clamd: remove it from NOT_YET"
            )),
        }
    }
    for (n, _) in NOT_YET {
        if !files.iter().any(|p| p.file_name().is_some_and(|f| f == *n)) {
            failures.push(format!("{n}: listed in NOT_YET but not installed"));
        }
    }
    println!(
        "clamav-testfiles: {} files, SCAN FOUND by clamd {real_found}, by the fake {fake_found}; {} not yet supported",
        files.len(),
        NOT_YET.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

/// `data` through an installed compressor (`bzip2`, `xz`), or None when it is absent.
fn compress(tool: &str, data: &[u8]) -> Option<Vec<u8>> {
    pipe_through(tool, &["-c"], data)
}

/// `data` as a raw LZMA1 stream (lc=3 lp=0 pb=2, 64 KiB dictionary) from the installed `xz`,
/// or None when it is absent.
fn raw_lzma(data: &[u8]) -> Option<Vec<u8>> {
    pipe_through(
        "xz",
        &[
            "--format=raw",
            "--lzma1=preset=6,dict=64KiB,lc=3,lp=0,pb=2",
            "-c",
        ],
        data,
    )
}

/// A MIME part holding `payload` as a base64 attachment named `name`.
fn base64_part(name: &str, payload: &[u8]) -> String {
    format!(
        "Content-Type: application/octet-stream; name=\"{name}\"\r\n\
Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\r\n{}",
        fixtures::documents::base64(payload, Some(76))
    )
}

/// A MIME part holding `payload` uuencoded as `name`.
fn uuencode_part(name: &str, payload: &[u8]) -> String {
    format!(
        "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n{}",
        fixtures::documents::uuencode(name, payload, "\r\n")
    )
}

/// multipart / multipart / message/rfc822 / multipart / `part`.
fn nested_message(part: &str) -> String {
    let rfc822 = format!(
        "Content-Type: message/rfc822\r\n\r\nFrom: c@example.com\r\nSubject: inner\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"in3\"\r\n\r\n{}",
        multipart_body("in3", &[part.to_string()])
    );
    let inner = format!(
        "Content-Type: multipart/mixed; boundary=\"in2\"\r\n\r\n{}",
        multipart_body("in2", &[rfc822])
    );
    mime_message("in1", &[inner])
}

/// EICAR (decoded at run time) wrapped as mail, compressed files, cpio and 7z archives, and
/// as documents (see [`documents`]).
fn generated() -> Vec<(&'static str, Vec<u8>)> {
    let e = clamd_oracle::env::eicar();
    let text = String::from_utf8(e.clone()).expect("EICAR is ASCII");
    let b64_part = base64_part("e.com", &e);
    let qp_text = format!(
        "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{text}"
    );
    let qp_octet_soft = format!(
        "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{text}="
    );
    let uu_part = uuencode_part("e.com", &e);
    let seven_bit = format!("Content-Type: text/plain\r\n\r\n{text}");
    let deep = nested_message(&b64_part);
    let mut uu_plain = b"From: a@example.com\r\nSubject: uu\r\n\r\nsee below\r\n".to_vec();
    uu_plain.extend_from_slice(fixtures::documents::uuencode("e.com", &e, "\r\n").as_bytes());
    let mut mbox = b"From a@example.com Thu Jan  1 00:00:00 2026\n".to_vec();
    mbox.extend_from_slice(b"From: a@example.com\nSubject: one\n\nhello\n\n");
    mbox.extend_from_slice(b"From b@example.com Thu Jan  1 00:00:01 2026\n");
    mbox.extend_from_slice(mime_message("mb", std::slice::from_ref(&b64_part)).as_bytes());
    let mut v: Vec<(&'static str, Vec<u8>)> = vec![
        (
            "mime_base64.eml",
            mime_message("b1", std::slice::from_ref(&b64_part)).into_bytes(),
        ),
        (
            "mime_qp_text.eml",
            mime_message("b2", &[qp_text]).into_bytes(),
        ),
        (
            "mime_qp_soft_break.eml",
            mime_message("b3", &[qp_octet_soft]).into_bytes(),
        ),
        (
            "mime_uuencode.eml",
            mime_message("b4", &[uu_part]).into_bytes(),
        ),
        (
            "mime_7bit_text.eml",
            mime_message("b5", &[seven_bit]).into_bytes(),
        ),
        ("uuencode_no_mime.eml", uu_plain),
        ("rfc822_in_multipart_in_multipart.eml", deep.into_bytes()),
        ("mbox_second_message.mbox", mbox),
    ];
    for (name, magic) in [
        ("eicar.odc.cpio", "070707"),
        ("eicar.newc.cpio", "070701"),
        ("eicar.crc.cpio", "070702"),
        ("eicar.bin-le.cpio", "bin-le"),
        ("eicar.bin-be.cpio", "bin-be"),
    ] {
        v.push((name, fixtures::cpio_of(magic, "dir/e.com", &e)));
    }
    v.push((
        "eicar_copy.7z",
        fixtures::sevenz_one_of("e.com", &e, e.len(), &[0x01, 0x00]),
    ));
    match raw_lzma(&e) {
        // LZMA coder 03 01 01 with 5 property bytes: 0x5d (lc/lp/pb), dictionary size
        Some(packed) => {
            let mut coder = vec![0x23, 0x03, 0x01, 0x01, 0x05, 0x5d];
            coder.extend_from_slice(&(64u32 << 10).to_le_bytes());
            v.push((
                "eicar_lzma.7z",
                fixtures::sevenz_one_of("e.com", &packed, e.len(), &coder),
            ));
        }
        None => println!("note: xz not installed, eicar_lzma.7z not generated"),
    }
    v.extend(documents(&e));
    v.extend(legacy_archives(&e));
    for (name, method) in [("eicar_m1.arj", 1), ("eicar_m4.arj", 4)] {
        match arj_tool(method, &e) {
            Some(a) => v.push((name, a)),
            None => println!("note: arj not installed, {name} not generated"),
        }
    }
    for (name, tool) in [("eicar.bz2", "bzip2"), ("eicar.xz", "xz")] {
        match compress(tool, &e) {
            Some(c) => v.push((name, c)),
            None => println!("note: {tool} not installed, {name} not generated"),
        }
    }
    v
}

/// `payload` in each of the older formats clamd unpacks: BinHex, SZDD, TNEF, stored CAB, SIS,
/// stored ARJ, zip implode, CHM (stored, LZX).
fn legacy_archives(payload: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    use fixtures::legacy_archives as la;
    vec![
        ("eicar.hqx", la::binhex_of("e.com", payload)),
        ("eicar.szdd", la::szdd_of(payload)),
        ("winmail.dat", la::tnef_of("e.com", payload)),
        ("eicar.cab", la::cab_stored_of("e.com", payload)),
        ("eicar.sis", la::sis_of(payload)),
        ("eicar.arj", la::arj_stored_of("e.com", payload)),
        ("eicar_implode.zip", la::zip_implode_of("e.com", payload)),
        ("eicar.chm", la::chm_stored_of("/e.com", payload)),
        ("eicar_lzx.chm", la::chm_lzx_of("/e.com", payload)),
    ]
}

/// `data` as `e.com` in an ARJ made by the installed `arj` with `-m<method>`, or None when
/// it is absent.
fn arj_tool(method: u8, data: &[u8]) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().ok()?;
    std::fs::write(dir.path().join("e.com"), data).ok()?;
    let status = Command::new("arj")
        .args(["a", &format!("-m{method}"), "-y", "e.arj", "e.com"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    status
        .success()
        .then(|| std::fs::read(dir.path().join("e.arj")).ok())?
}

/// Generated inputs not unpacked yet, with the reason (shrinks as formats land).
const GENERATED_NOT_YET: &[(&str, &str)] = &[];

/// CLAMD-DET-7 with EICAR (CLAMD-DET-1/3): EICAR as a MIME attachment in base64,
/// quoted-printable and uuencode, uuencoded without MIME, in message/rfc822 inside multipart
/// inside multipart, in an mbox, compressed, in cpio (odc, newc, crc, binary LE/BE), in 7z,
/// in documents (OLE2 stream and Package object, RTF objdata, PDF embedded file raw, Flate
/// and ASCIIHex+Flate, HTML data: URI base64 and %-escaped), and in BinHex, SZDD, TNEF, a
/// stored CAB, SIS, ARJ (stored, and methods 1 and 4 when `arj` is installed), zip implode and
/// CHM (stored, LZX): the fake's SCAN and INSTREAM replies equal clamd's byte for byte.
#[test]
fn generated_mail_and_compressed_eicar_fake_replies_equal_real_clamd() {
    if !available() {
        return;
    }
    let env = OracleEnv::create().expect("oracle env");
    let servers = start(&env, &Path::new(TESTFILES).join("clam.exe"));
    let dir = env.corpus_dir.join("generated");
    std::fs::create_dir(&dir).expect("mkdir");
    let mut failures = Vec::new();
    for (name, data) in generated() {
        let same = same_replies(&servers, &dir, name, &data, "");
        let listed = GENERATED_NOT_YET.iter().find(|(n, _)| *n == name);
        match (same, listed) {
            (true, None) | (false, Some(_)) => {}
            (false, None) => failures.push(format!("{name}: fake differs from clamd")),
            (true, Some(_)) => failures.push(format!(
                "{name}: fake now equals clamd: remove it from GENERATED_NOT_YET"
            )),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Writes `data` as `dir/name`, scans it with SCAN and INSTREAM on both servers, prints the
/// replies (after `label`) and says whether they are the same.
fn same_replies(servers: &Servers, dir: &Path, name: &str, data: &[u8], label: &str) -> bool {
    let path = dir.join(name);
    std::fs::write(&path, data).expect("write input");
    let real = both(&servers.real, &path, data);
    let fake = both(&servers.fake, &path, data);
    println!(
        "{label}{name}: real {:?} / {:?}, fake {:?} / {:?}",
        shown(&real.0),
        shown(&real.1),
        shown(&fake.0),
        shown(&fake.1)
    );
    real == fake
}

/// `payload` in the document containers clamd 1.4.6 unpacks (CLAMD-DET-7).
fn documents(payload: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    use fixtures::documents::*;
    vec![
        ("stream.ole2", ole2_of(&[("/Payload", payload)])),
        ("package.doc", ole2_with_package("e.com", payload)),
        (
            "object.ppt",
            ppt_with_object(&ole2_with_package("e.com", payload)),
        ),
        ("package.rtf", rtf_with_package("e.com", payload)),
        (
            "ole2_object.rtf",
            rtf_with_objdata(&ole1_object(
                "Word.Document.8",
                &ole2_of(&[("/Payload", payload)]),
            )),
        ),
        (
            "embedded_raw.pdf",
            pdf_with_embedded_file("e.com", payload, PdfEncoding::Raw),
        ),
        (
            "embedded_flate.pdf",
            pdf_with_embedded_file("e.com", payload, PdfEncoding::Flate),
        ),
        (
            "embedded_hex_flate.pdf",
            pdf_with_embedded_file("e.com", payload, PdfEncoding::HexFlate),
        ),
        ("data_uri_base64.html", html_with_data_uri(payload, true)),
        ("data_uri_escaped.html", html_with_data_uri(payload, false)),
    ]
}

/// Limit cases for documents: a marker after 1.2 MiB of zeros, and one at the start of
/// such a stream, in a PDF Flate stream (small on disk, large once extracted).
fn large_documents() -> Vec<(&'static str, Vec<u8>)> {
    use fixtures::documents::*;
    let marker = clamd_oracle::env::MARKER_A;
    let mut tail = vec![0u8; 1_200_000];
    tail.extend_from_slice(marker);
    let mut head = marker.to_vec();
    head.resize(1_200_000, 0);
    vec![
        (
            "marker_after_1.2M.pdf",
            pdf_with_embedded_file("m.bin", &tail, PdfEncoding::Flate),
        ),
        (
            "marker_then_1.2M.pdf",
            pdf_with_embedded_file("m.bin", &head, PdfEncoding::Flate),
        ),
    ]
}

/// CLAMD-DET-7 with clamd's limits and switches: the document inputs (and zip, tar, gzip)
/// under `MaxRecursion` 1, 2 and 3, `MaxFileSize 1M`, and each of `ScanOLE2`, `ScanPDF`,
/// `ScanHTML`, `ScanMail`, `ScanArchive` off: the fake's SCAN and INSTREAM replies equal
/// clamd 1.4.6's byte for byte.
#[test]
fn documents_under_limits_and_switches_fake_replies_equal_real_clamd() {
    if !available() {
        return;
    }
    let e = clamd_oracle::env::eicar();
    let mut inputs = documents(&e);
    inputs.extend(large_documents());
    // archives, for ScanArchive
    inputs.push(("eicar.zip", fixtures::zip_of(&[("e.com", &e)], true)));
    inputs.push(("eicar.tar", fixtures::tar_of(&[("e.com", &e)])));
    inputs.push(("eicar.gz", fixtures::gzip_of(Some("e.com"), &e)));
    let inputs = owned(inputs);
    let failures = differing_under(
        &[
            "MaxRecursion 1",
            "MaxRecursion 2",
            "MaxRecursion 3",
            "MaxFileSize 1M",
            "ScanOLE2 no",
            "ScanPDF no",
            "ScanHTML no",
            "ScanMail no",
            "ScanArchive no",
        ],
        &inputs,
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

/// [`differing`] under each clamd.conf line in turn (one fresh pair of servers per line,
/// with the clam.exe hash signature).
fn differing_under(conf_lines: &[&str], inputs: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut failures = Vec::new();
    for line in conf_lines {
        let env = OracleEnv::create().expect("oracle env");
        let servers = start_with(
            &env,
            &Path::new(TESTFILES).join("clam.exe"),
            &[line.to_string()],
        );
        failures.extend(differing(&env, &servers, line, inputs));
    }
    failures
}

/// SCAN and INSTREAM of every `(name, data)` against both servers; the names whose replies
/// differ, with both replies.
fn differing(
    env: &OracleEnv,
    servers: &Servers,
    tag: &str,
    inputs: &[(String, Vec<u8>)],
) -> Vec<String> {
    let dir = env.corpus_dir.join(tag);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let label = format!("[{tag}] ");
    inputs
        .iter()
        .filter(|(name, data)| !same_replies(servers, &dir, name, data, &label))
        .map(|(name, _)| format!("[{tag}] {name}: fake differs from clamd"))
        .collect()
}

/// The member the limit cases put in each container: EICAR padded to 4 KiB.
const MEMBER: usize = 4096;

fn padded_member() -> Vec<u8> {
    let mut payload = clamd_oracle::env::eicar();
    payload.resize(MEMBER, b'\n');
    payload
}

/// Each input under clamd's limits (CLAMD-CONF-3) with `AlertExceedsMax yes`, so the reply
/// names the limit that stopped a scan, and a hash signature of the padded member (so a member
/// scanned whole is FOUND): `MaxFileSize` just under / at the member, `MaxScanSize` just below
/// / at the object plus the member, `MaxRecursion` 1 and 2. The inputs whose replies differ.
fn limits_differing(inputs: &[(String, Vec<u8>)], payload: &[u8]) -> Vec<String> {
    let mut failures = Vec::new();
    for (i, (name, data)) in inputs.iter().enumerate() {
        let root = data.len();
        let confs = [
            format!("MaxFileSize {}", MEMBER - 1),
            format!("MaxFileSize {}", root.max(MEMBER)),
            format!("MaxScanSize {}", root + MEMBER - 1),
            format!("MaxScanSize {}", root + MEMBER),
            "MaxRecursion 1".to_string(),
            "MaxRecursion 2".to_string(),
        ];
        for (k, line) in confs.iter().enumerate() {
            let env = OracleEnv::create().expect("oracle env");
            let member = env.corpus_dir.join("member.bin");
            std::fs::write(&member, payload).expect("write member");
            let hdb = format!("{}:{MEMBER}:Padded.Member-1\n", md5_hex(&member));
            std::fs::write(env.db_dir.join("member.hdb"), hdb).expect("write hdb");
            let conf = vec![line.clone(), "AlertExceedsMax yes".to_string()];
            let servers = start_with(&env, &Path::new(TESTFILES).join("clam.exe"), &conf);
            let one = [(name.clone(), data.clone())];
            failures.extend(differing(&env, &servers, &format!("{i}-{k} {line}"), &one));
        }
    }
    failures
}

fn owned(inputs: Vec<(&'static str, Vec<u8>)>) -> Vec<(String, Vec<u8>)> {
    inputs
        .into_iter()
        .map(|(n, d)| (n.to_string(), d))
        .collect()
}

/// CLAMD-DET-7, CLAMD-CONF-3: the padded EICAR member in BinHex, SZDD, TNEF, stored CAB, SIS,
/// stored ARJ, zip implode and CHM (stored, LZX) at the limits of [`limits_differing`]: the
/// fake's replies equal clamd's.
#[test]
fn legacy_archive_limits_fake_replies_equal_real_clamd() {
    if !available() {
        return;
    }
    let payload = padded_member();
    let failures = limits_differing(&owned(legacy_archives(&payload)), &payload);
    assert!(failures.is_empty(), "{failures:#?}");
}

/// `payload` in mail (base64 attachment, uuencode, base64 inside message/rfc822 inside
/// multipart inside multipart), cpio (odc, newc), 7z (copy), bzip2 and xz.
fn mail_and_compressed(payload: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let b64_part = base64_part("m.bin", payload);
    let mut v: Vec<(&'static str, Vec<u8>)> = vec![
        (
            "limit_base64.eml",
            mime_message("l1", std::slice::from_ref(&b64_part)).into_bytes(),
        ),
        (
            "limit_uuencode.eml",
            mime_message("l2", &[uuencode_part("m.bin", payload)]).into_bytes(),
        ),
        ("limit_nested.eml", nested_message(&b64_part).into_bytes()),
        (
            "limit.odc.cpio",
            fixtures::cpio_of("070707", "m.bin", payload),
        ),
        (
            "limit.newc.cpio",
            fixtures::cpio_of("070701", "m.bin", payload),
        ),
        (
            "limit_copy.7z",
            fixtures::sevenz_one_of("m.bin", payload, payload.len(), &[0x01, 0x00]),
        ),
    ];
    for (name, tool) in [("limit.bz2", "bzip2"), ("limit.xz", "xz")] {
        match compress(tool, payload) {
            Some(c) => v.push((name, c)),
            None => println!("note: {tool} not installed, {name} not generated"),
        }
    }
    v
}

/// CLAMD-DET-7, CLAMD-CONF-3: the padded EICAR member in mail, cpio, 7z, bzip2, xz and in the
/// documents (OLE2 stream and Package, RTF objdata, PDF Flate stream, HTML data: URI) at the
/// limits of [`limits_differing`]: the fake's replies equal clamd's.
#[test]
fn mail_compressed_and_document_limits_fake_replies_equal_real_clamd() {
    if !available() {
        return;
    }
    let payload = padded_member();
    let mut inputs = owned(mail_and_compressed(&payload));
    let wanted = [
        "stream.ole2",
        "package.doc",
        "package.rtf",
        "embedded_flate.pdf",
        "data_uri_base64.html",
    ];
    inputs.extend(owned(
        documents(&payload)
            .into_iter()
            .filter(|(n, _)| wanted.contains(n))
            .collect(),
    ));
    let failures = limits_differing(&inputs, &payload);
    assert!(failures.is_empty(), "{failures:#?}");
}

/// CLAMD-DET-7: `ScanArchive no` leaves BinHex, SZDD, CAB, SIS, ARJ, CHM, zip (implode
/// included) and every other archive
/// closed and `ScanMail no` leaves TNEF closed, as in clamd: the fake's replies for the
/// clamav-testfiles of these formats and for generated EICAR in each equal clamd's.
#[test]
fn scan_archive_and_scan_mail_off_fake_replies_equal_real_clamd() {
    if !available() {
        return;
    }
    let mut inputs: Vec<(String, Vec<u8>)> = legacy_archives(&clamd_oracle::env::eicar())
        .into_iter()
        .map(|(n, d)| (n.to_string(), d))
        .collect();
    for f in [
        "clam.exe.binhex",
        "clam.exe.szdd",
        "clam.tnef",
        "clam.cab",
        "clam.sis",
        "clam.zip",
    ] {
        let data = std::fs::read(Path::new(TESTFILES).join(f)).expect("test file");
        inputs.push((f.to_string(), data));
    }
    let failures = differing_under(&["ScanArchive no", "ScanMail no"], &inputs);
    assert!(failures.is_empty(), "{failures:#?}");
}

/// PDF streams whose stored bytes decide what clamd 1.4.6 scans (CLAMD-DET-7): indirect and
/// off-by-some `/Length`s (which bytes a hash signature sees), the ASCII85, LZW (both
/// `/EarlyChange` settings) and RunLength filters, filter chains, and filters clamd fails
/// (then it scans the previous output or the raw stream). EICAR is found by its hash,
/// the marker by its body.
fn pdf_streams(e: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    use fixtures::documents::*;
    let n = e.len();
    let mut junk_then_marker: Vec<u8> = (0..700u32).map(|i| (i * 7 % 251) as u8).collect();
    junk_then_marker.extend_from_slice(clamd_oracle::env::MARKER_A);
    let mut eicar_and_more = e.to_vec();
    eicar_and_more.extend_from_slice(b"0123456789");
    let a85 = ascii85(e, Some(64));
    let with_length = |dict: &str, data: &[u8]| {
        pdf_with_embedded_stream(&format!("{dict} /Length {}", data.len()), data, &[])
    };
    let len_obj = n.to_string();
    vec![
        // /Length N G R: found, missing, naming a length too short for the stream
        (
            "indirect_length_after.pdf",
            pdf_with_embedded_stream("/Length 7 0 R", e, &[(7, &len_obj)]),
        ),
        (
            "indirect_length_missing.pdf",
            pdf_with_embedded_stream("/Length 9 0 R", e, &[]),
        ),
        (
            "indirect_length_short.pdf",
            pdf_with_embedded_stream("/Length 7 0 R", &eicar_and_more, &[(7, &len_obj)]),
        ),
        (
            "direct_length_short.pdf",
            pdf_with_embedded_stream(&format!("/Length {n}"), &eicar_and_more, &[]),
        ),
        (
            "direct_length_long.pdf",
            pdf_with_embedded_stream(&format!("/Length {}", n + 40), e, &[]),
        ),
        ("ascii85.pdf", with_length("/Filter /ASCII85Decode", &a85)),
        (
            "a85_short_name.pdf",
            with_length("/Filter /A85", &ascii85(e, None)),
        ),
        (
            "ascii85_flate.pdf",
            with_length(
                "/Filter [/ASCII85Decode /FlateDecode]",
                &ascii85(&zlib(e), Some(70)),
            ),
        ),
        (
            "ascii85_dct.pdf",
            with_length("/Filter [/A85 /DCTDecode]", &ascii85(e, None)),
        ),
        (
            "ascii85_bad_byte.pdf",
            with_length("/Filter /A85", &[&a85[..20], b"{", &a85[20..]].concat()),
        ),
        ("lzw.pdf", with_length("/Filter /LZWDecode", &lzw(e, true))),
        (
            "lzw_marker_early.pdf",
            with_length("/Filter /LZW", &lzw(&junk_then_marker, true)),
        ),
        (
            "lzw_marker_early_0.pdf",
            with_length(
                "/Filter /LZWDecode /DecodeParms << /EarlyChange 0 >>",
                &lzw(&junk_then_marker, false),
            ),
        ),
        (
            "lzw_marker_early_0_tight.pdf",
            with_length(
                "/Filter /LZWDecode /DecodeParms <</EarlyChange 0>>",
                &lzw(&junk_then_marker, false),
            ),
        ),
        (
            "lzw_marker_wrong_early.pdf",
            with_length("/Filter /LZWDecode", &lzw(&junk_then_marker, false)),
        ),
        (
            "lzw_not_embedded.pdf",
            pdf_with_stream(
                &format!("/Filter /LZWDecode /Length {}", lzw(e, true).len()),
                &lzw(e, true),
                &[],
            ),
        ),
        (
            "lzw_page_contents.pdf",
            pdf_with_stream(
                &format!("/Filter /LZWDecode /Length {}", lzw(e, true).len()),
                &lzw(e, true),
                &[(8, "<< /Type /Page /Contents 6 0 R >>")],
            ),
        ),
        (
            "run_length.pdf",
            with_length("/Filter /RunLengthDecode", &run_length(e)),
        ),
        (
            "run_length_not_embedded.pdf",
            pdf_with_stream(
                &format!("/Filter /RL /Length {}", run_length(e).len()),
                &run_length(e),
                &[],
            ),
        ),
        (
            "raw_image.pdf",
            pdf_with_stream(&format!("/Subtype /Image /Length {n}"), e, &[]),
        ),
        (
            "unknown_filter.pdf",
            pdf_with_stream(&format!("/Filter /Foo /Length {n}"), e, &[]),
        ),
        (
            "hex_lines.pdf",
            with_length("/Filter /ASCIIHexDecode", &ascii_hex(e, Some(32))),
        ),
        (
            "hex_a85.pdf",
            with_length("/Filter [/AHx /A85]", &ascii_hex(&ascii85(e, None), None)),
        ),
    ]
}

/// CLAMD-DET-7: the PDF stream variants of [`pdf_streams`] with EICAR: the fake's SCAN and
/// INSTREAM replies equal clamd 1.4.6's byte for byte.
#[test]
fn pdf_stream_lengths_and_filters_fake_replies_equal_real_clamd() {
    eicar_inputs_same_as_clamd("pdf", pdf_streams);
}

/// RTF object groups whose control words decide what clamd 1.4.6 decodes (CLAMD-DET-7):
/// clamd's `rtf.c` knows no `\bin` (its binary bytes are read as text: hex digits in them
/// count, braces and backslashes too), a control word's number swallows the letters after
/// it, `\object` counts only when no white space ends it and `\objdata` only when a space
/// does.
fn rtf_objects(e: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    use fixtures::documents::*;
    let native = ole10_native("e.com", e);
    let object = ole1_object("Package", &native[4..]);
    let hex: String = object.iter().map(|b| format!("{b:02x}")).collect();
    let doc = |open: &str, data: &[u8]| {
        let mut d = format!("{{\\rtf1\\ansi{{{open}{{\\*\\objclass Package}}").into_bytes();
        d.extend_from_slice(data);
        d.extend_from_slice(b"}}}\r\n");
        d
    };
    let with = |prefix: &[u8], suffix: &str| [prefix, hex.as_bytes(), suffix.as_bytes()].concat();
    vec![
        (
            "objdata_plain.rtf",
            doc("\\object\\objemb", &with(b"{\\*\\objdata ", "\r\n")),
        ),
        (
            "object_space.rtf",
            doc("\\object \\objemb", &with(b"{\\*\\objdata ", "\r\n")),
        ),
        (
            "objdata_newline.rtf",
            doc("\\object\\objemb", &with(b"{\\*\\objdata\r\n", "\r\n")),
        ),
        (
            "bin_raw_bytes_then_hex.rtf",
            doc(
                "\\object\\objemb",
                &with(b"{\\*\\objdata \\bin4 \x00\x01\xfe\xff", ""),
            ),
        ),
        (
            "bin_letters_then_hex.rtf",
            doc("\\object\\objemb", &with(b"{\\*\\objdata \\bin2ab ", "")),
        ),
        (
            "bin_object.rtf",
            doc(
                "\\object\\objemb",
                &[
                    format!("{{\\*\\objdata \\bin{} ", object.len()).as_bytes(),
                    &object,
                    b"",
                ]
                .concat(),
            ),
        ),
        (
            "long_word_then_hex.rtf",
            doc(
                "\\object\\objemb",
                &with(b"{\\*\\objdata \\abcdefghijklmnopqrstuvwxyzabcdefgh", ""),
            ),
        ),
    ]
}

/// CLAMD-DET-7: the RTF variants of [`rtf_objects`] with EICAR: the fake's SCAN and
/// INSTREAM replies equal clamd 1.4.6's byte for byte.
#[test]
fn rtf_control_words_and_bin_fake_replies_equal_real_clamd() {
    eicar_inputs_same_as_clamd("rtf", rtf_objects);
}

/// Version 4 compound files (4096-byte sectors), whose directory clamd 1.4.6 reads four
/// entries per sector as for 512-byte sectors (CLAMD-DET-7): streams at the root and a
/// Package in a storage, at directory entries below and past the fourth.
fn ole2_v4(e: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    use fixtures::documents::*;
    let native = ole10_native("e.com", e);
    let filler: &[u8] = b"not really a Word document";
    vec![
        ("v4_stream_first.ole2", ole2_v4_of(&[("/Payload", e)])),
        (
            "v4_stream_third.ole2",
            ole2_v4_of(&[("/A", filler), ("/B", filler), ("/Payload", e)]),
        ),
        (
            "v4_stream_fifth.ole2",
            ole2_v4_of(&[
                ("/A", filler),
                ("/B", filler),
                ("/C", filler),
                ("/D", filler),
                ("/Payload", e),
            ]),
        ),
        (
            "v4_package.doc",
            ole2_v4_of(&[
                ("/WordDocument", filler),
                ("/ObjectPool/_1234567890/\u{1}Ole10Native", &native),
            ]),
        ),
        (
            "v4_package_only.doc",
            ole2_v4_of(&[("/ObjectPool/_1/\u{1}Ole10Native", &native)]),
        ),
        (
            "v4_big_stream_fifth.ole2",
            ole2_v4_of(&[
                ("/A", &[7u8; 5000]),
                ("/B", filler),
                ("/C", filler),
                ("/D", filler),
                ("/Payload", e),
            ]),
        ),
    ]
}

/// CLAMD-DET-7: the version 4 compound files of [`ole2_v4`] with EICAR: the fake's SCAN and
/// INSTREAM replies equal clamd 1.4.6's byte for byte.
#[test]
fn ole2_v4_directories_fake_replies_equal_real_clamd() {
    eicar_inputs_same_as_clamd("ole2v4", ole2_v4);
}

/// CLAMD-DET-7, CLAMD-CONF-3: a member larger than `MaxFileSize` with the marker at its
/// start (found by its body, so a truncated scan finds it) in the older formats, also ARJ
/// methods 1 and 4 when `arj` is installed, under `MaxFileSize` below the member (and at
/// the container's own size when that is larger, so the container itself is scanned), and
/// at the member's size: the fake's replies equal clamd's. (clamd 1.4.6 skips such members
/// of SIS, SZDD and ARJ: it does not truncate them, as it does zip and tar members.)
#[test]
fn legacy_members_over_max_file_size_fake_replies_equal_real_clamd() {
    if !available() {
        return;
    }
    let mut member = clamd_oracle::env::MARKER_A.to_vec();
    member.resize(MEMBER, b' ');
    let mut inputs = legacy_archives(&member);
    inputs.push((
        "compressed.szdd",
        szdd_spaces(clamd_oracle::env::MARKER_A, MEMBER),
    ));
    for m in [1u8, 4] {
        if let Some(a) = arj_tool(m, &member) {
            inputs.push((if m == 1 { "m1.arj" } else { "m4.arj" }, a));
        }
    }
    let mut failures = Vec::new();
    for (i, (name, data)) in owned(inputs).into_iter().enumerate() {
        let limit = (MEMBER - 1).max(data.len());
        let whole = MEMBER.max(data.len());
        let lines = [
            format!("MaxFileSize {limit}"),
            format!("MaxFileSize {}", MEMBER / 2),
            // the control: the member fits, so both find the marker
            format!("MaxFileSize {whole}"),
        ];
        for line in lines {
            let env = OracleEnv::create().expect("oracle env");
            let servers = start_with(
                &env,
                &Path::new(TESTFILES).join("clam.exe"),
                std::slice::from_ref(&line),
            );
            let one = [(name.clone(), data.clone())];
            failures.extend(differing(&env, &servers, &format!("{i} {line}"), &one));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// An SZDD file whose LZSS data is `head` then spaces up to `size` bytes, the spaces copied
/// from the window (which starts filled with spaces) 18 at a time: far smaller than `size`.
fn szdd_spaces(head: &[u8], size: usize) -> Vec<u8> {
    let mut out = b"SZDD\x88\xf0\x27\x33\x41\x00".to_vec();
    out.extend_from_slice(&(size as u32).to_le_bytes());
    // (is a literal, bytes) per item; a copy of 18 from window position 2000
    let mut items: Vec<(bool, Vec<u8>)> = head.iter().map(|&b| (true, vec![b])).collect();
    let mut left = size - head.len();
    while left >= 18 {
        items.push((false, vec![0xd0, 0x7f]));
        left -= 18;
    }
    items.extend(std::iter::repeat_n((true, vec![b' ']), left));
    for group in items.chunks(8) {
        let flags = group
            .iter()
            .enumerate()
            .fold(0u8, |f, (i, (lit, _))| f | (u8::from(*lit) << i));
        out.push(flags);
        for (_, bytes) in group {
            out.extend_from_slice(bytes);
        }
    }
    out
}

/// Named test inputs.
type Inputs = Vec<(&'static str, Vec<u8>)>;

/// SCAN and INSTREAM of `inputs(EICAR)` against clamd and the fake (both with the oracle DB
/// and the clam.exe hash signature), under `tag`: fails with every input whose replies
/// differ.
fn eicar_inputs_same_as_clamd(tag: &str, inputs: fn(&[u8]) -> Inputs) {
    if !available() {
        return;
    }
    let env = OracleEnv::create().expect("oracle env");
    let servers = start(&env, &Path::new(TESTFILES).join("clam.exe"));
    let inputs = owned(inputs(&clamd_oracle::env::eicar()));
    let failures = differing(&env, &servers, tag, &inputs);
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Object 3: an object stream holding `objects`, its keys written `type_key` (clamd reads
/// only `/Type/ObjStm`), stored through `filter` (none, `/FlateDecode` or `/LZWDecode`).
fn object_stream_object(
    objects: &[(u32, &[u8])],
    type_key: &str,
    filter: &str,
) -> fixtures::documents::PdfObject {
    use fixtures::documents::*;
    let (text, first) = object_stream(objects);
    let data = match filter {
        "/FlateDecode" => zlib(&text),
        "/LZWDecode" => lzw(&text, true),
        _ => text,
    };
    let filter = if filter.is_empty() {
        String::new()
    } else {
        format!(" /Filter {filter}")
    };
    let dict = format!(
        "<< {type_key} /N {} /First {first}{filter} /Length {} >>",
        objects.len(),
        data.len()
    );
    (3, dict.into_bytes(), Some(data))
}

/// PDF 1.5 object streams (CLAMD-DET-7) and the indirect `/Length` of a later stream
/// naming an object in one: clamd 1.4.6 parses only `/Type/ObjStm` streams it dumps and
/// decodes cleanly, appends their objects after the file's own, and reads such a length
/// as the token after the object's value. Object 5 holds EICAR and a line feed under
/// `/Length 7 0 R`: only a resolved length of 68 makes its extracted bytes EICAR's.
fn pdf_object_streams(e: &[u8]) -> Inputs {
    use fixtures::documents::*;
    let catalog = || (1, b"<< /Type /Catalog >>".to_vec(), None);
    let stream5 = || {
        let data = [e, b"\n"].concat();
        (5, b"<< /Length 7 0 R >>".to_vec(), Some(data))
    };
    let next_is_68: &[(u32, &[u8])] = &[(7, b"99"), (8, b"68")];
    let own_68: &[(u32, &[u8])] = &[(7, b"68"), (8, b"<< /Type /Catalog >>")];
    let objstm = |objs, key, filter| object_stream_object(objs, key, filter);
    vec![
        (
            "objstm_length_next_token.pdf",
            pdf_of_objects(&[
                catalog(),
                objstm(next_is_68, "/Type/ObjStm", "/FlateDecode"),
                stream5(),
            ]),
        ),
        (
            "objstm_length_own_value.pdf",
            pdf_of_objects(&[
                catalog(),
                objstm(own_68, "/Type/ObjStm", "/FlateDecode"),
                stream5(),
            ]),
        ),
        (
            "objstm_after_the_stream.pdf",
            pdf_of_objects(&[
                catalog(),
                stream5(),
                objstm(next_is_68, "/Type/ObjStm", "/FlateDecode"),
            ]),
        ),
        (
            "objstm_spaced_type.pdf",
            pdf_of_objects(&[
                catalog(),
                objstm(next_is_68, "/Type /ObjStm", "/FlateDecode"),
                stream5(),
            ]),
        ),
        (
            "objstm_unfiltered.pdf",
            pdf_of_objects(&[catalog(), objstm(next_is_68, "/Type/ObjStm", ""), stream5()]),
        ),
        (
            "objstm_lzw_not_dumped.pdf",
            pdf_of_objects(&[
                catalog(),
                objstm(next_is_68, "/Type/ObjStm", "/LZWDecode"),
                stream5(),
            ]),
        ),
    ]
}

/// CLAMD-DET-7: the object stream variants of [`pdf_object_streams`] with EICAR: the
/// fake's SCAN and INSTREAM replies equal clamd 1.4.6's byte for byte.
#[test]
fn pdf_object_stream_lengths_fake_replies_equal_real_clamd() {
    eicar_inputs_same_as_clamd("objstm", pdf_object_streams);
}

/// CLAMD-DET-7: objects of an object stream that clamd 1.4.6 scans as files of their own
/// (an `/OpenAction` dictionary, first and last in the stream: its bytes up to the next
/// object's offset), and ones it does not scan as raw bytes (an `/OpenAction N 0 R` whose
/// target was found before, a `/JavaScript` action, an object without actions), each
/// with a hash signature of those bytes: the fake's replies equal clamd's.
#[test]
fn pdf_object_stream_members_fake_replies_equal_real_clamd() {
    if !available() {
        return;
    }
    use fixtures::documents::*;
    let pad = "a".repeat(40);
    let action = format!("<< /OpenAction << /S /URI /URI (http://x/) >> /Pad ({pad}) >>");
    let moved = format!("<< /OpenAction 10 0 R /Pad ({pad}) >>");
    let script = format!("<< /S /JavaScript /JS (app.alert\\(1\\)) /Pad ({pad}) >>");
    let plain = format!("<< /Type /Catalog /Pad ({pad}) >>");
    let uri = "<< /S /URI /URI (http://y/) >>";
    // (input name, the object hashed, the objects of the stream)
    type Case<'a> = (&'a str, &'a str, Vec<(u32, &'a [u8])>);
    let cases: [Case; 6] = [
        (
            "objstm_action_first.pdf",
            &action,
            vec![(9, action.as_bytes()), (10, uri.as_bytes())],
        ),
        (
            "objstm_action_last.pdf",
            &action,
            vec![(10, uri.as_bytes()), (9, action.as_bytes())],
        ),
        (
            "objstm_action_ref_target_later.pdf",
            &moved,
            vec![(9, moved.as_bytes()), (10, uri.as_bytes())],
        ),
        (
            "objstm_action_ref_target_before.pdf",
            &moved,
            vec![(10, uri.as_bytes()), (9, moved.as_bytes())],
        ),
        (
            "objstm_javascript.pdf",
            &script,
            vec![(9, script.as_bytes()), (10, uri.as_bytes())],
        ),
        (
            "objstm_no_action.pdf",
            &plain,
            vec![(9, plain.as_bytes()), (10, uri.as_bytes())],
        ),
    ];
    let env = OracleEnv::create().expect("oracle env");
    let mut hdb = String::new();
    let mut inputs = Vec::new();
    for (i, (name, object, objects)) in cases.into_iter().enumerate() {
        // the object's bytes as clamd cuts them: its text and the line feed after it
        let member = env.corpus_dir.join(format!("member-{i}.bin"));
        std::fs::write(&member, format!("{object}\n")).expect("write member");
        // one line per distinct object (with a hash listed twice, clamd and the fake name
        // different lines)
        let line = format!("{}:{}:", md5_hex(&member), object.len() + 1);
        if !hdb.contains(&line) {
            hdb.push_str(&format!("{line}Objstm.Member-{i}\n"));
        }
        let pdf = pdf_of_objects(&[
            (1, b"<< /Type /Catalog >>".to_vec(), None),
            object_stream_object(&objects, "/Type/ObjStm", "/FlateDecode"),
        ]);
        inputs.push((name.to_string(), pdf));
    }
    std::fs::write(env.db_dir.join("objstm.hdb"), hdb).expect("write hdb");
    let servers = start(&env, &Path::new(TESTFILES).join("clam.exe"));
    let failures = differing(&env, &servers, "objstm-members", &inputs);
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Flate streams clamd 1.4.6 inflates in its own way (CLAMD-DET-7): stray bytes before the
/// zlib stream (it starts again once, after the first end of line), an empty zlib stream
/// first, a stream that fails or runs out after some output (the output so far is
/// scanned). EICAR is found by its hash, the marker by its body.
fn pdf_flate_streams(e: &[u8]) -> Inputs {
    use fixtures::documents::*;
    let z = zlib(e);
    let mut marked = clamd_oracle::env::MARKER_A.to_vec();
    marked.extend((0..3000u32).map(|i| (i * i % 251) as u8));
    let zm = zlib(&marked);
    let mut bad_sum = z.clone();
    let n = bad_sum.len();
    bad_sum[n - 4..].copy_from_slice(b"\0\0\0\0");
    let flate = |data: &[u8]| {
        pdf_with_embedded_stream(
            &format!("/Filter /FlateDecode /Length {}", data.len()),
            data,
            &[],
        )
    };
    vec![
        (
            "flate_junk_line.pdf",
            flate(&[b"junk\r\n", &z[..]].concat()),
        ),
        (
            "flate_junk_lf_lf.pdf",
            flate(&[b"junk\n\n\r", &z[..]].concat()),
        ),
        (
            "flate_two_junk_lines.pdf",
            flate(&[b"a\nb\n", &z[..]].concat()),
        ),
        ("flate_space_first.pdf", flate(&[b" \n", &z[..]].concat())),
        (
            "flate_empty_then_stream.pdf",
            flate(&[&zlib(b"")[..], b"\n", &z[..]].concat()),
        ),
        ("flate_bad_checksum.pdf", flate(&bad_sum)),
        ("flate_no_checksum.pdf", flate(&z[..n - 4])),
        ("flate_marker_truncated.pdf", flate(&zm[..zm.len() / 2])),
        (
            "flate_marker_corrupt_midway.pdf",
            flate(&[&zm[..zm.len() / 2], &[0xffu8; 64][..]].concat()),
        ),
        (
            "hex_flate_junk_line.pdf",
            pdf_with_embedded_stream(
                "/Filter [/AHx /Fl]",
                &ascii_hex(&[b"junk\n", &z[..]].concat(), None),
                &[],
            ),
        ),
    ]
}

/// CLAMD-DET-7: the Flate variants of [`pdf_flate_streams`] with EICAR: the fake's SCAN and
/// INSTREAM replies equal clamd 1.4.6's byte for byte.
#[test]
fn pdf_flate_retry_and_partial_fake_replies_equal_real_clamd() {
    eicar_inputs_same_as_clamd("flate", pdf_flate_streams);
}

/// `\object` and `\objdata ` inside an `\objdata` group (CLAMD-DET-7): once text has come,
/// clamd 1.4.6 ends the object there (scanning what it has), `\objdata ` starts the next one
/// in the same group and `\object` leaves the rest of the group's text unread. A Package
/// object holding EICAR follows in each. An object cut short is not read as a Package:
/// only whole 8 KiB blocks of its data are scanned.
fn rtf_action_words_in_objdata(e: &[u8]) -> Inputs {
    use fixtures::documents::*;
    let native = ole10_native("e.com", e);
    let hex = |b: &[u8]| -> String { b.iter().map(|x| format!("{x:02x}")).collect() };
    let good = hex(&ole1_object("Package", &native[4..]));
    // an object whose header promises more data than follows
    let mut cut = ole1_object("Package", &[0u8; 4000]);
    cut.truncate(200);
    let cut = hex(&cut);
    // a Package whose data is EICAR alone, cut short: clamd then scans the data it has whole
    let mut bare = ole1_object("Package", &[e, &[0u8; 100][..]].concat());
    bare.truncate(bare.len() - 100);
    let bare = hex(&bare);
    let marker = clamd_oracle::env::MARKER_A;
    let doc = |body: &str| {
        format!("{{\\rtf1\\ansi{{\\object\\objemb{{\\*\\objclass Package}}{{\\*\\objdata {body}}}}}}}\r\n")
            .into_bytes()
    };
    vec![
        (
            "objdata_restarts.rtf",
            doc(&format!("{cut}\\objdata {good}")),
        ),
        (
            "objdata_restarts_newline.rtf",
            doc(&format!("{cut}\r\n\\objdata {good}\r\n")),
        ),
        (
            "object_ends_data.rtf",
            doc(&format!("{cut}\\object {good}")),
        ),
        (
            "object_then_group.rtf",
            doc(&format!("{cut}\\object{{\\*\\objdata {good}}}")),
        ),
        ("object_before_text.rtf", doc(&format!("\\object {good}"))),
        ("objdata_before_text.rtf", doc(&format!("\\objdata {good}"))),
        (
            "cut_package_is_data.rtf",
            doc(&format!("{bare}\\objdata 00")),
        ),
        ("cut_package_at_group_end.rtf", doc(&bare)),
        (
            "cut_marker_in_first_block.rtf",
            doc(&cut_package(&[marker, &[0u8; 9000][..]].concat())),
        ),
        (
            "cut_marker_past_first_block.rtf",
            doc(&cut_package(
                &[&[0u8; 8200][..], marker, &[0u8; 100]].concat(),
            )),
        ),
    ]
}

/// The hex of a Package object whose header promises 20000 bytes of data and that holds
/// only `data` (clamd copies whole 8 KiB blocks of it out).
fn cut_package(data: &[u8]) -> String {
    let mut o = fixtures::documents::ole1_object("Package", &vec![0u8; 20_000]);
    o.truncate(o.len() - 20_000);
    o.extend_from_slice(data);
    o.iter().map(|x| format!("{x:02x}")).collect()
}

/// CLAMD-DET-7: the RTF variants of [`rtf_action_words_in_objdata`] with EICAR: the fake's
/// SCAN and INSTREAM replies equal clamd 1.4.6's byte for byte.
#[test]
fn rtf_action_words_in_objdata_fake_replies_equal_real_clamd() {
    eicar_inputs_same_as_clamd("rtf-actions", rtf_action_words_in_objdata);
}

/// A BinHex file `name` whose data fork is `head` then `spaces` spaces, the spaces
/// run-length coded (far smaller than the fork), and an empty resource fork.
fn binhex_runs(name: &str, head: &[u8], spaces: usize) -> Vec<u8> {
    let mut raw = vec![name.len() as u8];
    raw.extend_from_slice(name.as_bytes());
    raw.push(0);
    raw.extend_from_slice(b"APPLmdos\0\0");
    raw.extend_from_slice(&((head.len() + spaces) as u32).to_be_bytes());
    raw.extend_from_slice(&[0; 4 + 2]);
    raw.extend_from_slice(head);
    let mut left = spaces;
    while left > 0 {
        // a space, then 0x90 n: n - 1 more of it
        let n = left.min(255);
        raw.push(b' ');
        if n > 1 {
            raw.extend_from_slice(&[0x90, n as u8]);
        }
        left -= n;
    }
    raw.extend_from_slice(&[0; 2 + 2]);
    fixtures::legacy_archives::binhex_text(&raw)
}

/// CLAMD-DET-7, CLAMD-CONF-3: BinHex and TNEF members larger than `MaxFileSize` (the
/// marker at their start, found by its body) while the container itself fits: a BinHex data
/// fork run-length coded to a fraction of its size, BinHex texts cut short whose header
/// declares a data or resource fork over the limit (clamd checks the declared size and
/// skips the fork, however little of it is there), and TNEF inside gzip (the TNEF over the limit, the gzip
/// under it); each under `MaxFileSize 2048`, with and without `AlertExceedsMax`, and under a
/// limit they fit: the fake's replies equal clamd 1.4.6's.
#[test]
fn binhex_and_tnef_members_over_max_file_size_fake_replies_equal_real_clamd() {
    if !available() {
        return;
    }
    use fixtures::legacy_archives as la;
    let marker = clamd_oracle::env::MARKER_A;
    let mut member = marker.to_vec();
    member.resize(MEMBER, b' ');
    let cut_lines = |text: Vec<u8>| -> Vec<u8> {
        text.split_inclusive(|&b| b == b'\n')
            .take(21)
            .flatten()
            .copied()
            .collect()
    };
    let cut_resource = cut_lines(la::binhex_forks("m.bin", b"hello", &member));
    let tnef = la::tnef_of("m.bin", &member);
    let inputs = owned(vec![
        ("runs.hqx", binhex_runs("m.bin", marker, 8000)),
        ("runs_small.hqx", binhex_runs("m.bin", marker, 1000)),
        // 20 lines: about 950 decoded bytes, the marker among them, no closing `:`
        ("cut.hqx", cut_lines(la::binhex_of("m.bin", &member))),
        ("cut_resource.hqx", cut_resource),
        ("tnef.gz", fixtures::gzip_of(Some("winmail.dat"), &tnef)),
    ]);
    for (name, data) in &inputs {
        assert!(data.len() < 2048, "{name}: {} bytes", data.len());
    }
    let mut failures = Vec::new();
    for conf in [
        vec!["MaxFileSize 2048"],
        vec!["MaxFileSize 2048", "AlertExceedsMax yes"],
        vec!["MaxFileSize 100M"],
    ] {
        let env = OracleEnv::create().expect("oracle env");
        let conf: Vec<String> = conf.iter().map(|l| l.to_string()).collect();
        let servers = start_with(&env, &Path::new(TESTFILES).join("clam.exe"), &conf);
        failures.extend(differing(&env, &servers, &conf.join(", "), &inputs));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
