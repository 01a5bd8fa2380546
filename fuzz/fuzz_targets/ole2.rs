#![no_main]
//! cargo-fuzz target `ole2`; the body lives in `hostile_tests::targets::ole2`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hostile_tests::targets::ole2(data));
