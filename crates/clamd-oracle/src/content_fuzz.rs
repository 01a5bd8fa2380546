//! Content differential fuzzer (CLAMD-DET-7): scan inputs generated from the fixtures'
//! container and document builders (nested up to three deep), with structured mutations at
//! any layer (truncation, byte flips, insertions, deletions, overwritten size/length/CRC-like
//! fields, duplicated ranges), sent by INSTREAM to two servers started from the same
//! clamd.conf (which lowers clamd's Max* limits, see [`LIMITS_CONF`]); the reply bytes must be
//! identical. A divergence is shrunk through proptest's value tree.
//!
//! Inputs stay under [`MAX_INPUT`] so thousands run in minutes. EICAR is built at run time
//! and never printed: [`ContentInput::shown`] writes it as `<EICAR>`.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::strategy::ValueTree;

use crate::runner::Target;
use crate::sigs::{eicar, MARKER_A};
use fixtures::documents as doc;
use fixtures::legacy_archives as la;

/// Largest input sent (bigger renders are cut here).
pub const MAX_INPUT: usize = 64 * 1024;
/// `MaxFileSize` of [`LIMITS_CONF`]: payload sizes are drawn around it.
pub const MAX_FILE_SIZE: usize = 8192;
/// clamd.conf lines both servers get: clamd's Max* limits lowered so that small inputs reach
/// them (CLAMD-CONF-3).
pub const LIMITS_CONF: &[&str] = &[
    "MaxFileSize 8192",
    "MaxScanSize 32768",
    "MaxFiles 12",
    "MaxRecursion 4",
];

/// The innermost file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// The 68-byte EICAR file (found by its whole-file hash only).
    Eicar,
    /// Marker A inside a few clean bytes (found by its body anywhere).
    Marker,
    /// `len` clean bytes.
    Clean(usize),
    /// `len` bytes with marker A at the start or the end (sizes around `MaxFileSize`).
    Sized { len: usize, marker_at_end: bool },
}

impl Payload {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Payload::Eicar => eicar(),
            Payload::Marker => [b"xx ".as_slice(), MARKER_A, b" yy\n"].concat(),
            Payload::Clean(n) => b"clean text, nothing to find. ".repeat(n / 29 + 1)[..*n].to_vec(),
            Payload::Sized { len, marker_at_end } => {
                let len = (*len).max(MARKER_A.len());
                let mut v = vec![b'.'; len - MARKER_A.len()];
                if *marker_at_end {
                    v.extend_from_slice(MARKER_A);
                } else {
                    v.splice(0..0, MARKER_A.iter().copied());
                }
                v
            }
        }
    }
}

/// A container or document format that wraps the layer inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrap {
    ZipStored,
    ZipDeflate,
    Tar,
    Gzip,
    Bzip2,
    Xz,
    SevenZ,
    CpioNewc,
    CpioOdc,
    MimeBase64,
    MimeQp,
    MimeUu,
    BinHex,
    Tnef,
    CabStored,
    CabMszip,
    Arj,
    Szdd,
    Sis,
    ZipImplode,
    /// A non-recursive zip bomb's overlapping members, 5 to 8 of them over the layer
    /// inside (around clamd's limit of five overlaps, `Heuristics.Zip.OverlappingFiles`).
    ZipOverlapping,
    Chm,
    Ole2,
    Ole2Package,
    RtfPackage,
    PdfRaw,
    PdfFlate,
    PdfHexFlate,
    HtmlDataUri,
}

/// Every [`Wrap`], for the strategy.
pub const WRAPS: &[Wrap] = &[
    Wrap::ZipStored,
    Wrap::ZipDeflate,
    Wrap::Tar,
    Wrap::Gzip,
    Wrap::Bzip2,
    Wrap::Xz,
    Wrap::SevenZ,
    Wrap::CpioNewc,
    Wrap::CpioOdc,
    Wrap::MimeBase64,
    Wrap::MimeQp,
    Wrap::MimeUu,
    Wrap::BinHex,
    Wrap::Tnef,
    Wrap::CabStored,
    Wrap::CabMszip,
    Wrap::Arj,
    Wrap::Szdd,
    Wrap::Sis,
    Wrap::ZipImplode,
    Wrap::ZipOverlapping,
    Wrap::Chm,
    Wrap::Ole2,
    Wrap::Ole2Package,
    Wrap::RtfPackage,
    Wrap::PdfRaw,
    Wrap::PdfFlate,
    Wrap::PdfHexFlate,
    Wrap::HtmlDataUri,
];

