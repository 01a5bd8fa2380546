//! Which streams of a version 4 compound file (4096-byte sectors) clamd 1.4.6 reaches
//! (CLAMD-DET-7). Its `ole2_walk_property_tree` reads directory entry `i` as entry `i % 4`
//! of the first 512 bytes of the `i / 4`-th directory sector, as if sectors held 4 entries:
//! in a version 4 file (32 entries a sector) that is the real entry `(i / 4) * 32 + i % 4`,
//! or nothing past the directory's last sector. So entries 0-3 are read right and later
//! ones are missed or mistaken for others. This module replays that walk over the raw
//! directory and names the streams it reaches; a version 3 file gets `None` (clamd reads it
//! right, every stream counts).

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

const ENTRY: usize = 128;
/// Most directory sectors read.
const MAX_DIR_SECTORS: usize = 4096;
/// Most entries visited by the replayed walk.
const MAX_VISITS: usize = 100_000;
/// clamd's directory recursion limit.
const MAX_LEVEL: u32 = 100;
const NO_ENTRY: u32 = 0xFFFF_FFFF;
/// Most streams named (as many as the OLE2 walk lists).
const MAX_VISIBLE: usize = 10_000;

struct Entry {
    name: String,
    kind: u8,
    prev: u32,
    next: u32,
    child: u32,
}

/// The stream paths (as `cfb` names them) clamd's walk reaches in a version 4 file; `None`
/// for any other sector size or an unreadable directory.
pub(crate) fn clamd_visible<R: Read + Seek>(r: &mut R) -> Option<HashSet<PathBuf>> {
    let mut header = [0u8; 512];
    r.seek(SeekFrom::Start(0)).ok()?;
    r.read_exact(&mut header).ok()?;
    if u16::from_le_bytes([header[0x1e], header[0x1f]]) != 12 {
        return None;
    }
    let file_len = r.seek(SeekFrom::End(0)).ok()?;
    let entries = directory(r, &header)?;
    let placed = real_parents(&entries);
    // clamd's `max_block_no`: indices above it are skipped
    let max_index = (file_len.saturating_sub(4096) / 64) as usize;
    let mut visible = HashSet::new();
    let mut visits = 0;
    replay(
        &entries,
        &placed,
        0,
        0,
        max_index,
        &mut visits,
        &mut visible,
    );
    Some(visible)
}

