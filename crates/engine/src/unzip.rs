//! zip archives read as clamd 1.4.6's `cli_unzip` reads them (libclamav/unzip.c,
//! CLAMD-DET-7), quirks included, so that a damaged zip gives the verdict clamd gives:
//!
//! - The end record is searched backwards from `size - 22` (offset 0 excluded); the first one
//!   whose directory offset leaves room for a 46-byte entry is taken, whatever its comment
//!   length or entry count says.
//! - Directory entries are read one after the other until one does not parse; an entry whose
//!   extra field or comment runs past the end is still used, and ends the directory. Each
//!   entry's local header gives the method, the flags and (without the data-descriptor flag)
//!   the sizes; the entry's own sizes only with that flag. Empty members, members whose local
//!   header does not parse or whose data runs past the end, give no record. At most
//!   `MaxFiles` records are taken.
//! - The records are sorted by local header offset; an exact duplicate is skipped, more than
//!   five overlapping ones (or 32-bit overflowing ones) drop the whole directory. Overlapping
//!   members are how non-recursive zip bombs reuse one kernel of data: clamd then records
//!   the potentially-unwanted alert [`OVERLAPPING_FILES`] (with `HeuristicAlerts yes`, its
//!   default), reported when the scan finds nothing else.
//! - A member is decompressed whole before it is scanned: stored (a stored member smaller
//!   than its stated size is first inflated), deflate, deflate64, bzip2, implode; a data error
//!   means nothing of it is scanned, input that ends early gives what came out. Output comes
//!   in clamd's 8 KiB buffers: past `MaxFileSize` the buffer that crosses it and the rest are
//!   dropped (a stored member is cut at exactly `MaxFileSize`). Encrypted members, masked
//!   headers and other methods are skipped.
//! - Only when at most a quarter of the directory's members came out (and at least one did)
//!   are the local headers walked from offset 0 as well, as clamd does; without a usable
//!   directory nothing is unpacked (a zip at offset 0 is not searched for embedded ones).
//!
//! Memory: the directory's records (at most one per 46 bytes of the file, or `MaxFiles`), and
//! one member's output at a time in a spool (memory, then a temporary file).

use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::PathBuf;

use super::compress::Zlib;
use super::implode;
use super::le::{u16_at, u32_at};
use crate::limits::LimitExceeded;
use crate::spool::{SpoolReader, SpoolWriter};
use crate::tree::{EachMember, MemberSource};

const LOCAL_MAGIC: &[u8] = b"PK\x03\x04";
const CENTRAL_MAGIC: &[u8] = b"PK\x01\x02";
const END_MAGIC: &[u8] = b"PK\x05\x06";
const LOCAL_LEN: u64 = 30;
const CENTRAL_LEN: u64 = 46;
const END_LEN: u64 = 22;
const F_ENCRYPTED: u16 = 1;
const F_DATA_DESCRIPTOR: u16 = 1 << 3;
const F_MASKED: u16 = 1 << 13;
/// clamd's output buffer (`BUFSIZ` on glibc): members are written a buffer at a time.
const CHUNK: usize = 8192;
/// clamd tolerates this much overlap between neighbouring members.
const OVERLAP_FUDGE: u64 = 2;
/// More overlapping members than this and clamd drops the directory.
const MAX_OVERLAPS: u32 = 5;
/// The alert clamd 1.4.6 records for more than [`MAX_OVERLAPS`] overlapping members
/// (unzip.c `index_the_central_directory`, `cli_append_potentially_unwanted`).
pub const OVERLAPPING_FILES: &str = "Heuristics.Zip.OverlappingFiles";
/// Bytes of the file searched per read for the end record.
const SEARCH_WINDOW: u64 = 64 * 1024;

/// A member's compression method (APPNOTE 4.4.5) as `unz` tells them apart: the ones it
/// extracts, and any other code, which it skips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Stored,
    Implode,
    Deflate,
    Deflate64,
    Bzip2,
    Other(u16),
}

