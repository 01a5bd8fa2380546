#![no_main]
//! cargo-fuzz target `rtf`; the body lives in `hostile_tests::targets::rtf`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hostile_tests::targets::rtf(data));
