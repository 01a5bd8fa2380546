#![no_main]
//! cargo-fuzz target `svsp_response`; the body lives in `hostile_tests::targets::svsp_response`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hostile_tests::targets::svsp_response(data));