/// A position in a layer's bytes, as a fraction of their length (in 1/65536ths).
pub type Pos = u16;

/// Where `p` falls in `len` bytes (below `len`; 0 when empty).
fn pos_in(p: Pos, len: usize) -> usize {
    (usize::from(p) * len) >> 16
}

/// A structured change to a layer's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    /// Cut the bytes at this position.
    Truncate(Pos),
    /// XOR one byte.
    Flip(Pos, u8),
    /// Insert bytes.
    Insert(Pos, Vec<u8>),
    /// Delete up to `n` bytes.
    Delete(Pos, usize),
    /// Overwrite a little-endian field of `width` bytes (1, 2 or 4) with a declared-size-like
    /// value: 0, all ones, the layer's length plus `delta`, or the field's value plus `delta`.
    Field {
        at: Pos,
        width: usize,
        value: FieldValue,
    },
    /// Copy a range (up to `len` bytes) to another position (a duplicated member or header).
    Duplicate { from: Pos, len: usize, to: Pos },
}

/// A value [`Mutation::Field`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValue {
    Zero,
    Ones,
    LenPlus(i32),
    OldPlus(i32),
}

/// One wrapping of the input inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub wrap: Wrap,
    /// Clean members beside the inner one (formats with several members: zip, tar, MIME,
    /// OLE2).
    pub siblings: usize,
    /// The inner member twice.
    pub duplicate: bool,
    /// Applied to this layer's bytes, in order, before the next layer wraps them.
    pub mutations: Vec<Mutation>,
}

/// A generated scan input: a payload, wrapped by `layers` innermost first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentInput {
    pub payload: Payload,
    pub layers: Vec<Layer>,
}

fn payload() -> impl Strategy<Value = Payload> {
    let around = prop_oneof![(MAX_FILE_SIZE - 2..=MAX_FILE_SIZE + 2), (100usize..12_000),];
    prop_oneof![
        5 => Just(Payload::Eicar),
        3 => Just(Payload::Marker),
        1 => (0usize..300).prop_map(Payload::Clean),
        2 => (around, any::<bool>()).prop_map(|(len, marker_at_end)| Payload::Sized { len, marker_at_end }),
    ]
}

