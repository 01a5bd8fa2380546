//! 7z archives, as clamd unpacks them (CLAMD-DET-7), read with `sevenz-rust2` from the
//! container's spool (memory up to the spill threshold, then a temporary file). Members are
//! decoded as streams, block by block, one thread; a coder whose dictionary or model needs
//! more than [`MEM_LIMIT_KIB`] (and a header buffer larger than that) is refused, so memory
//! stays bounded whatever the archive claims. Encrypted archives are not opened.

use std::io::{Read, Seek};

use sevenz_rust2::{ArchiveReader, Password};

/// Largest decoder dictionary / model and header buffer accepted (KiB): `7z -mx9` uses a
/// 64 MiB LZMA2 dictionary (the same bound as for xz).
pub(crate) const MEM_LIMIT_KIB: usize = 80 * 1024;

/// The 7z signature header.
pub(crate) fn is_7z(head: &[u8]) -> bool {
    head.starts_with(&[b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c])
}

/// The archive's directory, when it parses within the memory limit.
pub(crate) fn open<R: Read + Seek>(reader: R) -> Option<ArchiveReader<R>> {
    let mut archive =
        ArchiveReader::new_with_memory_limit(reader, Password::empty(), MEM_LIMIT_KIB).ok()?;
    // the daemons bound their own parallelism; decoding stays on the scanning thread
    archive.set_thread_count(1);
    Some(archive)
}
