#![no_main]
//! cargo-fuzz target `clamd_command`; the body lives in `hostile_tests::targets::clamd_command`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hostile_tests::targets::clamd_command(data));
