//! harness (placeholder: being written).