fn field_value() -> impl Strategy<Value = FieldValue> {
    prop_oneof![
        Just(FieldValue::Zero),
        Just(FieldValue::Ones),
        (-2i32..=2).prop_map(FieldValue::LenPlus),
        prop_oneof![-16i32..=16, Just(4096), Just(-4096), Just(1 << 16)]
            .prop_map(FieldValue::OldPlus),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => any::<Pos>().prop_map(Mutation::Truncate),
        3 => (any::<Pos>(), 1u8..=255).prop_map(|(i, x)| Mutation::Flip(i, x)),
        1 => (any::<Pos>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => (any::<Pos>(), 1usize..16).prop_map(|(i, n)| Mutation::Delete(i, n)),
        3 => (any::<Pos>(), prop_oneof![Just(1usize), Just(2), Just(4)], field_value())
            .prop_map(|(at, width, value)| Mutation::Field { at, width, value }),
        1 => (any::<Pos>(), 1usize..600, any::<Pos>())
            .prop_map(|(from, len, to)| Mutation::Duplicate { from, len, to }),
    ]
}

fn layer() -> impl Strategy<Value = Layer> {
    (
        proptest::sample::select(WRAPS),
        prop_oneof![3 => Just(0usize), 1 => 1usize..3],
        proptest::bool::weighted(0.15),
        proptest::collection::vec(mutation(), 0..3),
    )
        .prop_map(|(wrap, siblings, duplicate, mutations)| Layer {
            wrap,
            siblings,
            duplicate,
            mutations,
        })
}

/// The generator: a payload in 1 to 3 layers; mutations on about half the layers.
/// `exclude_known`: never generate the shapes of [`known_mismatch`].
pub fn content_input(exclude_known: bool) -> impl Strategy<Value = ContentInput> {
    (payload(), proptest::collection::vec(layer(), 1..=3))
        .prop_map(|(payload, layers)| ContentInput { payload, layers })
        .prop_filter("a known mismatch (MISMATCHES.md)", move |i| {
            !exclude_known || known_mismatch(i).is_none()
        })
}

/// Input shapes where the fake is known to differ from clamd 1.4.6, with the name of their
/// entry in `conformance/oracle/MISMATCHES.md` ("Content fuzzer"): excluded from the runs
/// (unless `exclude_known` is off) so that a run reports new divergences only.
pub fn known_mismatch(input: &ContentInput) -> Option<&'static str> {
    let layers = &input.layers;
    for (k, l) in layers.iter().enumerate() {
        let mutated = !l.mutations.is_empty();
        let inner = k.checked_sub(1).map(|i| layers[i].wrap);
        // damaged bytes (anything but a cut) inside the deflate data
        let garbled = l
            .mutations
            .iter()
            .any(|m| !matches!(m, Mutation::Truncate(_)));
        // zip and tar are read as clamd reads them, damage included; but a mutation of one
        // can land in a member's bytes: it is then damage to the layer inside
        let archive = matches!(
            l.wrap,
            Wrap::ZipStored
                | Wrap::ZipDeflate
                | Wrap::ZipImplode
                | Wrap::ZipOverlapping
                | Wrap::Tar
        );
        if archive && mutated && k > 0 {
            let mut moved = input.clone();
            let mutations = std::mem::take(&mut moved.layers[k].mutations);
            moved.layers[k - 1].mutations.extend(mutations);
            if let Some(name) = known_mismatch(&moved) {
                return Some(name);
            }
        }
        let name = match l.wrap {
            Wrap::SevenZ if mutated => Some("7z-damaged"),
            Wrap::Xz if mutated => Some("xz-damaged"),
            Wrap::Gzip if garbled => Some("gzip-damaged-deflate"),
            Wrap::Bzip2 if garbled => Some("bzip2-damaged"),
            // what the SZDD holds (the payload and the layers inside it) past MaxFileSize
            Wrap::Szdd
                if k + 1 < layers.len()
                    && matches!(input.payload, Payload::Sized { len, .. } if len + 1024 * k > MAX_FILE_SIZE) =>
            {
                Some("szdd-over-max-file-size-nested")
            }
            // a mail in a PDF in a mail
            Wrap::PdfRaw
                if matches!(inner, Some(Wrap::MimeBase64 | Wrap::MimeQp | Wrap::MimeUu))
                    && matches!(
                        layers.get(k + 1).map(|o| o.wrap),
                        Some(Wrap::MimeBase64 | Wrap::MimeQp | Wrap::MimeUu)
                    ) =>
            {
                Some("mail-in-pdf-in-mail")
            }
            Wrap::CabStored | Wrap::CabMszip if mutated => Some("cab-damaged"),
            Wrap::CabMszip if matches!(input.payload, Payload::Sized { .. }) => {
                Some("cab-mszip-near-max-file-size")
            }
            Wrap::Ole2 | Wrap::Ole2Package if mutated => Some("ole2-damaged"),
            // a Package three layers deep, in another Package, or with HTML (whose
            // normalised copies are a level of their own): MaxRecursion levels
            Wrap::Ole2Package
                if layers.len() >= 3
                    || layers
                        .iter()
                        .filter(|o| matches!(o.wrap, Wrap::Ole2Package | Wrap::HtmlDataUri))
                        .count()
                        >= 2 =>
            {
                Some("ole2-package-nested")
            }
            // an ARJ cut by an outer container's MaxFileSize
            Wrap::Arj
                if k + 1 < layers.len()
                    && matches!(input.payload, Payload::Sized { len, .. } if len + 1024 * k > MAX_FILE_SIZE) =>
            {
                Some("arj-cut-by-max-file-size")
            }
            // an RTF Package three layers deep (seen: in a 7z in a PDF raw stream)
            Wrap::RtfPackage if layers.len() >= 3 => Some("rtf-package-nested"),
            Wrap::Tnef
            | Wrap::Chm
            | Wrap::Szdd
            | Wrap::CpioNewc
            | Wrap::CpioOdc
            | Wrap::Arj
            | Wrap::BinHex
            | Wrap::Sis
                if mutated =>
            {
                Some("legacy-damaged")
            }
            Wrap::MimeBase64 | Wrap::MimeQp | Wrap::MimeUu | Wrap::HtmlDataUri if mutated => {
                Some("text-damaged")
            }
            Wrap::PdfRaw | Wrap::PdfFlate | Wrap::PdfHexFlate | Wrap::RtfPackage if mutated => {
                Some("document-damaged")
            }
            _ => None,
        };
        if name.is_some() {
            return name;
        }
    }
    None
}