/// The directory entries, in order, read through the FAT (first 109 FAT sectors).
fn directory<R: Read + Seek>(r: &mut R, header: &[u8; 512]) -> Option<Vec<Entry>> {
    let u32_at = |b: &[u8], at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let mut sector = vec![0u8; 4096];
    let read_sector = |r: &mut R, n: u32, buf: &mut [u8]| -> Option<()> {
        r.seek(SeekFrom::Start((u64::from(n) + 1) << 12)).ok()?;
        r.read_exact(buf).ok()
    };
    let fat_sectors: Vec<u32> = (0..109)
        .map(|i| u32_at(header, 0x4c + 4 * i))
        .take_while(|&s| s < 0xFFFF_FFFA)
        .collect();
    // the FAT entry of a sector, read on demand
    let next = |r: &mut R, s: u32| -> Option<u32> {
        let fat = *fat_sectors.get((s / 1024) as usize)?;
        let mut b = [0u8; 4];
        r.seek(SeekFrom::Start(
            ((u64::from(fat) + 1) << 12) + u64::from(s % 1024) * 4,
        ))
        .ok()?;
        r.read_exact(&mut b).ok()?;
        Some(u32::from_le_bytes(b))
    };
    let mut entries = Vec::new();
    let mut s = u32_at(header, 0x30);
    for _ in 0..MAX_DIR_SECTORS {
        if s >= 0xFFFF_FFFA {
            break;
        }
        read_sector(r, s, &mut sector)?;
        for e in sector.chunks(ENTRY) {
            let name_len = usize::from(u16::from_le_bytes([e[0x40], e[0x41]])).min(64);
            let units: Vec<u16> = e[..name_len.saturating_sub(2)]
                .chunks(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            entries.push(Entry {
                name: String::from_utf16_lossy(&units),
                kind: e[0x42],
                prev: u32_at(e, 0x44),
                next: u32_at(e, 0x48),
                child: u32_at(e, 0x4c),
            });
        }
        s = next(r, s)?;
    }
    Some(entries)
}

/// Where each entry sits in the real tree: its parent storage (`None` for the root's
/// children) and depth, for entries at most [`MAX_LEVEL`] storages deep. Paths are built
/// from this only for the streams clamd reaches, so memory stays linear in the entries.
fn real_parents(entries: &[Entry]) -> Vec<Option<(Option<u32>, u32)>> {
    let mut placed: Vec<Option<(Option<u32>, u32)>> = vec![None; entries.len()];
    // (entry, parent storage, depth) to visit; each entry is placed once
    let mut work: Vec<(u32, Option<u32>, u32)> = match entries.first() {
        Some(root) if root.child != NO_ENTRY => vec![(root.child, None, 0)],
        _ => Vec::new(),
    };
    while let Some((i, parent, depth)) = work.pop() {
        let Some(e) = entries.get(i as usize) else {
            continue;
        };
        if placed[i as usize].is_some() || depth > MAX_LEVEL {
            continue;
        }
        placed[i as usize] = Some((parent, depth));
        for sibling in [e.prev, e.next] {
            if sibling != NO_ENTRY {
                work.push((sibling, parent, depth));
            }
        }
        if e.kind == 1 && e.child != NO_ENTRY {
            work.push((e.child, Some(i), depth + 1));
        }
    }
    placed
}

/// The `cfb` path of entry `i` (root `/`), when placed.
fn path_of(entries: &[Entry], placed: &[Option<(Option<u32>, u32)>], i: usize) -> Option<PathBuf> {
    let mut names = vec![entries[i].name.as_str()];
    let mut at = placed.get(i).copied().flatten()?.0;
    // each step goes one storage up, and depths are at most MAX_LEVEL
    while let Some(p) = at {
        names.push(entries[p as usize].name.as_str());
        at = placed[p as usize]?.0;
    }
    let mut path = PathBuf::from("/");
    path.extend(names.iter().rev());
    Some(path)
}

/// clamd's walk from index `i`: every index it pops, read through its 4-a-sector mapping.
fn replay(
    entries: &[Entry],
    placed: &[Option<(Option<u32>, u32)>],
    i: u32,
    level: u32,
    max_index: usize,
    visits: &mut usize,
    visible: &mut HashSet<PathBuf>,
) {
    if level > MAX_LEVEL {
        return;
    }
    let mut list = vec![i];
    while let Some(i) = list.pop() {
        *visits += 1;
        if *visits > MAX_VISITS {
            return;
        }
        let i = i as usize;
        if i > max_index {
            continue;
        }
        let real = (i / 4) * 32 + i % 4;
        let Some(e) = entries.get(real) else { continue };
        let deeper = match e.kind {
            5 if i == 0 && level == 0 => level + 1,
            5 => continue,
            2 => {
                if visible.len() < MAX_VISIBLE {
                    visible.extend(path_of(entries, placed, real));
                }
                level
            }
            1 => level + 1,
            _ => continue,
        };
        if e.child != NO_ENTRY {
            replay(entries, placed, e.child, deeper, max_index, visits, visible);
        }
        list.extend([e.prev, e.next].into_iter().filter(|&n| n != NO_ENTRY));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn visible(doc: Vec<u8>) -> Option<Vec<String>> {
        let mut v: Vec<String> = clamd_visible(&mut Cursor::new(doc))?
            .into_iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        v.sort();
        Some(v)
    }

    /// CLAMD-DET-7: in a version 4 file (one directory sector) clamd reads directory
    /// entries 0-3 only, and reaches a stream only through them; a version 3 file is read
    /// right (no filter).
    #[test]
    fn version_4_directory_as_clamd_reads_it() {
        use fixtures::documents::{ole2_of, ole2_v4_of};
        let f: &[u8] = b"filler";
        let five = [("/A", f), ("/B", f), ("/C", f), ("/D", f), ("/E", f)];
        assert_eq!(visible(ole2_of(&five)), None);
        assert_eq!(
            visible(ole2_v4_of(&five)).unwrap(),
            // /C (entry 3) hangs below /D (entry 4) in the tree, which clamd misreads
            ["/A", "/B"]
        );
        let package = ole2_v4_of(&[("/W", f), ("/Pool/_1/\u{1}Ole10Native", f)]);
        assert_eq!(visible(package).unwrap(), ["/W"]);
        let shallow = ole2_v4_of(&[("/Pool/_1/\u{1}Ole10Native", f)]);
        assert_eq!(visible(shallow).unwrap(), ["/Pool/_1/\u{1}Ole10Native"]);
        // not a compound file at all
        assert_eq!(visible(vec![0u8; 100]), None);
    }
}
