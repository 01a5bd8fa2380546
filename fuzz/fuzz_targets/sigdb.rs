#![no_main]
//! cargo-fuzz target `sigdb`; the body lives in `hostile_tests::targets::sigdb`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hostile_tests::targets::sigdb(data));
