//! clamd's per-scan limits, with the semantics clamd 1.4.6 shows on the wire (CLAMD-CONF-3,
//! spec section 19 "Limits"). Every value 0 means "no limit", as in `clamd.conf`.
//!
//! Observed on clamd 1.4.6 (recorded by the oracle cases `limits_*`):
//! - The scanned object itself (file, stream, FILDES) larger than `MaxFileSize` or
//!   `MaxScanSize` is not scanned at all.
//! - A member with a declared size (zip, tar) larger than `MaxFileSize` is scanned truncated
//!   to `MaxFileSize` bytes, and the scan goes on with the next member. A member whose size is
//!   only known by decompressing it (gzip) and that grows past `MaxFileSize` is not scanned.
//! - `MaxScanSize` is a budget for the whole scan: the object's own size, then each member's
//!   (truncated) size. A member that does not fit ends the container it is in; the parent
//!   container goes on with its next member.
//! - A member at nesting level `L` (the object's own members are level 1) is scanned only if
//!   `L < MaxRecursion`.
//! - `MaxFiles` members are scanned; the next one stops the scan. clamd also counts some of
//!   its internal sub-scans (text normalisation, nested archives) as files, which is not
//!   modelled: with small `MaxFiles` values clamd may stop earlier (MISMATCHES.md).
//!
//! When a limit stopped or shortened a scan and nothing was found, clamd answers `OK`, or with
//! `AlertExceedsMax yes`, `Heuristics.Limits.Exceeded.<limit> FOUND`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// clamd's scan limits; 0 = unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanLimits {
    /// `MaxFileSize`.
    pub max_file_size: u64,
    /// `MaxScanSize`.
    pub max_scan_size: u64,
    /// `MaxFiles`.
    pub max_files: u64,
    /// `MaxRecursion`.
    pub max_recursion: u32,
}

/// Which limit stopped or shortened a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitExceeded {
    MaxFileSize,
    MaxScanSize,
    MaxFiles,
    MaxRecursion,
}

impl LimitExceeded {
    /// The directive name, as in `Heuristics.Limits.Exceeded.<name>`.
    pub fn name(self) -> &'static str {
        match self {
            LimitExceeded::MaxFileSize => "MaxFileSize",
            LimitExceeded::MaxScanSize => "MaxScanSize",
            LimitExceeded::MaxFiles => "MaxFiles",
            LimitExceeded::MaxRecursion => "MaxRecursion",
        }
    }

    /// The heuristic clamd reports with `AlertExceedsMax yes`.
    pub fn heuristic_name(self) -> String {
        format!("Heuristics.Limits.Exceeded.{}", self.name())
    }
}

fn limited(limit: u64) -> Option<u64> {
    (limit != 0).then_some(limit)
}

impl ScanLimits {
    /// Whether the scanned object itself may be scanned, given its size.
    pub fn check_root(&self, size: u64) -> Result<(), LimitExceeded> {
        if limited(self.max_file_size).is_some_and(|m| size > m) {
            return Err(LimitExceeded::MaxFileSize);
        }
        if limited(self.max_scan_size).is_some_and(|m| size > m) {
            return Err(LimitExceeded::MaxScanSize);
        }
        Ok(())
    }

    /// How many bytes of a member are scanned: `MaxFileSize` truncates.
    pub fn member_cap(&self) -> Option<u64> {
        limited(self.max_file_size)
    }

    /// Whether `more` bytes still fit the scan budget after `used`.
    pub fn fits_budget(&self, used: u64, more: u64) -> bool {
        limited(self.max_scan_size).is_none_or(|m| used.saturating_add(more) <= m)
    }

    /// What is left of `MaxScanSize` after `used` bytes; `None` when it is unlimited.
    pub fn scan_budget_left(&self, used: u64) -> Option<u64> {
        limited(self.max_scan_size).map(|m| m.saturating_sub(used))
    }

    /// Whether a member at nesting `level` (1 = the object's own members) may be scanned.
    pub fn level_allowed(&self, level: u32) -> bool {
        self.max_recursion == 0 || level < self.max_recursion
    }

    /// Whether one more member may be scanned after `scanned` members.
    pub fn files_allowed(&self, scanned: u64) -> bool {
        limited(self.max_files).is_none_or(|m| scanned < m)
    }
}

/// A flag that stops scans in progress (daemon shutdown); checked between reads.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_means_unlimited_for_every_limit() {
        let l = ScanLimits::default();
        assert_eq!(l.check_root(u64::MAX), Ok(()));
        assert_eq!(l.member_cap(), None);
        assert!(l.fits_budget(u64::MAX, u64::MAX));
        assert!(l.level_allowed(1000));
        assert!(l.files_allowed(u64::MAX - 1));
    }

    #[test]
    fn root_checks_file_size_before_scan_size() {
        let l = ScanLimits {
            max_file_size: 10,
            max_scan_size: 5,
            ..ScanLimits::default()
        };
        assert_eq!(l.check_root(5), Ok(()));
        assert_eq!(l.check_root(6), Err(LimitExceeded::MaxScanSize));
        assert_eq!(l.check_root(11), Err(LimitExceeded::MaxFileSize));
    }

    #[test]
    fn recursion_one_scans_no_member() {
        let l = ScanLimits {
            max_recursion: 1,
            ..ScanLimits::default()
        };
        assert!(!l.level_allowed(1));
        let l3 = ScanLimits {
            max_recursion: 3,
            ..ScanLimits::default()
        };
        assert!(l3.level_allowed(2) && !l3.level_allowed(3));
    }
}
