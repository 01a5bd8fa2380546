//! Recursive archive expansion: the scanned object and each archive member is a *part*;
//! every part is scanned as a stream and reported to a visitor, depth first, a container
//! before its members. Formats are recognised by content: zip `PK\x03\x04`, gzip `1f 8b 08`,
//! tar `ustar` at offset 257 (SVSP-OPT-EXPAND-2; clamd does not check that header's
//! checksum); and, as clamd
//! unpacks them (CLAMD-DET-7), mail (RFC 822 / MIME headers or an mbox `From ` line), bzip2
//! `BZh`, xz `fd 37 7a 58 5a 00`, cpio (`070707`/`070701`/`070702` or a binary header), 7z
//! `37 7a bc af 27 1c`.

use std::io::{self, Read};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;

use crate::limits::{CancelFlag, LimitExceeded, ScanLimits};
use crate::matcher::{Detection, ScanOptions, ScanResult, StreamScanner};
use crate::sigdb::SignatureDb;
use crate::spool::{SpoolReader, SpoolWriter};

// Container formats beyond tar/gzip/zip, one module each (private to the walk).
#[path = "arj.rs"]
mod arj;
#[path = "binhex.rs"]
mod binhex;
#[path = "cab.rs"]
mod cab;
#[path = "chm.rs"]
mod chm;
#[path = "compress.rs"]
mod compress;
#[path = "cpio.rs"]
mod cpio;
#[path = "html.rs"]
mod html;
#[path = "implode.rs"]
mod implode;
#[path = "le.rs"]
mod le;
#[path = "mime.rs"]
mod mime;
#[path = "ole2.rs"]
mod ole2;
#[path = "ole2_v4.rs"]
mod ole2_v4;
#[path = "pdf.rs"]
mod pdf;
#[path = "pdf_filters.rs"]
mod pdf_filters;
#[path = "rtf.rs"]
mod rtf;
#[path = "sevenz.rs"]
mod sevenz;
#[path = "sis.rs"]
mod sis;
#[path = "szdd.rs"]
mod szdd;
#[path = "tnef.rs"]
mod tnef;
#[path = "untar.rs"]
mod untar;
#[path = "unzip.rs"]
mod unzip;

/// Depth limit used for "unlimited" (SVSP-OPT-RECURSE-1).
pub const DEPTH_CAP: u32 = 32;
/// Bytes looked at to recognise a container.
const SNIFF_LEN: usize = 512;
const READ_BUF: usize = 64 * 1024;

/// Which container formats are opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Formats {
    pub tar: bool,
    pub gzip: bool,
    pub zip: bool,
}

impl Default for Formats {
    fn default() -> Self {
        Self::all()
    }
}

impl Formats {
    pub fn all() -> Self {
        Self {
            tar: true,
            gzip: true,
            zip: true,
        }
    }
    pub fn none() -> Self {
        Self {
            tar: false,
            gzip: false,
            zip: false,
        }
    }
}

/// The formats clamd opens beyond tar/gzip/zip (CLAMD-DET-7); all on by default. Set with
/// [`TreeScanner::with_more_formats`] (not a `TreeOptions` field, so that the daemons'
/// `Formats` and `TreeOptions` literals stay valid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoreFormats {
    /// RFC 822 / MIME messages and mbox.
    pub mail: bool,
    pub bzip2: bool,
    pub xz: bool,
    /// odc, newc, crc and binary (both byte orders) cpio archives.
    pub cpio: bool,
    /// 7z archives.
    pub sevenz: bool,
    /// OLE2 compound files (clamd's `ScanOLE2`).
    pub ole2: bool,
    /// RTF embedded objects (clamd 1.4.6 parses RTF under `ScanArchive`, not `ScanOLE2`).
    pub rtf: bool,
    /// PDF streams (clamd's `ScanPDF`).
    pub pdf: bool,
    /// HTML `data:` URIs (clamd's `ScanHTML`; each is a small mail message, see `html.rs`).
    pub html: bool,
    /// BinHex 4.0 text (clamd: `ScanArchive`).
    pub binhex: bool,
    /// SZDD, MS-DOS `COMPRESS.EXE` (clamd: `ScanArchive`).
    pub szdd: bool,
    /// TNEF, `winmail.dat` (clamd: `ScanMail`).
    pub tnef: bool,
    /// Microsoft Cabinet (clamd: `ScanArchive`).
    pub cab: bool,
    /// Symbian SIS before 9 (clamd: `ScanArchive`).
    pub sis: bool,
    /// ARJ (clamd: `ScanArchive`).
    pub arj: bool,
    /// Compiled HTML Help (clamd: `ScanArchive`).
    pub chm: bool,
}

impl Default for MoreFormats {
    fn default() -> Self {
        Self::all()
    }
}

impl MoreFormats {
    pub fn all() -> Self {
        Self {
            mail: true,
            bzip2: true,
            xz: true,
            cpio: true,
            sevenz: true,
            ole2: true,
            rtf: true,
            pdf: true,
            html: true,
            binhex: true,
            szdd: true,
            tnef: true,
            cab: true,
            sis: true,
            arj: true,
            chm: true,
        }
    }
    pub fn none() -> Self {
        Self {
            mail: false,
            bzip2: false,
            xz: false,
            cpio: false,
            sevenz: false,
            ole2: false,
            rtf: false,
            pdf: false,
            html: false,
            binhex: false,
            szdd: false,
            tnef: false,
            cab: false,
            sis: false,
            arj: false,
            chm: false,
        }
    }
}

