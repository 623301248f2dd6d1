//! The guest side of objectos: a hook or a function in a few lines of Rust.
//!
//! ```ignore
//! use objectos_sdk::{Event, Hook, HookResult, proceed_with};
//! struct Normalize;
//! impl Hook for Normalize {
//!     fn handle(event: Event) -> HookResult {
//!         let mut record = event.record()?;
//!         record.insert("status".into(), "draft".into());
//!         proceed_with(record)
//!     }
//! }
//! objectos_sdk::export_hook!(Normalize);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2`: the `.wasm` it writes is the component.

/// Bindings of the `hook-body` world (imports `data` and `log`, exports `hook`).
pub mod hook {
    wit_bindgen::generate!({
        world: "hook-body",
        path: "../wit",
        default_bindings_module: "objectos_sdk::hook",
        pub_export_macro: true,
        export_macro_name: "export_hook",
    });
}

/// Bindings of the `function-body` world; its imports are the ones of [`hook`].
pub mod function {
    wit_bindgen::generate!({
        world: "function-body",
        path: "../wit",
        with: {
            "objectos:host/types@0.1.0": crate::hook::objectos::host::types,
            "objectos:host/data@0.1.0": crate::hook::objectos::host::data,
            "objectos:host/log@0.1.0": crate::hook::objectos::host::log,
        },
        default_bindings_module: "objectos_sdk::function",
        pub_export_macro: true,
        export_macro_name: "export_function",
    });
}

/// Bindings of the `js-runtime` world (the JavaScript runtime component); its imports are the ones of [`hook`].
pub mod script {
    wit_bindgen::generate!({
        world: "js-runtime",
        path: "../wit",
        with: {
            "objectos:host/types@0.1.0": crate::hook::objectos::host::types,
            "objectos:host/data@0.1.0": crate::hook::objectos::host::data,
            "objectos:host/log@0.1.0": crate::hook::objectos::host::log,
        },
        default_bindings_module: "objectos_sdk::script",
        pub_export_macro: true,
        export_macro_name: "export_script",
    });
}

#[cfg(feature = "http")]
pub mod http;

pub use function::export_function;
pub use function::exports::objectos::host::function::Guest as Function;
pub use hook::export_hook;
pub use hook::exports::objectos::host::hook::{Event, Guest as Hook, Outcome};
pub use hook::objectos::host::types::{Caller, Error};
pub use script::export_script;
pub use serde_json::{self, Map, Value, json};

/// What a hook returns.
pub type HookResult = Result<Outcome, Error>;
/// A JSON object (a record).
pub type Record = Map<String, Value>;

/// Go on with the write unchanged.
pub fn proceed() -> HookResult {
    Ok(Outcome::Proceed(None))
}

/// Go on with `record` in place of the input (before-insert and before-update hooks).
pub fn proceed_with(record: Record) -> HookResult {
    Ok(Outcome::Proceed(Some(Value::Object(record).to_string())))
}

/// Stop the write; the caller gets `message` and nothing is written.
pub fn abort(message: impl Into<String>) -> HookResult {
    Ok(Outcome::Abort(message.into()))
}

#[doc(hidden)]
pub fn __parse(text: &str, what: &str) -> Result<Value, Error> {
    parse(text, what)
}

fn parse(text: &str, what: &str) -> Result<Value, Error> {
    serde_json::from_str(text).map_err(|e| Error::Invalid(format!("{what} is not JSON: {e}")))
}

fn as_record(v: Value, what: &str) -> Result<Record, Error> {
    match v {
        Value::Object(m) => Ok(m),
        other => Err(Error::Invalid(format!("{what} is not an object: {other}"))),
    }
}

impl Event {
    /// The record being written (insert and update events).
    pub fn record(&self) -> Result<Record, Error> {
        as_record(parse(&self.input, "the event input")?, "the event input")
    }

    /// The stored record before the write (update and delete events).
    pub fn previous_record(&self) -> Result<Option<Record>, Error> {
        self.previous
            .as_deref()
            .map(|p| as_record(parse(p, "the previous record")?, "the previous record"))
            .transpose()
    }

    pub fn is_before(&self) -> bool {
        self.event.starts_with("before")
    }
}

/// Data access as the invocation's caller, inside the triggering write's transaction.
pub mod data {
    use super::{Error, Record, Value, as_record, parse};
    use crate::hook::objectos::host::data as host;

    /// Records matching a QueryAST (`{"where": …, "limit": …}`).
    pub fn find(object: &str, query: &Value) -> Result<Vec<Value>, Error> {
        let answer = parse(&host::find(object, &query.to_string())?, "the find result")?;
        match answer.get("records") {
            Some(Value::Array(records)) => Ok(records.clone()),
            _ => Err(Error::Internal("the find result has no records".into())),
        }
    }

    pub fn get(object: &str, id: &str) -> Result<Record, Error> {
        as_record(parse(&host::get(object, id)?, "the record")?, "the record")
    }

    pub fn insert(object: &str, values: &Value) -> Result<Record, Error> {
        as_record(
            parse(&host::insert(object, &values.to_string())?, "the record")?,
            "the record",
        )
    }

    pub fn update(object: &str, id: &str, patch: &Value) -> Result<Record, Error> {
        as_record(
            parse(&host::update(object, id, &patch.to_string())?, "the record")?,
            "the record",
        )
    }

    pub fn delete(object: &str, id: &str) -> Result<(), Error> {
        host::delete(object, id)
    }
}

/// Service plugins, from function bodies (actions): a call acts as the invocation's caller.
pub mod services {
    use super::{Error, Value, parse};
    use crate::function::objectos::host::services as host;

    /// Calls `method` of service plugin `plugin` with `payload`.
    pub fn call(plugin: &str, method: &str, payload: &Value) -> Result<Value, Error> {
        parse(
            &host::call(plugin, method, &payload.to_string())?,
            "the service's answer",
        )
    }
}

/// Logging into the host's log.
pub mod log {
    use crate::hook::objectos::host::log::{Level, log};

    pub fn debug(message: &str) {
        log(Level::Debug, message)
    }
    pub fn info(message: &str) {
        log(Level::Info, message)
    }
    pub fn warn(message: &str) {
        log(Level::Warn, message)
    }
    pub fn error(message: &str) {
        log(Level::Error, message)
    }
}