fn qp(data: &[u8]) -> String {
    let mut s = String::new();
    let mut col = 0;
    for &b in data {
        let piece = if (b == b' ' || b.is_ascii_graphic()) && b != b'=' {
            (b as char).to_string()
        } else {
            format!("={b:02X}")
        };
        if col + piece.len() > 73 {
            s.push_str("=\r\n");
            col = 0;
        }
        col += piece.len();
        s.push_str(&piece);
    }
    s
}

impl Wrap {
    /// Whether the format holds several members (siblings and duplicates apply).
    fn multi(self) -> bool {
        matches!(
            self,
            Wrap::ZipStored
                | Wrap::ZipDeflate
                | Wrap::Tar
                | Wrap::MimeBase64
                | Wrap::MimeQp
                | Wrap::MimeUu
                | Wrap::Ole2
        )
    }

    /// `inner` (and the clean `others`) in this format.
    fn apply(self, inner: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
        let names: Vec<String> = (0..=others.len()).map(|i| format!("m{i}.bin")).collect();
        let members: Vec<(&str, &[u8])> = std::iter::once(inner)
            .chain(others.iter().map(Vec::as_slice))
            .zip(names.iter())
            .map(|(d, n)| (n.as_str(), d))
            .collect();
        match self {
            Wrap::ZipStored => fixtures::zip_of(&members, false),
            Wrap::ZipDeflate => fixtures::zip_of(&members, true),
            Wrap::Tar => fixtures::tar_of(&members),
            Wrap::Gzip => fixtures::gzip_of(Some("m.bin"), inner),
            Wrap::Bzip2 => {
                fixtures::pipe_through("bzip2", &["-c"], inner).unwrap_or_else(|| inner.to_vec())
            }
            Wrap::Xz => {
                fixtures::pipe_through("xz", &["-c"], inner).unwrap_or_else(|| inner.to_vec())
            }
            Wrap::SevenZ if inner.len() < 0x4000 => {
                fixtures::sevenz_one_of("m.bin", inner, inner.len(), &[0x01, 0x00])
            }
            // larger than the hand-built 7z takes: a stored zip instead
            Wrap::SevenZ => fixtures::zip_of(&members[..1], false),
            Wrap::CpioNewc => fixtures::cpio_of("070701", "m.bin", inner),
            Wrap::CpioOdc => fixtures::cpio_of("070707", "m.bin", inner),
            Wrap::MimeBase64 | Wrap::MimeQp | Wrap::MimeUu => {
                let parts: Vec<String> = members
                    .iter()
                    .map(|(n, d)| match self {
                        Wrap::MimeBase64 => format!(
                            "Content-Type: application/octet-stream; name=\"{n}\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{}",
                            doc::base64(d, Some(76))
                        ),
                        Wrap::MimeQp => format!(
                            "Content-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\n{}",
                            qp(d)
                        ),
                        _ => format!(
                            "Content-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: x-uuencode\r\n\r\n{}",
                            doc::uuencode(n, d, "\r\n")
                        ),
                    })
                    .collect();
                doc::mime_message("cf", &parts).into_bytes()
            }
            Wrap::BinHex => la::binhex_of("m.bin", inner),
            Wrap::Tnef => la::tnef_of("m.bin", inner),
            Wrap::CabStored => la::cab_stored_of("m.bin", inner),
            Wrap::CabMszip => la::cab_mszip_of("m.bin", inner),
            Wrap::Arj => la::arj_stored_of("m.bin", inner),
            Wrap::Szdd => la::szdd_of(inner),
            Wrap::Sis => la::sis_of(inner),
            Wrap::ZipImplode => la::zip_implode_of("m.bin", inner),
            Wrap::ZipOverlapping => fixtures::overlapping_zip(5 + inner.len() % 4, inner),
            Wrap::Chm => la::chm_stored_of("/m.bin", inner),
            Wrap::Ole2 => {
                let streams: Vec<(String, &[u8])> =
                    members.iter().map(|(n, d)| (format!("/{n}"), *d)).collect();
                let refs: Vec<(&str, &[u8])> =
                    streams.iter().map(|(n, d)| (n.as_str(), *d)).collect();
                doc::ole2_of(&refs)
            }
            Wrap::Ole2Package => doc::ole2_with_package("m.bin", inner),
            Wrap::RtfPackage => doc::rtf_with_package("m.bin", inner),
            Wrap::PdfRaw => doc::pdf_with_embedded_file("m.bin", inner, doc::PdfEncoding::Raw),
            Wrap::PdfFlate => doc::pdf_with_embedded_file("m.bin", inner, doc::PdfEncoding::Flate),
            Wrap::PdfHexFlate => {
                doc::pdf_with_embedded_file("m.bin", inner, doc::PdfEncoding::HexFlate)
            }
            Wrap::HtmlDataUri => doc::html_with_data_uri(inner, true),
        }
    }
}

