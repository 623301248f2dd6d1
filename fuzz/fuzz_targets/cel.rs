//! CEL: compile any text, and evaluate what compiles over a record, with the clock and user roots: errors
//! are fine, panics, overflows and runaway evaluation are not.
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
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let now = chrono::Utc::now();
    let _ = objectos_host::expr::evaluate_constant(source, now);
    if let Ok(compiled) = objectos_host::expr::compile(source) {
        let record = serde_json::json!({"amount": 12.5, "n": 9_007_199_254_740_993i64, "title": "a b",
            "tags": ["x", "y"], "due": "2026-12-06", "nested": {"k": [1, 2, 3]}});
        let user = serde_json::json!({"id": "u1", "email": "u@example.com", "positions": ["everyone"]});
        if let Some(map) = record.as_object() {
            let _ = compiled.evaluate_in(map, &[("current_user", &user), ("user", &user)], now);
        }
    }
});