/// Limits and switches of a tree scan.
#[derive(Debug, Clone)]
pub struct TreeOptions {
    /// A container at depth `d` is opened iff `d < max_depth`; the root is depth 0.
    /// `None` means unlimited, capped at [`DEPTH_CAP`].
    pub max_depth: Option<u32>,
    pub formats: Formats,
    /// Most members expanded in one tree; beyond it expansion stops (`truncated`).
    pub max_members: u64,
    /// Most decompressed bytes in one tree; beyond it expansion stops (`truncated`).
    pub max_expanded_bytes: u64,
    /// A container larger than this is spooled to a temporary file instead of memory.
    pub spill_threshold: usize,
    pub temp_dir: Option<PathBuf>,
    /// Options for every part's scan (SHA-1 on or off).
    pub scan: ScanOptions,
}

impl Default for TreeOptions {
    fn default() -> Self {
        Self {
            max_depth: Some(16),
            formats: Formats::all(),
            max_members: 10_000,
            max_expanded_bytes: 400 << 20,
            spill_threshold: 4 << 20,
            temp_dir: None,
            scan: ScanOptions::default(),
        }
    }
}

impl TreeOptions {
    fn depth_limit(&self) -> u32 {
        self.max_depth.unwrap_or(DEPTH_CAP).min(DEPTH_CAP)
    }

    fn allows(&self, more: MoreFormats, kind: ContainerKind) -> bool {
        let (f, m) = (&self.formats, &more);
        match kind {
            ContainerKind::Tar => f.tar,
            ContainerKind::Gzip => f.gzip,
            ContainerKind::Zip => f.zip,
            ContainerKind::Mail => m.mail,
            ContainerKind::Bzip2 => m.bzip2,
            ContainerKind::Xz => m.xz,
            ContainerKind::Cpio => m.cpio,
            ContainerKind::SevenZ => m.sevenz,
            ContainerKind::Ole2 => m.ole2,
            ContainerKind::Rtf => m.rtf,
            ContainerKind::Pdf => m.pdf,
            ContainerKind::Html => m.html,
            ContainerKind::BinHex => m.binhex,
            ContainerKind::Szdd => m.szdd,
            ContainerKind::Tnef => m.tnef,
            ContainerKind::Cab => m.cab,
            ContainerKind::Sis => m.sis,
            ContainerKind::Arj => m.arj,
            ContainerKind::Chm => m.chm,
        }
    }
}

/// A container format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContainerKind {
    Tar,
    Gzip,
    Zip,
    /// An RFC 822 / MIME message or an mbox.
    Mail,
    Bzip2,
    Xz,
    /// A cpio archive (any of its five header formats).
    Cpio,
    /// A 7z archive.
    SevenZ,
    /// An OLE2 compound file (Word, Excel, PowerPoint).
    Ole2,
    /// An RTF document (its `\objdata` objects).
    Rtf,
    /// A PDF document (its streams).
    Pdf,
    /// An HTML document (its `data:` URIs).
    Html,
    /// BinHex 4.0 text.
    BinHex,
    /// SZDD (MS compress).
    Szdd,
    /// TNEF (`winmail.dat`).
    Tnef,
    /// Microsoft Cabinet.
    Cab,
    /// Symbian SIS (before 9).
    Sis,
    /// An ARJ archive.
    Arj,
    /// Compiled HTML Help.
    Chm,
}

/// One scanned part, as reported to the visitor.
#[derive(Debug)]
pub struct PartEvent<'a> {
    /// Member names below the root, raw as stored; empty for the root itself.
    pub chain: &'a [Vec<u8>],
    pub depth: u32,
    /// `Some` when this part is a container that is opened: its members follow.
    pub opened: Option<ContainerKind>,
    pub result: &'a ScanResult,
}

/// What a tree scan did.
#[derive(Debug, Clone)]
pub struct TreeSummary {
    /// The raw bytes of the root (size, SHA-1, raw detections).
    pub root: ScanResult,
    /// Parts reported, root included.
    pub parts: u64,
    /// A member or size limit stopped the expansion early.
    pub truncated: bool,
    /// The first clamd limit ([`ScanLimits`]) that stopped or shortened the scan.
    pub exceeded: Option<LimitExceeded>,
    /// The first potentially-unwanted alert clamd records on the way (with `HeuristicAlerts
    /// yes`, its default): [`crate::unzip::OVERLAPPING_FILES`]. clamd reports it when the
    /// scan finds nothing else. With [`TreeScanner::with_heuristic_precedence`] the alert is
    /// a detection of the zip's part instead, and not kept here.
    pub potentially_unwanted: Option<&'static str>,
}

/// Visitor over parts; return `Break` to stop the scan.
pub type Visit<'v> = dyn FnMut(PartEvent<'_>) -> ControlFlow<()> + 'v;