impl Method {
    fn of(code: u16) -> Method {
        match code {
            0 => Method::Stored,
            6 => Method::Implode,
            8 => Method::Deflate,
            9 => Method::Deflate64,
            12 => Method::Bzip2,
            other => Method::Other(other),
        }
    }
}

/// What the walk allows a zip: clamd's `MaxFileSize` and `MaxFiles`, and the engine's own
/// bound on bytes decompressed (spooled where the walk cannot see them yet).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) cap: Option<u64>,
    pub(crate) max_files: Option<u64>,
    pub(crate) decode_limit: u64,
    pub(crate) spill_threshold: usize,
    pub(crate) temp_dir: Option<PathBuf>,
}

/// One member as clamd records it (its `struct zip_record`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    name: Vec<u8>,
    offset: u32,
    /// Local header, name and extra field.
    header_len: u32,
    csize: u32,
    usize: u32,
    method: Method,
    flags: u16,
}

impl Record {
    /// clamd's duplicate test: same offset, header length and compressed size.
    fn same_place(&self, other: &Record) -> bool {
        (self.offset, self.header_len, self.csize) == (other.offset, other.header_len, other.csize)
    }
}

fn read_at(s: &mut SpoolReader, at: u64, len: usize) -> Option<Vec<u8>> {
    s.seek(SeekFrom::Start(at)).ok()?;
    let mut buf = vec![0u8; len];
    s.read_exact(&mut buf).ok()?;
    Some(buf)
}

/// The central directory offset clamd takes (`None`: no usable end record, or one pointing
/// at offset 0, which clamd reads as "none").
fn find_directory(s: &mut SpoolReader, size: u64) -> Option<u64> {
    let mut hi = size.checked_sub(END_LEN)?;
    while hi >= 1 {
        let lo = hi.saturating_sub(SEARCH_WINDOW - 1).max(1);
        // candidates lo..=hi, each with the 20 bytes clamd maps
        let buf = read_at(s, lo, usize::try_from(hi - lo + 20).ok()?)?;
        let last = usize::try_from(hi - lo).ok()?;
        for i in memchr::memmem::rfind_iter(&buf, END_MAGIC).filter(|&i| i <= last) {
            let dir = u64::from(u32_at(&buf, i + 16));
            if dir + CENTRAL_LEN <= size && dir < size {
                return (dir != 0).then_some(dir);
            }
        }
        hi = lo - 1;
    }
    None
}

/// A local header at `offset` as clamd's `parse_local_file_header` reads it: the record (if
/// the member has data) and the header-plus-data length, or `None` when it does not parse.
/// `central`: the directory entry's (csize, usize), used with the data-descriptor flag.
fn local_header(
    s: &mut SpoolReader,
    offset: u64,
    size: u64,
    central: Option<(u32, u32)>,
) -> Option<(Option<Record>, u64)> {
    let h = read_at(s, offset, LOCAL_LEN as usize)?;
    if &h[..4] != LOCAL_MAGIC {
        return None;
    }
    let flags = u16_at(&h, 6);
    let (flen, elen) = (u64::from(u16_at(&h, 26)), u64::from(u16_at(&h, 28)));
    let mut left = size - offset - LOCAL_LEN;
    if left <= flen || flags & F_MASKED != 0 {
        return None;
    }
    let name = read_at(s, offset + LOCAL_LEN, flen.min(255) as usize)?;
    left -= flen;
    let (csize, usize) = if flags & F_DATA_DESCRIPTOR != 0 {
        central?
    } else {
        (u32_at(&h, 18), u32_at(&h, 22))
    };
    if left <= elen {
        return None;
    }
    left -= elen;
    let header_len = LOCAL_LEN + flen + elen;
    if csize == 0 {
        return Some((None, header_len));
    }
    if left < u64::from(csize) {
        return None;
    }
    let record = Record {
        name,
        offset: u32::try_from(offset).ok()?,
        header_len: header_len as u32,
        csize,
        usize,
        method: Method::of(u16_at(&h, 8)),
        flags,
    };
    Some((Some(record), header_len + u64::from(csize)))
}

