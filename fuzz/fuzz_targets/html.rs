#![no_main]
//! cargo-fuzz target `html`; the body lives in `hostile_tests::targets::html`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hostile_tests::targets::html(data));
