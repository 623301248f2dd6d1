//! Artifact loading and validation (every accepted form, the checksum, every rule with its JSON path) on
//! arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = objectos_host::artifact::Artifact::from_bytes(data);
});
