//! The `webhook` service plugin: POSTs JSON to a URL. Method `post` takes `{"url"?: …, "body": …}`; without
//! `url` it posts to the `url` of its configuration. The host lets a request out only to the hosts the
//! operator granted (`http:outbound:<host[:port]>`); any other answers 403 without a connection being made.

use objectos_sdk::{Caller, Error, Value, http, json};
use objectos_service_plugin::ServicePlugin;
use std::sync::Mutex;

static DEFAULT_URL: Mutex<Option<String>> = Mutex::new(None);

struct Webhook;

impl ServicePlugin for Webhook {
    fn init(config: Value) -> Result<(), Error> {
        let url = config
            .get("url")
            .and_then(Value::as_str)
            .map(str::to_string);
        *DEFAULT_URL
            .lock()
            .map_err(|_| Error::Internal("poisoned".into()))? = url;
        Ok(())
    }

    fn call(caller: Caller, method: &str, payload: Value) -> Result<Value, Error> {
        if method != "post" {
            return Err(Error::NotFound(format!(
                "no method {method} (webhook has post)"
            )));
        }
        let url = match payload.get("url").and_then(Value::as_str) {
            Some(u) => u.to_string(),
            None => DEFAULT_URL
                .lock()
                .ok()
                .and_then(|u| u.clone())
                .ok_or_else(|| {
                    Error::Invalid("payload.url: no url given and none configured".into())
                })?,
        };
        let body = json!({
            "event": payload.get("event").cloned().unwrap_or(Value::Null),
            "body": payload.get("body").cloned().unwrap_or(Value::Null),
            "sentBy": caller.user_id,
        });
        let response = http::post_json(&url, &body.to_string())?;
        Ok(json!({"status": response.status, "body": response.body}))
    }
}

objectos_service_plugin::export!(Webhook);