/// Recognise a container from its first bytes.
fn sniff(head: &[u8]) -> Option<ContainerKind> {
    if head.starts_with(b"PK\x03\x04") {
        Some(ContainerKind::Zip)
    } else if head.starts_with(&[0x1f, 0x8b, 0x08]) {
        Some(ContainerKind::Gzip)
    } else if head.len() >= 262 && &head[257..262] == b"ustar" {
        // clamd's file type: `ustar` at 257, header checksum unchecked (untar.rs skips bad ones)
        Some(ContainerKind::Tar)
    } else if compress::is_bzip2(head) {
        Some(ContainerKind::Bzip2)
    } else if compress::is_xz(head) {
        Some(ContainerKind::Xz)
    } else if sevenz::is_7z(head) {
        Some(ContainerKind::SevenZ)
    } else if ole2::is_ole2(head) {
        Some(ContainerKind::Ole2)
    } else if rtf::is_rtf(head) {
        Some(ContainerKind::Rtf)
    } else if cpio::sniff(head).is_some() {
        Some(ContainerKind::Cpio)
    } else if arj::is_arj(head) {
        Some(ContainerKind::Arj)
    } else if chm::is_chm(head) {
        Some(ContainerKind::Chm)
    } else if cab::is_cab(head) {
        Some(ContainerKind::Cab)
    } else if tnef::is_tnef(head) {
        Some(ContainerKind::Tnef)
    } else if szdd::is_szdd(head) {
        Some(ContainerKind::Szdd)
    } else if binhex::is_binhex(head) {
        Some(ContainerKind::BinHex)
    } else if sis::is_sis(head) {
        Some(ContainerKind::Sis)
    } else if mime::looks_like_mail(head) {
        Some(ContainerKind::Mail)
    } else if pdf::is_pdf(head) {
        Some(ContainerKind::Pdf)
    } else if html::is_html(head) {
        Some(ContainerKind::Html)
    } else {
        None
    }
}

/// Watches a part's first bytes and spools it when it is a container that may be opened.
/// It sniffs every part, so a container left closed by a depth limit is still known as one.
struct Capture {
    head: Vec<u8>,
    /// Embedded zips (clamd's raw scan), searched while the part may have members.
    embedded: Option<unzip::EmbeddedSearch>,
    /// Whether clamd looks for embedded zips in this part (known once it is sniffed).
    embedded_allowed: bool,
    spool: Option<SpoolWriter>,
    kind: Option<ContainerKind>,
    decided: bool,
    may_open: bool,
    /// A zip is kept even when its members may not be opened (clamd's MaxRecursion): clamd
    /// still indexes its directory, and raises the zip-bomb alert there.
    index_zip: bool,
    more: MoreFormats,
}

/// What a capture found: the container kind (opened or not), and its spool when it may open.
struct Captured {
    kind: Option<ContainerKind>,
    spooled: Option<(ContainerKind, SpoolReader)>,
    /// The part from its first embedded zip on, and where each one starts in it.
    embedded: Option<(SpoolReader, Vec<u64>)>,
}

impl Capture {
    fn new(may_open: bool, index_zip: bool, more: MoreFormats) -> Self {
        Self {
            head: Vec::new(),
            embedded: None,
            embedded_allowed: true,
            spool: None,
            kind: None,
            decided: false,
            may_open,
            index_zip,
            more,
        }
    }

    fn feed(&mut self, data: &[u8], opts: &TreeOptions) -> io::Result<()> {
        if self.may_open && self.embedded_allowed {
            self.embedded
                .get_or_insert_with(|| {
                    unzip::EmbeddedSearch::new(opts.spill_threshold, opts.temp_dir.clone())
                })
                .feed(data)?;
        }
        if self.decided {
            if let Some(s) = self.spool.as_mut() {
                s.write(data)?;
            }
            return Ok(());
        }
        let take = (SNIFF_LEN - self.head.len()).min(data.len());
        self.head.extend_from_slice(&data[..take]);
        if self.head.len() == SNIFF_LEN {
            self.decide(opts)?;
            if let Some(s) = self.spool.as_mut() {
                s.write(&data[take..])?;
            }
        }
        Ok(())
    }

    fn decide(&mut self, opts: &TreeOptions) -> io::Result<()> {
        self.decided = true;
        self.kind = sniff(&self.head).filter(|k| opts.allows(self.more, *k));
        let binary_cpio = matches!(
            cpio::sniff(&self.head),
            Some(cpio::Variant::BinLe | cpio::Variant::BinBe)
        );
        self.embedded_allowed = unzip::embedded_allowed(self.kind, binary_cpio);
        if !self.embedded_allowed {
            self.embedded = None;
        }
        let indexed = self.index_zip && self.kind == Some(ContainerKind::Zip);
        if self.kind.is_some() && (self.may_open || indexed) {
            let mut s = SpoolWriter::new(opts.spill_threshold, opts.temp_dir.clone());
            s.write(&self.head)?;
            self.spool = Some(s);
        }
        self.head = Vec::new();
        Ok(())
    }

    fn finish(mut self, opts: &TreeOptions) -> io::Result<Captured> {
        if !self.decided {
            self.decide(opts)?;
        }
        let spooled = match (self.kind, self.spool) {
            (Some(kind), Some(spool)) => Some((kind, spool.finish()?)),
            _ => None,
        };
        let embedded = match self.embedded {
            Some(search) if self.embedded_allowed => search.finish()?,
            _ => None,
        };
        Ok(Captured {
            kind: self.kind,
            spooled,
            embedded,
        })
    }
}

/// A container whose members are listed by a first pass over its spool: the spool and what
/// that pass found, for the walk to read the members from.
pub(crate) struct Planned<P> {
    pub(crate) spool: SpoolReader,
    pub(crate) plan: P,
}

/// Opens a container by running its first pass `plan` over `spool`; `None` when that pass
/// fails (not this format after all, or unreadable).
pub(crate) fn planned<P: 'static>(
    mut spool: SpoolReader,
    plan: impl FnOnce(&mut SpoolReader) -> io::Result<P>,
) -> Option<Box<dyn MemberSource>>
where
    Planned<P>: MemberSource,
{
    let plan = plan(&mut spool).ok()?;
    Some(Box::new(Planned { spool, plan }))
}

