//! What a run writes beside the rows: the HTML report, the baseline comparison and
//! `--write-baseline`, the GitHub summary and annotations (issue 16). Kept apart from
//! `report`, which these outputs read, so no two modules import each other.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::report::Report;

/// What `--report-html`, `--baseline`, `--write-baseline` and the GitHub annotations need
/// beyond the rows (issue 16).
#[derive(Debug, Clone, Default)]
pub struct Extras {
    pub details: crate::report_html::Details,
    pub baseline: Option<crate::baseline::Baseline>,
    pub html: Option<PathBuf>,
    pub write_baseline: Option<PathBuf>,
    pub allow_fail_open: bool,
}

impl Extras {
    /// Loads the baseline before anything runs, so a bad one exits 2 at once.
    pub fn new(
        root: &Path,
        html: Option<&Path>,
        baseline: Option<&Path>,
        write_baseline: Option<&Path>,
        allow_fail_open: bool,
    ) -> Result<Self> {
        Ok(Extras {
            details: crate::report_html::Details::for_root(root),
            baseline: crate::baseline::Baseline::load(baseline, allow_fail_open, write_baseline)?,
            html: html.map(Path::to_path_buf),
            write_baseline: write_baseline.map(Path::to_path_buf),
            allow_fail_open,
        })
    }
}

impl Extras {
    /// The HTML report, the baseline comparison (printed) and `--write-baseline`, the
    /// GitHub summary and annotations; returns the exit code (the baseline's when given).
    pub fn finish(&self, report: &Report, require_available: bool) -> Result<u8> {
        let extras = self;
        let outcome = extras.baseline.as_ref().map(|b| b.check(report));
        if let (Some(b), Some(o)) = (&extras.baseline, &outcome) {
            use std::io::Write as _;
            let _ = write!(std::io::stderr(), "{}", o.terminal(report, &b.path));
        }
        if let Some(p) = &extras.html {
            crate::report_html::write(p, report, &extras.details, outcome.as_ref())?;
        }
        if let Some(p) = &extras.write_baseline {
            crate::baseline::write(p, report, extras.baseline.as_ref(), extras.allow_fail_open)?;
        }
        crate::annotate::github(report, outcome.as_ref())?;
        Ok(match &outcome {
            Some(o) => o.exit_code(report, require_available),
            None => report.exit_code(require_available),
        })
    }
}
