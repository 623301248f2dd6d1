//! A hooks plugin for the tests: before a write it stamps the record (`title` gets the prefix from its
//! configuration), which replaces the record and so needs `data:write:<object>`; a title of `"reject"` aborts
//! the write.

use objectos_hooks_plugin::HooksPlugin;
use objectos_sdk::{Error, Event, HookResult, Value, abort, proceed, proceed_with};
use std::sync::Mutex;

static PREFIX: Mutex<String> = Mutex::new(String::new());

struct Stamp;

impl HooksPlugin for Stamp {
    fn init(config: Value) -> Result<(), Error> {
        let prefix = config
            .get("prefix")
            .and_then(Value::as_str)
            .unwrap_or("[stamped] ");
        *PREFIX
            .lock()
            .map_err(|_| Error::Internal("poisoned".into()))? = prefix.to_string();
        Ok(())
    }

    fn handle(event: Event) -> HookResult {
        if !event.is_before() {
            return proceed();
        }
        let mut record = event.record()?;
        let Some(Value::String(title)) = record.get("title").cloned() else {
            return proceed();
        };
        if title == "reject" {
            return abort("stamp-hooks rejects this title");
        }
        let prefix = PREFIX.lock().map(|p| p.clone()).unwrap_or_default();
        record.insert("title".into(), Value::String(format!("{prefix}{title}")));
        proceed_with(record)
    }
}

objectos_hooks_plugin::export!(Stamp);