/// A container format module's view of one opened container: it hands its members, one at a
/// time and as streams, to `each` (name as stored, size the container declares if any);
/// `each` returns `false` when the walk wants no more members. A format that cannot go on
/// (corrupt data, an unreadable spool) just returns: that ends the container like its end
/// would (SVSP-SCAN-TREE-3). New formats plug in here, so the walk itself stays one loop.
pub(crate) trait MemberSource {
    fn for_each_member(self: Box<Self>, each: &mut EachMember<'_>);

    /// As [`MemberSource::for_each_member`], for a format whose objects sit at several
    /// depths for clamd's MaxRecursion (an OLE2 Package payload is one level below the
    /// streams, a PowerPoint embedded object at the container's own level): `each` also
    /// takes the level relative to a plain member (0 for one, +1 below it, -1 above it).
    fn for_each_member_at(self: Box<Self>, each: &mut EachMemberAt<'_>) {
        self.for_each_member(&mut |name, data, declared| each(name, data, declared, 0));
    }

    /// clamd extracts this format's members through libmspack (CAB, CHM), which cuts a
    /// member at what is left of `MaxScanSize` and stops, silently, once nothing is left.
    fn cut_at_scan_budget(&self) -> bool {
        false
    }

    /// A clamd limit the format hit while opening (a zip directory indexed up to MaxFiles).
    fn limit_hit(&self) -> Option<LimitExceeded> {
        None
    }
}

/// [`EachMember`] with the level relative to a plain member.
pub(crate) type EachMemberAt<'a> = dyn FnMut(Vec<u8>, &mut dyn Read, Option<u64>, i32) -> bool + 'a;

/// The walk's side of [`MemberSource`]: (name, member bytes, declared size) -> go on?
pub(crate) type EachMember<'a> = dyn FnMut(Vec<u8>, &mut dyn Read, Option<u64>) -> bool + 'a;

/// Test support for the format modules: open `data` with `open` (from a spool, as the walk
/// does) and collect every member as (name, bytes, declared size).
#[cfg(test)]
pub(crate) fn unpack_all(
    data: &[u8],
    open: fn(SpoolReader) -> Option<Box<dyn MemberSource>>,
) -> Vec<(Vec<u8>, Vec<u8>, Option<u64>)> {
    let mut spool = SpoolWriter::new(1 << 20, None);
    spool.write(data).expect("memory spool");
    let mut got = Vec::new();
    if let Some(source) = open(spool.finish().expect("memory spool")) {
        source.for_each_member(&mut |name, r, declared| {
            let mut v = Vec::new();
            r.read_to_end(&mut v).expect("member reads");
            got.push((name, v, declared));
            true
        });
    }
    got
}

/// Test support: (name, bytes) pairs as [`unpack_named`] returns them.
#[cfg(test)]
pub(crate) fn owned(pairs: &[(&[u8], &[u8])]) -> Vec<(Vec<u8>, Vec<u8>)> {
    pairs
        .iter()
        .map(|(n, d)| (n.to_vec(), d.to_vec()))
        .collect()
}

/// [`unpack_all`] without the declared sizes.
#[cfg(test)]
pub(crate) fn unpack_named(
    data: &[u8],
    open: fn(SpoolReader) -> Option<Box<dyn MemberSource>>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let all = unpack_all(data, open);
    all.into_iter()
        .map(|(name, data, _)| (name, data))
        .collect()
}

/// A container whose structure parsed: its members can be listed.
enum Opened {
    Gzip {
        reader: SpoolReader,
        name: Vec<u8>,
    },
    Mail(SpoolReader),
    Bzip2 {
        reader: SpoolReader,
        name: Vec<u8>,
    },
    Xz {
        reader: SpoolReader,
        name: Vec<u8>,
    },
    /// A format module that lists its own members.
    Source(Box<dyn MemberSource>),
    SevenZ(Box<sevenz_rust2::ArchiveReader<SpoolReader>>),
    /// Nothing to unpack, and clamd's potentially-unwanted alert of that name.
    Alert(&'static str),
}

/// What a container is opened with: clamd's limits, the engine's options and the bytes the
/// walk has expanded so far.
struct OpenWith<'a> {
    limits: &'a ScanLimits,
    opts: &'a TreeOptions,
    expanded: u64,
}

impl OpenWith<'_> {
    fn zip_config(&self) -> unzip::Config {
        let max_files = self.limits.max_files;
        unzip::Config {
            cap: self.limits.member_cap(),
            max_files: (max_files != 0).then_some(max_files),
            decode_limit: self.opts.max_expanded_bytes.saturating_sub(self.expanded),
            spill_threshold: self.opts.spill_threshold,
            temp_dir: self.opts.temp_dir.clone(),
        }
    }
}

