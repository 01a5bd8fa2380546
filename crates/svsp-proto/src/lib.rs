//! svsp-proto (placeholder: being written).
