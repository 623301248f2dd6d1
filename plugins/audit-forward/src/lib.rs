//! The `audit-forward` hooks plugin: every write to the objects its manifest subscribes to is forwarded, after
//! the write, as one JSON document to the collector URL in its configuration (`url`). Its manifest asks for
//! `data:read:<object>` (to see the records) and `http:outbound:<collector host>`; the host enforces both.

use objectos_hooks_plugin::HooksPlugin;
use objectos_sdk::{Error, Event, HookResult, Value, http, json, proceed};
use std::sync::Mutex;

static COLLECTOR: Mutex<Option<String>> = Mutex::new(None);

struct AuditForward;

impl HooksPlugin for AuditForward {
    fn init(config: Value) -> Result<(), Error> {
        let url = config
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Invalid("config.url: the collector URL is required".into()))?;
        *COLLECTOR
            .lock()
            .map_err(|_| Error::Internal("poisoned".into()))? = Some(url.to_string());
        Ok(())
    }

    fn handle(event: Event) -> HookResult {
        let url = COLLECTOR
            .lock()
            .ok()
            .and_then(|u| u.clone())
            .ok_or_else(|| Error::Internal("not initialised".into()))?;
        let record: Value = serde_json_or_null(&event.input);
        let document = json!({
            "object": event.object,
            "event": event.event,
            "recordId": event.record_id,
            "record": record,
            "previous": event.previous.as_deref().map(serde_json_or_null),
            "userId": event.caller.user_id,
            "organizationId": event.caller.organization_id,
        });
        let response = http::post_json(&url, &document.to_string())?;
        if response.status >= 300 {
            return Err(Error::Internal(format!(
                "the collector answered {}",
                response.status
            )));
        }
        proceed()
    }
}

fn serde_json_or_null(text: &str) -> Value {
    objectos_sdk::serde_json::from_str(text).unwrap_or(Value::Null)
}

objectos_hooks_plugin::export!(AuditForward);