fn open(
    kind: ContainerKind,
    mut reader: SpoolReader,
    parent_name: &[u8],
    with: OpenWith<'_>,
) -> Option<Opened> {
    // MaxFileSize, for the formats that check a declared member size against it
    let cap = with.limits.member_cap();
    match kind {
        ContainerKind::Tar => untar::open(reader).map(Opened::Source),
        ContainerKind::Mail => Some(Opened::Mail(reader)),
        ContainerKind::Bzip2 => Some(Opened::Bzip2 {
            reader,
            name: compress::derived_name(parent_name, compress::BZIP2_SUFFIXES),
        }),
        ContainerKind::Xz => Some(Opened::Xz {
            reader,
            name: compress::derived_name(parent_name, compress::XZ_SUFFIXES),
        }),
        ContainerKind::Cpio => cpio::open(reader).map(Opened::Source),
        ContainerKind::Ole2 => ole2::open(reader).map(Opened::Source),
        ContainerKind::Rtf => rtf::open(reader).map(Opened::Source),
        ContainerKind::Pdf => pdf::open(reader).map(Opened::Source),
        ContainerKind::Html => html::open(reader).map(Opened::Source),
        ContainerKind::BinHex => binhex::open(reader, cap).map(Opened::Source),
        ContainerKind::Szdd => szdd::open(reader, parent_name).map(Opened::Source),
        ContainerKind::Tnef => tnef::open(reader).map(Opened::Source),
        ContainerKind::Cab => cab::open(reader).map(Opened::Source),
        ContainerKind::Sis => sis::open(reader).map(Opened::Source),
        ContainerKind::Arj => arj::open(reader).map(Opened::Source),
        ContainerKind::Chm => chm::open(reader).map(Opened::Source),
        ContainerKind::SevenZ => sevenz::open(reader).map(|a| Opened::SevenZ(Box::new(a))),
        ContainerKind::Zip => unzip::open(reader, with.zip_config()).map(|o| match o {
            unzip::Opening::Members(source) => Opened::Source(source),
            unzip::Opening::OverlappingFiles => Opened::Alert(unzip::OVERLAPPING_FILES),
        }),
        ContainerKind::Gzip => {
            let mut head = vec![0u8; 4096];
            let n = read_up_to(&mut reader, &mut head).ok()?;
            head.truncate(n);
            io::Seek::seek(&mut reader, io::SeekFrom::Start(0)).ok()?;
            let name = gzip_stored_name(&head).unwrap_or_else(|| derived_gzip_name(parent_name));
            Some(Opened::Gzip { reader, name })
        }
    }
}

/// Fill `buf` from a byte-at-a-time decoder (`next` returns `None` at its end); the count.
pub(crate) fn fill_from(buf: &mut [u8], mut next: impl FnMut() -> Option<u8>) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match next() {
            Some(b) => {
                buf[n] = b;
                n += 1;
            }
            None => break,
        }
    }
    n
}

