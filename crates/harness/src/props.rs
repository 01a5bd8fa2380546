//! `--proptest N`: generated inputs and daemon behaviours, shrunk on failure.
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::Result;
use crate::profile::ClientProfile;
use crate::report::Row;
use crate::runner::RunContext;

pub async fn run(
    _profiles: &[ClientProfile],
    _ctx: &Arc<RunContext>,
    _n: u32,
    _seed: Option<u64>,
    _build_errors: &BTreeMap<String, String>,
) -> Result<Vec<Row>> {
    Ok(Vec::new())
}
