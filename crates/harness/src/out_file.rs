//! Writing a report file: its directory is created when missing (`target/` before any build,
//! `reports/` in a user's CI), so a finished run never fails on where to put its report.

use std::path::Path;

use crate::error::{HarnessError, Result};

/// Writes `text` to `path`, creating the parent directories first.
pub fn write(path: &Path, text: impl AsRef<[u8]>) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| HarnessError::io(format!("creating {}", dir.display()), e))?;
    }
    std::fs::write(path, text)
        .map_err(|e| HarnessError::io(format!("writing {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    /// A report path in directories that do not exist yet is written, not refused.
    #[test]
    fn report_in_a_missing_directory_is_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a/b/report.xml");
        super::write(&p, "x").expect("written");
        assert_eq!(std::fs::read_to_string(&p).expect("read"), "x");
    }
}