pub(crate) fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// The original file name from a gzip header (RFC 1952 FNAME), if present.
fn gzip_stored_name(h: &[u8]) -> Option<Vec<u8>> {
    const FEXTRA: u8 = 0x04;
    const FNAME: u8 = 0x08;
    let flags = *h.get(3)?;
    if flags & FNAME == 0 {
        return None;
    }
    let mut pos = 10;
    if flags & FEXTRA != 0 {
        let xlen = u16::from_le_bytes([*h.get(10)?, *h.get(11)?]) as usize;
        pos = 12 + xlen;
    }
    let rest = h.get(pos..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    Some(rest[..end].to_vec())
}

/// SVSP-NAME-6: the container's base name with the compression suffix removed.
fn derived_gzip_name(parent: &[u8]) -> Vec<u8> {
    let base = match parent.iter().rposition(|&b| b == b'/') {
        Some(i) => &parent[i + 1..],
        None => parent,
    };
    let lower = base.to_ascii_lowercase();
    if lower.ends_with(b".tgz") {
        let mut v = base[..base.len() - 4].to_vec();
        v.extend_from_slice(b".tar");
        v
    } else if lower.ends_with(b".gz") {
        base[..base.len() - 3].to_vec()
    } else if lower.ends_with(b".z") {
        base[..base.len() - 2].to_vec()
    } else {
        base.to_vec()
    }
}

/// Why a walk stopped early.
enum Stop {
    Visitor,
    Limit,
    /// clamd's MaxScanSize: the container being expanded ends, its parent goes on.
    ContainerDone,
    Cancelled,
}

struct Walk<'a, 'v> {
    db: Arc<SignatureDb>,
    opts: &'a TreeOptions,
    more: MoreFormats,
    limits: ScanLimits,
    cancel: Option<CancelFlag>,
    visit: &'a mut Visit<'v>,
    chain: Vec<Vec<u8>>,
    members: u64,
    expanded: u64,
    parts: u64,
    truncated: bool,
    /// clamd's scan budget used so far (the object, then members as scanned).
    budget_used: u64,
    /// Members scanned, for clamd's MaxFiles.
    files: u64,
    exceeded: Option<LimitExceeded>,
    potentially_unwanted: Option<&'static str>,
    /// clamd's `HeuristicScanPrecedence yes`: an alert is reported like a signature.
    heuristic_precedence: bool,
    /// clamd's all-match mode: every part's [`ScanResult::all`] is filled in.
    all_matches: bool,
}

impl Walk<'_, '_> {
    /// Record a clamd limit and stop the scan.
    fn exceed(&mut self, limit: LimitExceeded) -> Result<(), Stop> {
        self.exceeded.get_or_insert(limit);
        Err(Stop::Limit)
    }

    fn cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(CancelFlag::is_cancelled)
    }

    /// Whether a part at `depth` may be opened; notes a closed container when clamd's
    /// MaxRecursion (not the daemon's own depth cap) kept it closed.
    fn note_recursion_limit(&mut self, depth: u32, sniffed: Option<ContainerKind>) {
        let by_depth = depth < self.opts.depth_limit();
        if sniffed.is_some() && by_depth && !self.limits.level_allowed(depth + 1) {
            self.exceeded.get_or_insert(LimitExceeded::MaxRecursion);
        }
    }

    /// Whether an object a format places off its members' level, at `depth`, is scanned;
    /// notes clamd's MaxRecursion when that keeps it out. The nesting itself is capped too,
    /// so objects at their container's level cannot recurse without end.
    fn level_allowed_at(&mut self, depth: u32) -> bool {
        let by_limit = self.limits.level_allowed(depth);
        if !by_limit {
            self.exceeded.get_or_insert(LimitExceeded::MaxRecursion);
        }
        by_limit && depth <= self.opts.depth_limit() && self.chain.len() < DEPTH_CAP as usize
    }

    fn may_open(&self, depth: u32) -> bool {
        depth < self.opts.depth_limit() && self.limits.level_allowed(depth + 1)
    }

    fn report(
        &mut self,
        depth: u32,
        opened: Option<ContainerKind>,
        result: &ScanResult,
    ) -> Result<(), Stop> {
        self.parts += 1;
        let event = PartEvent {
            chain: &self.chain,
            depth,
            opened,
            result,
        };
        match (self.visit)(event) {
            ControlFlow::Continue(()) => Ok(()),
            ControlFlow::Break(()) => Err(Stop::Visitor),
        }
    }

    /// Report a container, then expand it.
    fn container(
        &mut self,
        depth: u32,
        captured: Captured,
        result: &ScanResult,
        name: &[u8],
    ) -> Result<(), Stop> {
        self.note_recursion_limit(depth, captured.kind);
        let with = OpenWith {
            limits: &self.limits,
            opts: self.opts,
            expanded: self.expanded,
        };
        let zip_config = with.zip_config();
        let may_open = self.may_open(depth);
        // a zip kept only for its directory (MaxRecursion) gives its alert, never members
        let opened = captured
            .spooled
            .and_then(|(kind, r)| open(kind, r, name, with).map(|o| (kind, o)))
            .filter(|(_, o)| may_open || matches!(o, Opened::Alert(_)));
        // With HeuristicScanPrecedence clamd reports the alert like a signature, before the
        // zip's own bytes are matched (it indexes the directory first): an all-match scan
        // lists it in that place and goes on, any other scan ends with it.
        if let (Some((kind, Opened::Alert(alert))), true) = (&opened, self.heuristic_precedence) {
            let mut first = result.clone();
            let alert = Detection {
                name: alert.to_string(),
                end_offset: None,
            };
            if let Some(all) = first.all.as_mut() {
                all.raw.insert(0, alert.clone());
            }
            first.detections.insert(0, alert);
            return self.report(depth, Some(*kind), &first);
        }
        self.report(depth, opened.as_ref().map(|(k, _)| *k), result)?;
        if let Some((_, o)) = opened {
            self.expand(o, depth)?;
        }
        // clamd's raw scan, after the part's own members, unpacks its embedded zips
        match captured
            .embedded
            .and_then(|e| unzip::open_embedded(e, zip_config))
        {
            Some(source) => self.expand(Opened::Source(source), depth),
            None => Ok(()),
        }
    }

    fn expand(&mut self, opened: Opened, depth: u32) -> Result<(), Stop> {
        match opened {
            Opened::Gzip { reader, name } => {
                // clamd 1.4.6 (`cli_scangzip`) scans what inflated before a bad or cut-short
                // stream: an error ends the member's data (the trailer is checked last)
                let zlib = compress::Zlib::gzip(io::BufReader::with_capacity(16 * 1024, reader));
                let mut dec = compress::UntilError::new(zlib);
                self.next_member(&mut dec, name, depth + 1, None)?;
            }
            Opened::Bzip2 { reader, name } => {
                let mut dec = compress::bzip2_reader(reader);
                self.next_member(&mut dec, name, depth + 1, None)?;
            }
            Opened::Xz { reader, name } => {
                let mut dec = compress::xz_reader(reader);
                self.next_member(&mut dec, name, depth + 1, None)?;
            }
            Opened::Source(source) => {
                if let Some(limit) = source.limit_hit() {
                    self.exceeded.get_or_insert(limit);
                }
                let mut stop = None;
                // CAB/CHM: libmspack cuts members at the scan budget left
                let cut = source.cut_at_scan_budget();
                source.for_each_member_at(&mut |name, data, declared, rel| {
                    let at = (depth + 1).saturating_add_signed(rel);
                    if rel != 0 && !self.level_allowed_at(at) {
                        return true;
                    }
                    let left = self.limits.scan_budget_left(self.budget_used);
                    let (declared, mut data) = match (cut, left, declared) {
                        (true, Some(0), _) => return false,
                        (true, Some(left), Some(d)) => (Some(d.min(left)), data.take(left)),
                        _ => (declared, data.take(u64::MAX)),
                    };
                    let outcome = self.next_member(&mut data, name, at, declared);
                    outcome.unwrap_or_else(|s| {
                        stop = Some(s);
                        false
                    })
                });
                if let Some(s) = stop {
                    return Err(s);
                }
            }
            Opened::SevenZ(mut archive) => self.expand_7z(&mut archive, depth)?,
            Opened::Alert(name) => {
                self.potentially_unwanted.get_or_insert(name);
            }
            Opened::Mail(mut reader) => {
                let mut index = mime::Indexer::new();
                // an unreadable spool ends the message like its end would
                while let Ok(Some(part)) = index.next_part(&mut reader) {
                    if io::Seek::seek(&mut reader, io::SeekFrom::Start(part.start)).is_err() {
                        break;
                    }
                    let body = io::BufReader::with_capacity(
                        16 * 1024,
                        (&mut reader).take(part.end - part.start),
                    );
                    let mut decoded = mime::Decoder::new(body, part.encoding);
                    if !self.next_member(&mut decoded, part.name, depth + 1, None)? {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// The members of a 7z archive, decoded block by block as streams.
    fn expand_7z(
        &mut self,
        archive: &mut sevenz_rust2::ArchiveReader<SpoolReader>,
        depth: u32,
    ) -> Result<(), Stop> {
        use sevenz_rust2::EntryDecision;
        let mut stop = None;
        let cap = self.limits.member_cap();
        // a decode error or a bad CRC ends the archive (SVSP-SCAN-TREE-3: not an error)
        let _ = archive.for_each_entries_with_decision(|entry, data| {
            if entry.is_directory() || entry.is_anti_item() || !entry.has_stream() {
                return Ok(EntryDecision::Continue);
            }
            let size = entry.size();
            let name = entry.name().as_bytes().to_vec();
            match self.next_member(data, name, depth + 1, Some(size)) {
                Ok(true) => {
                    // the rest of a member cut at MaxFileSize is decoded (to reach the next
                    // member of a solid block) only while it fits the expansion budget
                    let rest = cap.map_or(0, |c| size.saturating_sub(c));
                    let after = self.expanded.saturating_add(rest);
                    if after > self.opts.max_expanded_bytes {
                        return Ok(EntryDecision::SkipBlock);
                    }
                    self.expanded = after;
                    Ok(EntryDecision::Continue)
                }
                Ok(false) => Ok(EntryDecision::Stop),
                Err(s) => {
                    stop = Some(s);
                    Ok(EntryDecision::Stop)
                }
            }
        });
        stop.map_or(Ok(()), Err)
    }

    /// Scan one member of a container; `Ok(false)` when the container is done.
    fn next_member(
        &mut self,
        reader: &mut dyn Read,
        name: Vec<u8>,
        depth: u32,
        declared: Option<u64>,
    ) -> Result<bool, Stop> {
        match self.member(reader, name, depth, declared) {
            Err(Stop::ContainerDone) => Ok(false),
            other => other.map(|()| true),
        }
    }

    /// Scan one member; an unreadable or corrupt member is skipped (SVSP-SCAN-TREE-3).
    /// `declared` is the size the container states (zip, tar); clamd's limits apply as
    /// described in [`crate::limits`].
    fn member(
        &mut self,
        reader: &mut dyn Read,
        name: Vec<u8>,
        depth: u32,
        declared: Option<u64>,
    ) -> Result<(), Stop> {
        self.members += 1;
        if self.members > self.opts.max_members {
            self.truncated = true;
            return Err(Stop::Limit);
        }
        if !self.limits.files_allowed(self.files) {
            return self.exceed(LimitExceeded::MaxFiles);
        }
        self.files += 1;
        let cap = self.limits.member_cap();
        // a declared size is truncated to MaxFileSize and must fit the budget up front
        let want = declared.map(|d| cap.map_or(d, |c| d.min(c)));
        let truncate_at = want.filter(|w| declared.is_some_and(|d| d > *w));
        if want.is_some_and(|w| !self.limits.fits_budget(self.budget_used, w)) {
            self.exceeded.get_or_insert(LimitExceeded::MaxScanSize);
            return Err(Stop::ContainerDone);
        }
        let mut scanner = StreamScanner::with_options(Arc::clone(&self.db), self.opts.scan);
        if self.all_matches {
            scanner = scanner.with_all_matches();
        }
        let index_zip = depth < self.opts.depth_limit();
        let mut capture = Capture::new(self.may_open(depth), index_zip, self.more);
        let mut buf = vec![0u8; READ_BUF];
        let mut total: u64 = 0;
        loop {
            if self.cancelled() {
                return Err(Stop::Cancelled);
            }
            // only a truncated member stops early: the last read of a whole member is where
            // the zip reader checks its CRC (a corrupt member is skipped, SVSP-SCAN-TREE-3)
            let room = truncate_at.map_or(READ_BUF as u64, |w| w - total);
            if room == 0 {
                break;
            }
            let len = usize::try_from(room).unwrap_or(READ_BUF).min(READ_BUF);
            let n = match reader.read(&mut buf[..len]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Ok(()),
            };
            total += n as u64;
            self.expanded += n as u64;
            if self.expanded > self.opts.max_expanded_bytes {
                self.truncated = true;
                return Err(Stop::Limit);
            }
            if want.is_none() {
                // size known only by decompressing: past MaxFileSize it is not scanned
                if cap.is_some_and(|c| total > c) {
                    self.exceeded.get_or_insert(LimitExceeded::MaxFileSize);
                    return Ok(());
                }
                if !self.limits.fits_budget(self.budget_used, total) {
                    self.exceeded.get_or_insert(LimitExceeded::MaxScanSize);
                    return Err(Stop::ContainerDone);
                }
            }
            scanner.update(&buf[..n]);
            if capture.feed(&buf[..n], self.opts).is_err() {
                return Ok(());
            }
        }
        self.budget_used += total;
        let result = scanner.finish();
        let Ok(captured) = capture.finish(self.opts) else {
            return Ok(());
        };
        self.chain.push(name.clone());
        let outcome = self.container(depth, captured, &result, &name);
        self.chain.pop();
        outcome
    }
}

/// Streaming tree scan: feed the root's bytes in chunks, then [`TreeScanner::finish`].
pub struct TreeScanner {
    db: Arc<SignatureDb>,
    opts: TreeOptions,
    limits: ScanLimits,
    cancel: Option<CancelFlag>,
    heuristic_precedence: bool,
    all_matches: bool,
    root_name: Vec<u8>,
    raw: StreamScanner,
    capture: Capture,
}

impl TreeScanner {
    pub fn new(db: Arc<SignatureDb>, opts: TreeOptions, root_name: &[u8]) -> Self {
        let raw = StreamScanner::with_options(Arc::clone(&db), opts.scan);
        let depth_ok = opts.depth_limit() > 0;
        let capture = Capture::new(depth_ok, depth_ok, MoreFormats::all());
        Self {
            db,
            opts,
            limits: ScanLimits::default(),
            cancel: None,
            heuristic_precedence: false,
            all_matches: false,
            root_name: root_name.to_vec(),
            raw,
            capture,
        }
    }

    /// Apply clamd's limits (see [`crate::limits`]); the default is none.
    pub fn with_limits(mut self, limits: ScanLimits) -> Self {
        self.capture.may_open = self.opts.depth_limit() > 0 && limits.level_allowed(1);
        self.limits = limits;
        self
    }

    /// Which formats beyond tar/gzip/zip are opened (default: all).
    pub fn with_more_formats(mut self, more: MoreFormats) -> Self {
        self.capture.more = more;
        self
    }

    /// clamd's `HeuristicScanPrecedence`: with `true` a potentially-unwanted alert is
    /// reported to the visitor as the first detection of its part, as clamd reports it (a
    /// scan that stops at its first detection ends with it); by default (clamd's `no`) it
    /// is kept in [`TreeSummary::potentially_unwanted`] and a real detection wins.
    pub fn with_heuristic_precedence(mut self, on: bool) -> Self {
        self.heuristic_precedence = on;
        self
    }

    /// clamd's all-match mode (CLAMD-SCAN-9): every part's [`ScanResult::all`] lists every
    /// match of each of clamd's passes over it, for [`crate::AllMatchSequence`]. Call before
    /// the first [`TreeScanner::update`].
    pub fn with_all_matches(mut self) -> Self {
        self.all_matches = true;
        self.raw =
            StreamScanner::with_options(Arc::clone(&self.db), self.opts.scan).with_all_matches();
        self
    }

    /// Stop the archive walk when `cancel` is set; `finish` then fails with `Interrupted`.
    pub fn with_cancel(mut self, cancel: CancelFlag) -> Self {
        self.cancel = Some(cancel);
        self
    }

    /// Bytes fed so far.
    pub fn size(&self) -> u64 {
        self.raw.size()
    }

    /// Feed the next chunk of the root. Fails only when the spool cannot be written.
    pub fn update(&mut self, data: &[u8]) -> io::Result<()> {
        self.raw.update(data);
        self.capture.feed(data, &self.opts)
    }

    /// Scan the root and expand it, reporting each part to `visit`.
    pub fn finish(self, visit: &mut Visit<'_>) -> io::Result<TreeSummary> {
        let root = self.raw.finish();
        // clamd does not scan an object larger than MaxFileSize or MaxScanSize at all
        if let Err(limit) = self.limits.check_root(root.size) {
            return Ok(TreeSummary {
                root,
                parts: 0,
                truncated: false,
                exceeded: Some(limit),
                potentially_unwanted: None,
            });
        }
        let captured_more = self.capture.more;
        let captured = self.capture.finish(&self.opts)?;
        let mut walk = Walk {
            db: self.db,
            opts: &self.opts,
            more: captured_more,
            limits: self.limits,
            cancel: self.cancel,
            visit,
            chain: Vec::new(),
            members: 0,
            expanded: 0,
            parts: 0,
            truncated: false,
            budget_used: root.size,
            files: 0,
            exceeded: None,
            potentially_unwanted: None,
            heuristic_precedence: self.heuristic_precedence,
            all_matches: self.all_matches,
        };
        let outcome = walk.container(0, captured, &root, &self.root_name);
        if matches!(outcome, Err(Stop::Cancelled)) {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "scan cancelled"));
        }
        Ok(TreeSummary {
            parts: walk.parts,
            truncated: walk.truncated,
            exceeded: walk.exceeded,
            potentially_unwanted: walk.potentially_unwanted,
            root,
        })
    }
}

/// Scan everything `r` yields as a tree (see [`TreeScanner`]).
pub fn scan_reader(
    db: Arc<SignatureDb>,
    opts: TreeOptions,
    root_name: &[u8],
    r: impl Read,
    visit: &mut Visit<'_>,
) -> io::Result<TreeSummary> {
    TreeScanner::new(db, opts, root_name).scan_reader(r, visit)
}

impl TreeScanner {
    /// Feed everything `r` yields, then [`TreeScanner::finish`]. With a cancel flag set,
    /// reading stops and this fails with `Interrupted`.
    pub fn scan_reader(
        mut self,
        mut r: impl Read,
        visit: &mut Visit<'_>,
    ) -> io::Result<TreeSummary> {
        let mut buf = vec![0u8; READ_BUF];
        loop {
            if self.cancel.as_ref().is_some_and(CancelFlag::is_cancelled) {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "scan cancelled"));
            }
            match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => self.update(&buf[..n])?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        self.finish(visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_names_drop_the_compression_suffix() {
        assert_eq!(derived_gzip_name(b"/t/a.txt.gz"), b"a.txt");
        assert_eq!(derived_gzip_name(b"x.TGZ"), b"x.tar");
        assert_eq!(derived_gzip_name(b"dir/file.Z"), b"file");
        assert_eq!(derived_gzip_name(b"plain"), b"plain");
        assert_eq!(derived_gzip_name(b""), b"");
    }
}