/// One directory entry at `at` (clamd's `parse_central_directory_file_header`): its record,
/// if its local header gave one, and where the next entry starts (`None`: this was the last).
fn directory_entry(
    s: &mut SpoolReader,
    at: u64,
    size: u64,
) -> Option<(Option<Record>, Option<u64>)> {
    let h = read_at(s, at, CENTRAL_LEN as usize)?;
    if &h[..4] != CENTRAL_MAGIC {
        return None;
    }
    let (flen, elen, clen) = (
        u64::from(u16_at(&h, 28)),
        u64::from(u16_at(&h, 30)),
        u64::from(u16_at(&h, 32)),
    );
    let mut p = at + CENTRAL_LEN;
    if size - p <= flen {
        return None;
    }
    let name = read_at(s, p, flen.min(255) as usize)?;
    p += flen;
    let mut last = size - p <= elen;
    p += elen;
    if !last && size - p < clen {
        last = true;
    }
    p += clen;
    let offset = u64::from(u32_at(&h, 42));
    let central = Some((u32_at(&h, 20), u32_at(&h, 24)));
    let record = if offset < size - LOCAL_LEN {
        local_header(s, offset, size, central)
            .and_then(|(r, _)| r)
            .map(|r| Record { name, ..r })
    } else {
        None
    };
    Some((record, (!last).then_some(p)))
}

/// What clamd makes of a zip's directory.
enum Index {
    /// The records in clamd's order (by local header offset), and whether MaxFiles cut the
    /// directory short.
    Records(Vec<Record>, bool),
    /// Dropped whole: more than [`MAX_OVERLAPS`] overlapping members (a zip bomb's shape,
    /// [`OVERLAPPING_FILES`]).
    Overlapping,
    /// Dropped whole: a member's offset and size overflow 32 bits (`CL_EFORMAT`, no alert).
    Overflowing,
}

/// The directory as clamd indexes it (`index_the_central_directory`).
fn index(s: &mut SpoolReader, size: u64, dir: u64, max_files: Option<u64>) -> Index {
    let mut records = Vec::new();
    let mut at = dir;
    let mut capped = false;
    while let Some((record, next)) = directory_entry(s, at, size) {
        records.extend(record);
        let Some(next) = next else { break };
        // clamd stops here (and notes MaxFiles) even when no entry follows
        if max_files.is_some_and(|m| records.len() as u64 >= m) {
            capped = true;
            break;
        }
        at = next;
    }
    records.sort_by_key(|r| r.offset);
    let mut overlaps = 0;
    for pair in records.windows(2) {
        let (prev, cur) = (&pair[0], &pair[1]);
        let prev_len = prev.header_len.wrapping_add(prev.csize);
        let cur_len = cur.header_len.wrapping_add(cur.csize);
        if u32::MAX - prev_len < prev.offset || u32::MAX - cur_len < cur.offset {
            return Index::Overflowing;
        }
        let prev_end = u64::from(prev.offset + prev_len);
        let (p, c) = (u64::from(prev.offset), u64::from(cur.offset));
        if c >= p && c + OVERLAP_FUDGE < prev_end {
            // duplicates count too, but only a real overlap checks the count (as clamd)
            overlaps += 1;
            if !cur.same_place(prev) && overlaps > MAX_OVERLAPS {
                return Index::Overlapping;
            }
        }
    }
    Index::Records(records, capped)
}