impl Mutation {
    fn apply(&self, data: &mut Vec<u8>) {
        let len = data.len();
        match self {
            Mutation::Truncate(i) => data.truncate(pos_in(*i, len + 1)),
            Mutation::Flip(i, x) if len > 0 => data[pos_in(*i, len)] ^= x,
            Mutation::Flip(..) => {}
            Mutation::Insert(i, b) => {
                let at = pos_in(*i, len + 1);
                data.splice(at..at, b.iter().copied());
            }
            Mutation::Delete(i, n) if len > 0 => {
                let at = pos_in(*i, len);
                data.drain(at..(at + n).min(len));
            }
            Mutation::Delete(..) => {}
            Mutation::Field { at, width, value } if len >= *width => {
                let at = pos_in(*at, len - width + 1);
                let mut old = [0u8; 4];
                old[..*width].copy_from_slice(&data[at..at + width]);
                let old = u32::from_le_bytes(old) as i64;
                let v = match value {
                    FieldValue::Zero => 0,
                    FieldValue::Ones => -1,
                    FieldValue::LenPlus(d) => len as i64 + i64::from(*d),
                    FieldValue::OldPlus(d) => old + i64::from(*d),
                };
                data[at..at + width].copy_from_slice(&(v as u32).to_le_bytes()[..*width]);
            }
            Mutation::Field { .. } => {}
            Mutation::Duplicate { from, len: n, to } if len > 0 => {
                let start = pos_in(*from, len);
                let piece = data[start..(start + n).min(len)].to_vec();
                let at = pos_in(*to, len + 1);
                data.splice(at..at, piece);
            }
            Mutation::Duplicate { .. } => {}
        }
        data.truncate(MAX_INPUT);
    }
}

