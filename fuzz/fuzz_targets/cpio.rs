#![no_main]
//! cargo-fuzz target `cpio`; the body lives in `hostile_tests::targets::cpio`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hostile_tests::targets::cpio(data));
