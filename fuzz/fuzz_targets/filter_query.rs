//! The QueryAST parser (both filter wire forms, macros, expand, search, paging) on arbitrary JSON bodies:
//! it must answer Ok or an error, never panic.
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
use objectos_host::artifact::Artifact;
use objectos_host::data::catalog::Catalog;
use objectos_host::data::filter::MacroContext;
use objectos_host::data::query::Query;
use std::sync::OnceLock;

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let artifact = Artifact::from_value(serde_json::json!({
            "objects": [
                {"name": "task", "fields": {
                    "title": {"type": "text", "searchable": true}, "rank": {"type": "number"},
                    "due": {"type": "date"}, "at": {"type": "datetime"}, "done": {"type": "boolean"},
                    "tags": {"type": "multiselect", "options": [{"label": "a", "value": "a"}, {"label": "b", "value": "b"}]},
                    "parent": {"type": "lookup", "reference": "task"},
                    "total": {"type": "formula", "expression": "record.rank * 2"}
                }}
            ]
        }))
        .expect("the fuzz artifact is valid");
        Catalog::with_internal(&artifact.definition, &[])
    })
}

fuzz_target!(|data: &[u8]| {
    quiet_caught_panics();
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let catalog = catalog();
    let Some(schema) = catalog.object("task") else {
        return;
    };
    let ctx = MacroContext::now(Some("u1".into()), Some("o1".into()));
    let _ = Query::from_json(catalog, schema, &body, &ctx);
});