impl ContentInput {
    /// The bytes sent (at most [`MAX_INPUT`]).
    pub fn bytes(&self) -> Vec<u8> {
        let mut data = self.payload.bytes();
        for (k, l) in self.layers.iter().enumerate() {
            let mut others: Vec<Vec<u8>> = Vec::new();
            if l.wrap.multi() {
                if l.duplicate {
                    others.push(data.clone());
                }
                for s in 0..l.siblings {
                    others.push(Payload::Clean(40 + 30 * s + k).bytes());
                }
            }
            data = l.wrap.apply(&data, &others);
            data.truncate(MAX_INPUT);
            for m in &l.mutations {
                m.apply(&mut data);
            }
        }
        data
    }

    /// The input for a report: its structure and its bytes as hex, EICAR as `<EICAR>` (never
    /// in plain form), at most `max` bytes of hex.
    pub fn shown(&self, max: usize) -> String {
        let data = self.bytes();
        format!(
            "{self:?}\n  {} bytes: {}",
            data.len(),
            hex_without_eicar(&data, max)
        )
    }
}

/// `data` as hex, each copy of EICAR replaced by `<EICAR>`, cut after `max` bytes.
pub fn hex_without_eicar(data: &[u8], max: usize) -> String {
    let e = eicar();
    let mut s = String::new();
    let mut i = 0;
    while i < data.len().min(max) {
        if data[i..].starts_with(&e) {
            s.push_str("<EICAR>");
            i += e.len();
        } else {
            let _ = write!(s, "{:02x}", data[i]);
            i += 1;
        }
    }
    if data.len() > max {
        let _ = write!(s, "...(+{} bytes)", data.len() - max);
    }
    s
}

/// How long a scan may take before the reply counts as none.
const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// The INSTREAM reply of `target` for `data` (in chunks of 8 KiB), read to the close
/// (bounded); `None` if it could not connect.
pub fn instream_reply(target: &Target, data: &[u8]) -> Option<Vec<u8>> {
    let request = fixtures::clamd_wire::instream_chunked(data, 8192);
    crate::runner::converse(target, &request, 1 << 16, IO_TIMEOUT)
}

/// The reference (real clamd) and the candidate (the fake), both started from
/// [`LIMITS_CONF`].
pub struct ContentPair {
    pub reference: Target,
    pub candidate: Target,
}

/// A divergence: the shrunk input and both replies.
#[derive(Debug, Clone)]
pub struct Divergence {
    pub input: ContentInput,
    pub reference: Vec<u8>,
    pub candidate: Vec<u8>,
}

/// What a run found.
#[derive(Debug, Default)]
pub struct ContentReport {
    pub inputs: usize,
    pub agree: usize,
    /// Inputs the reference found something in.
    pub reference_found: usize,
    pub divergences: Vec<Divergence>,
    pub elapsed: Duration,
}

impl ContentReport {
    pub fn summary(&self) -> String {
        format!(
            "{} inputs in {:.1} s: replies equal on {}, clamd found something in {}, {} divergences",
            self.inputs,
            self.elapsed.as_secs_f64(),
            self.agree,
            self.reference_found,
            self.divergences.len()
        )
    }
}

impl ContentPair {
    /// Both replies, scanned at the same time.
    fn replies(&self, data: &[u8]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        std::thread::scope(|s| {
            let h = s.spawn(|| instream_reply(&self.candidate, data));
            let r = instream_reply(&self.reference, data);
            (r, h.join().ok().flatten())
        })
    }

    /// The two replies if they differ (twice: a loaded machine must not make one).
    fn diverges(&self, input: &ContentInput) -> Option<(Vec<u8>, Vec<u8>)> {
        let data = input.bytes();
        let (r, c) = self.replies(&data);
        if r == c {
            return None;
        }
        let again = self.replies(&data);
        (again.0 != again.1).then(|| (again.0.unwrap_or_default(), again.1.unwrap_or_default()))
    }

