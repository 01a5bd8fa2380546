//! fave (placeholder: being written).
