#![no_main]
//! cargo-fuzz target `archive`; the body lives in `hostile_tests::targets::archive`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hostile_tests::targets::archive(data));