    /// Both replies for one input (reference, candidate).
    pub fn check_one(&self, input: &ContentInput) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        self.replies(&input.bytes())
    }

    fn shrink(
        &self,
        tree: impl ValueTree<Value = ContentInput>,
        first: (Vec<u8>, Vec<u8>),
    ) -> Divergence {
        let (input, (reference, candidate)) =
            crate::explore::shrink(tree, first, 256, |cur| self.diverges(cur));
        Divergence {
            input,
            reference,
            candidate,
        }
    }

    /// Runs `n` inputs generated from `seed`, shrinking each divergence (at most
    /// `max_divergences`).
    pub fn explore(
        &self,
        seed: u64,
        n: usize,
        exclude_known: bool,
        max_divergences: usize,
    ) -> ContentReport {
        let t0 = Instant::now();
        // the known-mismatch filter rejects about half of the generated inputs
        let mut runner = crate::explore::runner(seed, u32::MAX);
        let strategy = content_input(exclude_known);
        let mut rep = ContentReport::default();
        for _ in 0..n {
            let Ok(tree) = strategy.new_tree(&mut runner) else {
                continue;
            };
            let input = tree.current();
            rep.inputs += 1;
            let data = input.bytes();
            let (r, c) = self.replies(&data);
            if r.as_deref().is_some_and(|r| r.ends_with(b" FOUND\0")) {
                rep.reference_found += 1;
            }
            if r == c {
                rep.agree += 1;
            } else if let Some(first) = self.diverges(&input) {
                if rep.divergences.len() < max_divergences {
                    rep.divergences.push(self.shrink(tree, first));
                }
            } else {
                rep.agree += 1;
            }
            crate::explore::progress(
                "content fuzz",
                "inputs",
                seed,
                (rep.inputs, n),
                rep.divergences.len(),
                t0,
            );
        }
        rep.elapsed = t0.elapsed();
        rep
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::test_runner::TestRunner;

    /// Every format wraps EICAR into bytes whose report never shows it in plain form or as
    /// plain hex, and rendering is deterministic (a seed replays its inputs; OLE2 storages
    /// carry a time stamp).
    #[test]
    fn every_wrap_renders_deterministically_and_hides_eicar() {
        for &wrap in WRAPS {
            let input = ContentInput {
                payload: Payload::Eicar,
                layers: vec![Layer {
                    wrap,
                    siblings: 1,
                    duplicate: true,
                    mutations: vec![],
                }],
            };
            let a = input.bytes();
            assert!(!a.is_empty(), "{wrap:?}");
            assert!(a.len() <= MAX_INPUT);
            let b = input.bytes();
            // cfb stamps storages with the time: OLE2 renders keep their length only
            if matches!(wrap, Wrap::Ole2Package) {
                assert_eq!(a.len(), b.len(), "{wrap:?} renders the same length twice");
            } else {
                assert!(a == b, "{wrap:?} renders the same twice");
            }
            let shown = input.shown(usize::MAX);
            assert!(!shown.contains("EICAR-STANDARD"), "{wrap:?}");
            assert!(!shown.contains(&hex::encode(eicar())), "{wrap:?}");
        }
    }

    /// Mutations stay in bounds on any length, the empty input included.
    #[test]
    fn mutations_stay_in_bounds() {
        let mut runner = TestRunner::deterministic();
        for _ in 0..2000 {
            let m = mutation().new_tree(&mut runner).unwrap().current();
            for len in [0usize, 1, 3, 100] {
                let mut d = vec![7u8; len];
                m.apply(&mut d);
                assert!(d.len() <= len + 600);
            }
        }
    }

    /// A field mutation writes the declared-size-like value little-endian at its place.
    #[test]
    fn field_mutation_writes_length_plus_delta() {
        let mut runner = TestRunner::deterministic();
        let at = any::<Pos>().new_tree(&mut runner).unwrap().current();
        let mut d = vec![0u8; 10];
        Mutation::Field {
            at,
            width: 2,
            value: FieldValue::LenPlus(1),
        }
        .apply(&mut d);
        let pos = pos_in(at, 9);
        assert_eq!(&d[pos..pos + 2], &[11, 0]);
        assert_eq!(d.iter().filter(|&&b| b != 0).count(), 1);
    }
}
