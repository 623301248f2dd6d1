//! The plugin signature and manifest parsers on arbitrary bytes (a hostile `.wasm` is the input).
#![no_main]

use libfuzzer_sys::fuzz_target;

/// The host turns some panics of its dependencies into errors on purpose (the CEL parser's, with
/// `catch_unwind`); libfuzzer-sys's hook would abort on those too. A panic that escapes the code under test
/// is still a crash: libfuzzer-sys aborts when one unwinds out of the target.
fn quiet_caught_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            if std::env::var_os("FUZZ_SHOW_PANICS").is_some() {
                eprintln!("{info}");
            }
        }))
    });
}
use objectos_host::plugins::{manifest, signature};

fuzz_target!(|data: &[u8]| {
    quiet_caught_panics();
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
