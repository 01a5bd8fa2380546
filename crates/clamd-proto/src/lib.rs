//! clamd-proto (placeholder: being written).
