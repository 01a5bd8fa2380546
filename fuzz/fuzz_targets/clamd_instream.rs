#![no_main]
//! cargo-fuzz target `clamd_instream`; the body lives in `hostile_tests::targets::clamd_instream`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hostile_tests::targets::clamd_instream(data));