/// A decoder as clamd drives it: `Err` is a data error (nothing of the member is scanned),
/// `Ok(0)` the end, including input that ran out.
fn decoder<'a>(method: Method, flags: u16, data: &'a mut dyn Read) -> Option<Box<dyn Read + 'a>> {
    let buffered = BufReader::with_capacity(16 * 1024, data);
    Some(match method {
        Method::Deflate => Box::new(Zlib::raw(buffered)),
        Method::Deflate64 => Box::new(InputEnd(deflate64::Deflate64Decoder::with_buffer(buffered))),
        Method::Bzip2 => Box::new(InputEnd(bzip2::bufread::BzDecoder::new(buffered))),
        Method::Implode => Box::new(implode::Explode::new(buffered, flags)),
        Method::Stored | Method::Other(_) => return None,
    })
}

/// libbz2 (`BZ_OK`) takes input that ends before the stream does as no error: clamd keeps the
/// output. The bzip2 crate (and deflate64's at its end) report it as `UnexpectedEof`.
struct InputEnd<R>(R);

impl<R: Read> Read for InputEnd<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
            other => other,
        }
    }
}

/// Fill `buf` from `r`: the bytes read, and whether a data error ended it.
fn fill(r: &mut dyn Read, buf: &mut [u8]) -> (usize, bool) {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return (n, true),
        }
    }
    (n, false)
}

/// A zip opened for the walk.
pub(crate) struct Zip {
    spool: SpoolReader,
    size: u64,
    records: Vec<Record>,
    /// MaxFiles cut the directory short.
    capped: bool,
    cfg: Config,
    /// Members clamd counts as unzipped (its `num_files_unzipped`).
    unzipped: u64,
    /// Bytes decompressed into member spools so far.
    decoded: u64,
}

/// An opened zip: its members, or clamd's alert for a directory it dropped.
pub(crate) enum Opening {
    Members(Box<dyn MemberSource>),
    /// [`OVERLAPPING_FILES`]: nothing is unpacked.
    OverlappingFiles,
}

/// Open a zip: `None` when clamd would find no member in its directory and not walk it.
pub(crate) fn open(mut spool: SpoolReader, cfg: Config) -> Option<Opening> {
    let size = spool.seek(SeekFrom::End(0)).ok()?;
    // clamd: too short for one directory entry, or too large for its 32-bit offsets
    if size < CENTRAL_LEN || size > u64::from(u32::MAX) {
        return None;
    }
    let dir = find_directory(&mut spool, size)?;
    let (records, capped) = match index(&mut spool, size, dir, cfg.max_files) {
        Index::Records(records, capped) => (records, capped),
        Index::Overlapping => return Some(Opening::OverlappingFiles),
        Index::Overflowing => return None,
    };
    if records.is_empty() {
        return None;
    }
    Some(Opening::Members(Box::new(Zip {
        spool,
        size,
        records,
        capped,
        cfg,
        unzipped: 0,
        decoded: 0,
    })))
}

/// Why a member's extraction ended the zip early.
struct Done;

impl Zip {
    fn files_reached(&self) -> bool {
        self.cfg.max_files.is_some_and(|m| self.unzipped >= m)
    }

    /// Extract one record (clamd's `unz`) and hand what came out to the walk.
    fn member(&mut self, r: &Record, each: &mut EachMember<'_>) -> Result<(), Done> {
        let data = u64::from(r.offset) + u64::from(r.header_len);
        if r.flags & F_ENCRYPTED != 0 {
            return Ok(());
        }
        if r.method == Method::Stored {
            if r.csize < r.usize {
                // clamd first tries the bytes as deflate data; either way it counts two files
                self.unzipped += 2;
                let Some(out) = self.decode(Method::Deflate, 0, data, r.csize)? else {
                    return Ok(());
                };
                self.hand(r, out, each)?;
            } else {
                self.unzipped += 1;
            }
            let len = self
                .cfg
                .cap
                .map_or(u64::from(r.csize), |c| c.min(u64::from(r.csize)));
            if len == 0 {
                return Ok(());
            }
            self.spool.seek(SeekFrom::Start(data)).map_err(|_| Done)?;
            let mut body = (&mut self.spool).take(len);
            return if each(r.name.clone(), &mut body, Some(len)) {
                Ok(())
            } else {
                Err(Done)
            };
        }
        if let Some(out) = self.decode(r.method, r.flags, data, r.csize)? {
            self.unzipped += 1;
            self.hand(r, out, each)?;
        }
        Ok(())
    }

