#![no_main]
//! cargo-fuzz target `sevenz`; the body lives in `hostile_tests::targets::sevenz`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hostile_tests::targets::sevenz(data));
