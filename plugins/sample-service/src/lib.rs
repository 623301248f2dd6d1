//! A service plugin used by the tests and the README walk-through. Its methods show what a plugin is given:
//! `echo` (its config, the caller, and how many calls this instance has served: plugins are long-lived),
//! `count` / `insert` (data calls, checked against its grants), `log`, and `spin` (a runaway call that its
//! fuel stops; the next call gets a new instance).

use objectos_sdk::{Caller, Error, Value, data, json, log};
use objectos_service_plugin::ServicePlugin;
use std::sync::Mutex;

static CONFIG: Mutex<Option<Value>> = Mutex::new(None);
static CALLS: Mutex<u64> = Mutex::new(0);

struct SampleService;

fn text<'a>(payload: &'a Value, key: &str) -> Result<&'a str, Error> {
    payload
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Invalid(format!("payload.{key}: a string is required")))
}

impl ServicePlugin for SampleService {
    fn init(config: Value) -> Result<(), Error> {
        if config.get("fail_init") == Some(&Value::Bool(true)) {
            return Err(Error::Invalid(
                "configured to fail (fail_init = true)".into(),
            ));
        }
        *CONFIG
            .lock()
            .map_err(|_| Error::Internal("poisoned".into()))? = Some(config);
        Ok(())
    }

    fn call(caller: Caller, method: &str, payload: Value) -> Result<Value, Error> {
        let calls = {
            let mut n = CALLS
                .lock()
                .map_err(|_| Error::Internal("poisoned".into()))?;
            *n += 1;
            *n
        };
        match method {
            "echo" => Ok(json!({
                "payload": payload,
                "config": CONFIG.lock().ok().and_then(|c| c.clone()),
                "calls": calls,
                "caller": {"userId": caller.user_id, "organizationId": caller.organization_id},
            })),
            "count" => {
                let records = data::find(text(&payload, "object")?, &json!({}))?;
                Ok(json!({"count": records.len()}))
            }
            "insert" => {
                let values = payload.get("values").cloned().unwrap_or(json!({}));
                Ok(Value::Object(data::insert(
                    text(&payload, "object")?,
                    &values,
                )?))
            }
            "log" => {
                log::info(text(&payload, "message")?);
                Ok(json!({"logged": true}))
            }
            "spin" => {
                let mut x: u64 = calls;
                loop {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            }
            other => Err(Error::NotFound(format!("no method {other}"))),
        }
    }
}

objectos_service_plugin::export!(SampleService);
