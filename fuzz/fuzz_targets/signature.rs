//! The plugin signature and manifest parsers on arbitrary bytes (a hostile `.wasm` is the input).
#![no_main]

use libfuzzer_sys::fuzz_target;
use objectos_host::plugins::{manifest, signature};

fuzz_target!(|data: &[u8]| {
    let _ = signature::signer_ids(data);
    let _ = signature::custom_section(data, "objectos-plugin");
    if let Ok(key) = signature::SecretKey::from_bytes(&[7u8; 64]) {
        let _ = signature::verify(data, &[key.public_key()]);
    }
    let _ = manifest::Manifest::parse(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = manifest::Capability::parse(text);
    }
});
