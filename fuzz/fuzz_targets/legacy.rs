#![no_main]
//! cargo-fuzz target `legacy`; the body lives in `hostile_tests::targets::legacy`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hostile_tests::targets::legacy(data));
