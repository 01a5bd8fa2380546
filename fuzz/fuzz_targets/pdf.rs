#![no_main]
//! cargo-fuzz target `pdf`; the body lives in `hostile_tests::targets::pdf`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hostile_tests::targets::pdf(data));