    /// A decoded member to the walk (an empty one is not scanned, as by clamd).
    fn hand(
        &mut self,
        r: &Record,
        out: (SpoolReader, u64),
        each: &mut EachMember<'_>,
    ) -> Result<(), Done> {
        let (mut spool, len) = out;
        if len > 0 && !each(r.name.clone(), &mut spool, Some(len)) {
            return Err(Done);
        }
        Ok(())
    }

    /// Decompress `csize` bytes at `data` as clamd does, in its 8 KiB buffers: the output and
    /// its length, `Ok(None)` when clamd extracts nothing (a data error, an unknown method).
    fn decode(
        &mut self,
        method: Method,
        flags: u16,
        data: u64,
        csize: u32,
    ) -> Result<Option<(SpoolReader, u64)>, Done> {
        self.spool.seek(SeekFrom::Start(data)).map_err(|_| Done)?;
        let mut input = (&mut self.spool).take(u64::from(csize));
        let Some(mut dec) = decoder(method, flags, &mut input) else {
            return Ok(None);
        };
        // zlib hands back what it inflated before a data error (clamd writes it, then the
        // next call fails); the other decoders report the error alone
        let partial_counts = matches!(method, Method::Deflate | Method::Deflate64);
        let mut out = SpoolWriter::new(self.cfg.spill_threshold, self.cfg.temp_dir.clone());
        let mut chunk = vec![0u8; CHUNK];
        let mut written: u64 = 0;
        loop {
            let (n, error) = fill(&mut dec, &mut chunk);
            let n = if error && !partial_counts { 0 } else { n };
            if n > 0 && self.cfg.cap.is_some_and(|c| written + n as u64 > c) {
                break;
            }
            if error {
                return Ok(None);
            }
            if n == 0 {
                break;
            }
            written += n as u64;
            self.decoded += n as u64;
            out.write(&chunk[..n]).map_err(|_| Done)?;
            // past the engine's own bound the walk, reading this output, stops the scan
            if self.decoded > self.cfg.decode_limit {
                break;
            }
        }
        let spool = out.finish().map_err(|_| Done)?;
        Ok(Some((spool, written)))
    }

    /// clamd's fallback: every local header from offset 0, in file order.
    fn walk_local_headers(&mut self, each: &mut EachMember<'_>) -> Result<(), Done> {
        let mut at = 0;
        while at < self.size {
            let Some((record, len)) = local_header(&mut self.spool, at, self.size, None) else {
                break;
            };
            if let Some(r) = record {
                self.member(&r, each)?;
            }
            at += len;
            if self.files_reached() {
                break;
            }
        }
        Ok(())
    }

    fn walk(&mut self, each: &mut EachMember<'_>) -> Result<(), Done> {
        let records = std::mem::take(&mut self.records);
        let mut extracted: u64 = 0;
        for (i, r) in records.iter().enumerate() {
            if i > 0 && r.same_place(&records[i - 1]) {
                continue;
            }
            // from the directory clamd maps a local header's length at the data, and skips
            // the member without it
            let data = u64::from(r.offset) + u64::from(r.header_len);
            if data + LOCAL_LEN <= self.size {
                self.member(r, each)?;
            }
            extracted += 1;
            if self.files_reached() {
                return Ok(());
            }
        }
        if self.unzipped > 0 && self.unzipped <= extracted / 4 {
            self.walk_local_headers(each)?;
        }
        Ok(())
    }
}

impl MemberSource for Zip {
    fn for_each_member(mut self: Box<Self>, each: &mut EachMember<'_>) {
        // an unreadable spool or the walk's "no more" ends the zip like its end would
        let _ = self.walk(each);
    }

