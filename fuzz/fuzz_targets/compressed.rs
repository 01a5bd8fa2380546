#![no_main]
//! cargo-fuzz target `compressed`; the body lives in `hostile_tests::targets::compressed`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hostile_tests::targets::compressed(data));
