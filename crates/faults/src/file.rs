//! Bounded reads of small text files given on the command line (fault plans, admin
//! tokens): hardening item 5, `--faults /dev/zero` must not grow without bound and a FIFO
//! with no writer must not hang.

use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use crate::FaultsError;

/// The largest fault plan file read (1 MiB): real scenarios are a few hundred bytes.
pub const MAX_PLAN_FILE: u64 = 1 << 20;

/// Reads `path` as UTF-8 text of at most `limit` bytes. `what` names the file in errors
/// ("fault plan", "admin token file").
///
/// The file is opened with `O_NONBLOCK`, so opening a FIFO never waits for a writer, and
/// must be a regular file or a character device (`/dev/null`; `/dev/zero` then fails on
/// the size bound). FIFOs, sockets and directories are refused with a clear message.
pub fn read_bounded(path: &Path, limit: u64, what: &str) -> Result<String, FaultsError> {
    let io = |source| FaultsError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io)?;
    let kind = file.metadata().map_err(io)?.file_type();
    if !(kind.is_file() || kind.is_char_device()) {
        let kind = if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_socket() {
            "a socket"
        } else if kind.is_dir() {
            "a directory"
        } else {
            "of another kind"
        };
        return Err(FaultsError::File(format!(
            "{what} {} is {kind}, not a regular file",
            path.display()
        )));
    }
    let mut bytes = Vec::new();
    // one byte past the limit tells "exactly at the limit" from "larger"
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(FaultsError::File(format!(
            "{what} {} is larger than {}",
            path.display(),
            human(limit)
        )));
    }
    String::from_utf8(bytes)
        .map_err(|_| FaultsError::File(format!("{what} {} is not UTF-8 text", path.display())))
}

fn human(n: u64) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn sizes_are_shown_in_binary_units() {
        assert_eq!(human(1 << 20), "1 MiB");
        assert_eq!(human(4096), "4 KiB");
        assert_eq!(human(1000), "1000 bytes");
    }
}
