#![no_main]
//! cargo-fuzz target `mail`; the body lives in `hostile_tests::targets::mail`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hostile_tests::targets::mail(data));
