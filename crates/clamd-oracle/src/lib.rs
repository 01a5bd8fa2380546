//! clamd-oracle (placeholder: being written).