    fn limit_hit(&self) -> Option<LimitExceeded> {
        self.capped.then_some(LimitExceeded::MaxFiles)
    }
}

/// clamd's raw scan types each local header magic at an offset >= 1 of a part as an embedded
/// zip (`CL_TYPE_ZIPSFX`; not in zip, gzip, tar, binary cpio or HTML parts, see
/// [`embedded_allowed`]) and unpacks the one member that header describes
/// (`cli_unzip_single`: no directory, so no data-descriptor members), two levels below the
/// part, after the part's own members. This finds the magics as the part streams by and
/// spools the part from the first one.
pub(crate) struct EmbeddedSearch {
    /// Bytes of the part seen so far.
    seen: u64,
    /// The last bytes seen (a magic split between two reads).
    carry: Vec<u8>,
    /// Where the spool starts in the part.
    start: u64,
    /// Magic offsets relative to `start`.
    offsets: Vec<u64>,
    spool: Option<SpoolWriter>,
    spill_threshold: usize,
    temp_dir: Option<PathBuf>,
}

/// Embedded zips looked at per part at most.
const MAX_EMBEDDED: usize = 4096;

/// Whether clamd's raw scan of a part that starts with `head` looks for embedded zips.
pub(crate) fn embedded_allowed(head_is: Option<super::ContainerKind>, binary_cpio: bool) -> bool {
    use super::ContainerKind as K;
    !binary_cpio && !matches!(head_is, Some(K::Zip | K::Gzip | K::Tar | K::Html))
}

impl EmbeddedSearch {
    pub(crate) fn new(spill_threshold: usize, temp_dir: Option<PathBuf>) -> Self {
        Self {
            seen: 0,
            carry: Vec::new(),
            start: 0,
            offsets: Vec::new(),
            spool: None,
            spill_threshold,
            temp_dir,
        }
    }

    pub(crate) fn feed(&mut self, data: &[u8]) -> io::Result<()> {
        let base = self.seen;
        let carried = self.carry.len() as u64;
        if let Some(s) = self.spool.as_mut() {
            s.write(data)?;
        }
        let mut edge = self.carry.clone();
        // a magic that starts in the carry ends in `data`
        edge.extend_from_slice(&data[..data.len().min(3)]);
        let across = memchr::memmem::find_iter(&edge, LOCAL_MAGIC)
            .filter(|&i| (i as u64) < carried)
            .map(|i| base - carried + i as u64);
        let within = memchr::memmem::find_iter(data, LOCAL_MAGIC).map(|i| base + i as u64);
        let hits: Vec<u64> = across.chain(within).filter(|&h| h > 0).collect();
        for h in hits {
            if self.offsets.len() >= MAX_EMBEDDED {
                break;
            }
            if self.spool.is_none() {
                let mut s = SpoolWriter::new(self.spill_threshold, self.temp_dir.clone());
                s.write(LOCAL_MAGIC)?;
                s.write(&data[(h + 4 - base) as usize..])?;
                self.spool = Some(s);
                self.start = h;
            }
            self.offsets.push(h - self.start);
        }
        self.seen += data.len() as u64;
        let mut tail = std::mem::take(&mut self.carry);
        tail.extend_from_slice(&data[data.len().saturating_sub(3)..]);
        self.carry = tail[tail.len().saturating_sub(3)..].to_vec();
        Ok(())
    }

    /// The spool from the first magic, with the magics' offsets in it.
    pub(crate) fn finish(self) -> io::Result<Option<(SpoolReader, Vec<u64>)>> {
        match self.spool {
            Some(s) => Ok(Some((s.finish()?, self.offsets))),
            None => Ok(None),
        }
    }
}

/// The members of a part's embedded zips, each two levels below it.
struct Embedded {
    zip: Zip,
    offsets: Vec<u64>,
}

