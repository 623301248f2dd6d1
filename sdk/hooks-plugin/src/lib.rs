//! A hooks plugin in a few lines of Rust (its own crate: wit-bindgen names export glue by interface, and the
//! SDK already exports `hook` for hook bodies).
//!
//! ```ignore
//! use objectos_sdk::{Event, HookResult, proceed};
//! struct Watch;
//! impl objectos_hooks_plugin::HooksPlugin for Watch {
//!     fn handle(event: Event) -> HookResult {
//!         objectos_sdk::log::info(&format!("{} {}", event.event, event.object));
//!         proceed()
//!     }
//! }
//! objectos_hooks_plugin::export!(Watch);
//! ```
//! Which objects and events it receives is in its manifest (`hooks`), not in code.

use objectos_sdk::{Error, Event, HookResult, Outcome, Value};

/// Bindings of the `hooks-plugin` world; its imports are the SDK's.
pub mod bindings {
    wit_bindgen::generate!({
        world: "hooks-plugin",
        path: "../../wit",
        with: {
            "objectos:host/types@0.1.0": objectos_sdk::hook::objectos::host::types,
            "objectos:host/data@0.1.0": objectos_sdk::hook::objectos::host::data,
            "objectos:host/log@0.1.0": objectos_sdk::hook::objectos::host::log,
        },
        default_bindings_module: "objectos_hooks_plugin::bindings",
        pub_export_macro: true,
        export_macro_name: "export_world",
    });
}

use bindings::exports::objectos::host::hook as plugin_hook;

/// A hooks plugin: `init` once, then one `handle` per event its manifest subscribes to. One long-lived
/// instance, calls one at a time.
pub trait HooksPlugin {
    fn init(config: Value) -> Result<(), Error> {
        let _ = config;
        Ok(())
    }
    fn stop() {}
    fn handle(event: Event) -> HookResult;
}

#[doc(hidden)]
pub fn __init<T: HooksPlugin>(config: String) -> Result<(), Error> {
    T::init(objectos_sdk::__parse(&config, "the plugin configuration")?)
}

#[doc(hidden)]
pub fn __handle<T: HooksPlugin>(e: plugin_hook::Event) -> Result<plugin_hook::Outcome, Error> {
    let event = Event {
        object: e.object,
        event: e.event,
        input: e.input,
        previous: e.previous,
        record_id: e.record_id,
        caller: e.caller,
    };
    Ok(match T::handle(event)? {
        Outcome::Proceed(r) => plugin_hook::Outcome::Proceed(r),
        Outcome::Abort(m) => plugin_hook::Outcome::Abort(m),
    })
}

/// Exports a [`HooksPlugin`] implementation as the component's `hooks-plugin` world.
#[macro_export]
macro_rules! export {
    ($t:ty) => {
        struct __ObjectosHooksPlugin;
        impl $crate::bindings::exports::objectos::host::plugin::Guest for __ObjectosHooksPlugin {
            fn init(config: String) -> Result<(), $crate::__Error> {
                $crate::__init::<$t>(config)
            }
            fn stop() {
                <$t as $crate::HooksPlugin>::stop()
            }
        }
        impl $crate::bindings::exports::objectos::host::hook::Guest for __ObjectosHooksPlugin {
            fn handle(
                e: $crate::bindings::exports::objectos::host::hook::Event,
            ) -> Result<$crate::bindings::exports::objectos::host::hook::Outcome, $crate::__Error> {
                $crate::__handle::<$t>(e)
            }
        }
        $crate::bindings::export_world!(__ObjectosHooksPlugin with_types_in $crate::bindings);
    };
}

#[doc(hidden)]
pub use objectos_sdk::Error as __Error;
