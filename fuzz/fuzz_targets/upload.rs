//! Fuzzes the upload parser and chain builder. The input is the certificate field, a 0xFF
//! byte, the key field, a 0xFF byte and the password. Run with
//! `cargo +nightly fuzz run upload fuzz/corpus/upload crates/certkeeper-api/tests/corpus/upload`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    certkeeper_pki::upload::fuzz_upload(data);
});
