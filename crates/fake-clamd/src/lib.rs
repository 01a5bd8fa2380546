//! fake-clamd (placeholder: being written).
