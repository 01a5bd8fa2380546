//! fake-vfindd (placeholder: being written).
