//! A well-behaved hook body. Before a write it tidies the record (title trimmed, a missing status set to
//! `draft`, a negative amount refused); after a write it records an `activity` row through `data`.

use objectos_sdk::{Event, Hook, HookResult, Value, abort, data, json, proceed, proceed_with};

struct SampleHooks;

impl Hook for SampleHooks {
    fn handle(event: Event) -> HookResult {
        if event.is_before() {
            let mut record = event.record()?;
            if let Some(Value::String(title)) = record.get("title") {
                let trimmed = title.trim().to_string();
                record.insert("title".into(), Value::String(trimmed));
            }
            if event.event == "beforeInsert" && record.get("status").is_none_or(Value::is_null) {
                record.insert("status".into(), Value::String("draft".into()));
            }
            if record
                .get("amount")
                .and_then(Value::as_f64)
                .is_some_and(|a| a < 0.0)
            {
                return abort("amount must not be negative");
            }
            return proceed_with(record);
        }
        let record = event.record()?;
        data::insert(
            "activity",
            &json!({
                "subject": event.object,
                "record_id": event.record_id,
                "event": event.event,
                "title": record.get("title"),
            }),
        )?;
        proceed()
    }
}

objectos_sdk::export_hook!(SampleHooks);