pub(crate) fn open_embedded(
    found: (SpoolReader, Vec<u64>),
    cfg: Config,
) -> Option<Box<dyn MemberSource>> {
    let (mut spool, offsets) = found;
    let size = spool.seek(SeekFrom::End(0)).ok()?;
    let zip = Zip {
        spool,
        size,
        records: Vec::new(),
        capped: false,
        cfg,
        unzipped: 0,
        decoded: 0,
    };
    Some(Box::new(Embedded { zip, offsets }))
}

impl Embedded {
    fn walk(&mut self, each: &mut EachMember<'_>) -> Result<(), Done> {
        for &at in &self.offsets {
            if let Some((Some(r), _)) = local_header(&mut self.zip.spool, at, self.zip.size, None) {
                self.zip.member(&r, each)?;
            }
        }
        Ok(())
    }
}

impl MemberSource for Embedded {
    fn for_each_member(mut self: Box<Self>, each: &mut EachMember<'_>) {
        let _ = self.walk(each);
    }

    fn for_each_member_at(mut self: Box<Self>, each: &mut super::EachMemberAt<'_>) {
        // the embedded zip is a level of its own, its member one below it
        let _ = self.walk(&mut |name, data, declared| each(name, data, declared, 1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::unpack_all;
    use fixtures::{overlapping_zip, stored_zip};

    fn config(cap: Option<u64>) -> Config {
        Config {
            cap,
            max_files: None,
            decode_limit: 1 << 30,
            spill_threshold: 1 << 20,
            temp_dir: None,
        }
    }

    /// The members of an opened zip (none for a dropped directory).
    fn members(opening: Option<Opening>) -> Option<Box<dyn MemberSource>> {
        match opening? {
            Opening::Members(source) => Some(source),
            Opening::OverlappingFiles => None,
        }
    }

    fn open_default(spool: SpoolReader) -> Option<Box<dyn MemberSource>> {
        members(open(spool, config(None)))
    }

    fn opening(zip: &[u8]) -> Option<Opening> {
        let mut spool = SpoolWriter::new(1 << 20, None);
        spool.write(zip).expect("memory spool");
        open(spool.finish().expect("memory spool"), config(None))
    }

    /// CLAMD-DET-7: a zip bomb's overlapping members (clamd 1.4.6 `index_the_central_directory`):
    /// up to five overlapping pairs the members are read; past five nothing is unpacked and
    /// clamd's alert is raised. Exact duplicates count, but never raise it themselves.
    #[test]
    fn more_than_five_overlapping_members_drop_the_directory_with_an_alert() {
        let kernel = b"kernel ".repeat(40);
        assert!(matches!(
            opening(&overlapping_zip(6, &kernel)),
            Some(Opening::Members(_))
        ));
        assert_eq!(
            unpack_all(&overlapping_zip(6, &kernel), open_default).len(),
            6
        );
        for n in [7, 8, 30] {
            assert!(
                matches!(
                    opening(&overlapping_zip(n, &kernel)),
                    Some(Opening::OverlappingFiles)
                ),
                "{n} members"
            );
        }
        // seven copies of one directory entry: six "overlaps", all duplicates
        let zip = stored_zip(&[(b"a", b"one")]);
        let at = memchr::memmem::find(&zip, CENTRAL_MAGIC).unwrap();
        let entry = &zip[at..at + 47];
        let mut seven = zip[..at].to_vec();
        for _ in 0..7 {
            seven.extend_from_slice(entry);
        }
        let mut end = zip[at + 47..].to_vec();
        end[8..12].copy_from_slice(&[7, 0, 7, 0]);
        end[12..16].copy_from_slice(&(47u32 * 7).to_le_bytes());
        seven.extend_from_slice(&end);
        assert_eq!(names(&seven), vec![b"a".to_vec()]);
    }

    fn names(zip: &[u8]) -> Vec<Vec<u8>> {
        unpack_all(zip, open_default)
            .into_iter()
            .map(|(n, _, _)| n)
            .collect()
    }

    #[test]
    fn members_come_in_local_header_order_and_empty_ones_are_skipped() {
        let zip = stored_zip(&[(b"a", b"one"), (b"e", b""), (b"b", b"two")]);
        let got = unpack_all(&zip, open_default);
        assert_eq!(
            got,
            vec![
                (b"a".to_vec(), b"one".to_vec(), Some(3)),
                (b"b".to_vec(), b"two".to_vec(), Some(3)),
            ]
        );
    }

    /// CLAMD-DET-7: an end record whose comment length points past the end (clamd does not
    /// check it) still opens the zip.
    #[test]
    fn end_record_comment_length_is_not_checked() {
        let mut zip = stored_zip(&[(b"a", b"one")]);
        let n = zip.len();
        zip[n - 2] = 1;
        assert_eq!(names(&zip), vec![b"a".to_vec()]);
    }

    /// CLAMD-DET-7: the method and sizes come from the local header, not the directory.
    #[test]
    fn directory_method_is_ignored() {
        let mut zip = stored_zip(&[(b"a", b"one")]);
        let dir = memchr::memmem::find(&zip, CENTRAL_MAGIC).unwrap();
        zip[dir + 10] = 99;
        assert_eq!(names(&zip), vec![b"a".to_vec()]);
    }

    #[test]
    fn no_end_record_or_a_duplicate_entry() {
        let zip = stored_zip(&[(b"a", b"one")]);
        assert!(
            names(&zip[..zip.len() - 22]).is_empty(),
            "no directory: nothing"
        );
        // the same directory entry twice is one member
        let dir = memchr::memmem::find(&zip, CENTRAL_MAGIC).unwrap();
        let entry = zip[dir..dir + 47].to_vec();
        let mut twice = zip[..dir + 47].to_vec();
        twice.extend_from_slice(&entry);
        let mut end = zip[dir + 47..].to_vec();
        end[10] = 2;
        twice.extend_from_slice(&end);
        assert_eq!(names(&twice), vec![b"a".to_vec()]);
    }

    #[test]
    fn stored_member_is_cut_at_max_file_size_and_deflate_at_a_whole_buffer() {
        let data = vec![b'x'; 3 * CHUNK];
        let zip = stored_zip(&[(b"a", &data)]);
        let cut = |spool| members(open(spool, config(Some(10_000))));
        let got = unpack_all(&zip, cut);
        assert_eq!(got[0].1.len(), 10_000);
    }

    fn search(data: &[u8], piece: usize) -> Option<(Vec<u8>, Vec<u64>)> {
        let mut search = EmbeddedSearch::new(1 << 20, None);
        for p in data.chunks(piece) {
            search.feed(p).unwrap();
        }
        let (mut spool, offsets) = search.finish().unwrap()?;
        let mut v = Vec::new();
        spool.read_to_end(&mut v).unwrap();
        Some((v, offsets))
    }

    /// CLAMD-DET-7: local header magics at offsets >= 1 are found whatever the read sizes,
    /// and the part is kept from the first one on.
    #[test]
    fn embedded_zips_are_found_across_reads() {
        let z = stored_zip(&[(b"a", b"one"), (b"b", b"two")]);
        let data = [&b"junk"[..], &z].concat();
        let second = (memchr::memmem::find_iter(&z, LOCAL_MAGIC).nth(1).unwrap()) as u64;
        for piece in [1, 2, 3, 5, 4096] {
            assert_eq!(
                search(&data, piece),
                Some((z.clone(), vec![0, second])),
                "{piece}"
            );
        }
        // at offset 0 the part is a zip itself, not an embedded one
        // offsets count from the first embedded one
        assert_eq!(search(&z, 7).map(|(_, o)| o), Some(vec![0]));
        assert_eq!(search(b"no magic here", 2), None);
    }
}
