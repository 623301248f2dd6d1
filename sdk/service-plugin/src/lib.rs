//! A service plugin in a few lines of Rust (its own crate: wit-bindgen names export glue by interface, so two
//! worlds exporting the same interface cannot share one crate).
//!
//! ```ignore
//! use objectos_sdk::{Caller, Error, Value, json};
//! struct Greeter;
//! impl objectos_service_plugin::ServicePlugin for Greeter {
//!     fn call(caller: Caller, method: &str, payload: Value) -> Result<Value, Error> {
//!         Ok(json!({"hello": caller.user_id, "method": method, "payload": payload}))
//!     }
//! }
//! objectos_service_plugin::export!(Greeter);
//! ```

use objectos_sdk::{Caller, Error, Value};

/// Bindings of the `service-plugin` world; its imports are the SDK's.
pub mod bindings {
    wit_bindgen::generate!({
        world: "service-plugin",
        path: "../../wit",
        with: {
            "objectos:host/types@0.1.0": objectos_sdk::hook::objectos::host::types,
            "objectos:host/data@0.1.0": objectos_sdk::hook::objectos::host::data,
            "objectos:host/log@0.1.0": objectos_sdk::hook::objectos::host::log,
        },
        default_bindings_module: "objectos_service_plugin::bindings",
        pub_export_macro: true,
        export_macro_name: "export_world",
    });
}

/// A service plugin: `init` once with the operator's config, then `call`s of named methods. It is one
/// long-lived instance: what it keeps in statics survives between calls (until a call traps).
pub trait ServicePlugin {
    /// The operator's configuration for this plugin (`{}` when none).
    fn init(config: Value) -> Result<(), Error> {
        let _ = config;
        Ok(())
    }
    fn stop() {}
    /// One method call; `payload` is the request's JSON body.
    fn call(caller: Caller, method: &str, payload: Value) -> Result<Value, Error>;
}

#[doc(hidden)]
pub fn __init<T: ServicePlugin>(config: String) -> Result<(), Error> {
    T::init(objectos_sdk::__parse(&config, "the plugin configuration")?)
}

#[doc(hidden)]
pub fn __call<T: ServicePlugin>(
    caller: Caller,
    method: String,
    payload: String,
) -> Result<String, Error> {
    T::call(
        caller,
        &method,
        objectos_sdk::__parse(&payload, "the payload")?,
    )
    .map(|v| v.to_string())
}

/// Exports a [`ServicePlugin`] implementation as the component's `service-plugin` world.
#[macro_export]
macro_rules! export {
    ($t:ty) => {
        struct __ObjectosServicePlugin;
        impl $crate::bindings::exports::objectos::host::plugin::Guest for __ObjectosServicePlugin {
            fn init(config: String) -> Result<(), $crate::__Error> {
                $crate::__init::<$t>(config)
            }
            fn stop() {
                <$t as $crate::ServicePlugin>::stop()
            }
        }
        impl $crate::bindings::exports::objectos::host::service::Guest for __ObjectosServicePlugin {
            fn call(
                c: $crate::__Caller,
                method: String,
                payload: String,
            ) -> Result<String, $crate::__Error> {
                $crate::__call::<$t>(c, method, payload)
            }
        }
        $crate::bindings::export_world!(__ObjectosServicePlugin with_types_in $crate::bindings);
    };
}

#[doc(hidden)]
pub use objectos_sdk::{Caller as __Caller, Error as __Error};
