//! Artifact loading and validation (every accepted form, the checksum, every rule with its JSON path) on
//! arbitrary bytes.
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

fuzz_target!(|data: &[u8]| {
    quiet_caught_panics();
    let _ = objectos_host::artifact::Artifact::from_bytes(data);
});
