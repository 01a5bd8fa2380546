//! Content inputs for the engine rows, written at run time (clean data from a fixed seed):
//! an mbox of MIME messages with base64 attachments and a 7z of LZMA2-compressed members.
//! Each ends with EICAR (built at run time, never stored), so a daemon answers `FOUND` only
//! after decoding the whole input.

use std::io::{self, Write};
use std::path::Path;

use base64::Engine as _;

/// Clean pseudo-random bytes (`fixtures`' generator: no signature matches them).
fn random(seed: u64, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    fixtures::write_clean_random(seed, len as u64, &mut v).expect("memory write");
    v
}

/// Compressible text: the random bytes mapped onto lower-case letters, spaces and newlines.
fn text(seed: u64, len: usize) -> Vec<u8> {
    const A: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz    \n.";
    random(seed, len)
        .into_iter()
        .map(|b| A[usize::from(b & 31)])
        .collect()
}

/// Base64 in 76-character lines (RFC 2045), LF line ends as in an mbox.
fn base64_lines(data: &[u8]) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = String::with_capacity(b.len() + b.len() / 76 + 1);
    for line in b.as_bytes().chunks(76) {
        // base64 output is ASCII
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out
}

fn message(w: &mut impl Write, n: u64, attachment: &[u8]) -> io::Result<()> {
    write!(
        w,
        "From sender{n}@example.com Mon Jan  5 10:00:00 2026\n\
         From: Sender {n} <sender{n}@example.com>\n\
         To: uploads@example.com\n\
         Subject: report {n}\n\
         Date: Mon, 5 Jan 2026 10:00:00 +0000\n\
         Message-ID: <{n}@example.com>\n\
         MIME-Version: 1.0\n\
         Content-Type: multipart/mixed; boundary=\"b-{n}\"\n\n\
         This is a multi-part message in MIME format.\n\
         --b-{n}\n\
         Content-Type: text/plain; charset=us-ascii\n\n\
         Please find report {n} attached.\n\n\
         --b-{n}\n\
         Content-Type: application/octet-stream; name=\"report-{n}.bin\"\n\
         Content-Transfer-Encoding: base64\n\
         Content-Disposition: attachment; filename=\"report-{n}.bin\"\n\n\
         {}\
         --b-{n}--\n\n",
        base64_lines(attachment)
    )
}

/// Writes an mbox of about `target` bytes at `path`: messages with a text part and a 48 KiB
/// base64 attachment each, the last one's attachment EICAR. Returns the size written.
pub fn write_mailbox(path: &Path, target: u64) -> io::Result<u64> {
    let mut w = io::BufWriter::new(std::fs::File::create(path)?);
    let mut n = 0u64;
    let mut written = 0u64;
    while written < target {
        let mut m = Vec::new();
        message(&mut m, n, &random(1000 + n, 48 * 1024))?;
        w.write_all(&m)?;
        written += m.len() as u64;
        n += 1;
    }
    let mut m = Vec::new();
    message(&mut m, n, &scan_engine::eicar())?;
    w.write_all(&m)?;
    w.flush()?;
    Ok(written + m.len() as u64)
}

/// Writes a 7z of about `target` bytes at `path`: 1 MiB members, each its own LZMA2 block
/// (level 1), three random to one text (which compresses), then EICAR. Returns the size.
pub fn write_7z(path: &Path, target: u64) -> io::Result<u64> {
    use sevenz_rust2::encoder_options::Lzma2Options;
    use sevenz_rust2::{ArchiveEntry, ArchiveWriter, EncoderConfiguration};
    let err = |e: sevenz_rust2::Error| io::Error::other(e.to_string());
    let mut w = ArchiveWriter::create(path).map_err(err)?;
    w.set_content_methods(vec![EncoderConfiguration::from(Lzma2Options::from_level(
        1,
    ))]);
    let mut n = 0u64;
    // the writer appends each block as it goes: the file's size is the archive's so far
    while std::fs::metadata(path)?.len() < target {
        let data = match n % 4 {
            3 => text(2000 + n, 1 << 20),
            _ => random(2000 + n, 1 << 20),
        };
        let name = format!("data/part-{n:04}.bin");
        w.push_archive_entry(ArchiveEntry::new_file(&name), Some(data.as_slice()))
            .map_err(err)?;
        n += 1;
    }
    let e = scan_engine::eicar();
    w.push_archive_entry(ArchiveEntry::new_file("data/z.com"), Some(e.as_slice()))
        .map_err(err)?;
    w.finish()?;
    Ok(std::fs::metadata(path)?.len())
}
