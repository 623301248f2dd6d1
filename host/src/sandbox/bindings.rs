//! Host-side bindings of the `objectos:host` WIT package (wit/objectos.wit).

/// The `hook-body` world; its `types`, `data` and `log` imports are shared with [`function`].
pub mod hook {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "hook-body",
        imports: { default: async },
        exports: { default: async },
    });
}

/// The `function-body` world.
pub mod function {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "function-body",
        imports: { default: async },
        exports: { default: async },
        with: {
            "objectos:host/types": super::hook::objectos::host::types,
            "objectos:host/data": super::hook::objectos::host::data,
            "objectos:host/log": super::hook::objectos::host::log,
        },
    });
}

/// The `js-runtime` world (the JavaScript runtime component).
pub mod script {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "js-runtime",
        imports: { default: async },
        exports: { default: async },
        with: {
            "objectos:host/types": super::hook::objectos::host::types,
            "objectos:host/data": super::hook::objectos::host::data,
            "objectos:host/log": super::hook::objectos::host::log,
        },
    });
}

pub use hook::objectos::host::types::{Caller, Error as GuestError};

/// The `service-plugin` world (a third party's service, one long-lived instance).
pub mod service_plugin {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "service-plugin",
        imports: { default: async },
        exports: { default: async },
        with: {
            "objectos:host/types": super::hook::objectos::host::types,
            "objectos:host/data": super::hook::objectos::host::data,
            "objectos:host/log": super::hook::objectos::host::log,
        },
    });
}

/// The `hooks-plugin` world (a third party's lifecycle hooks, one long-lived instance).
pub mod hooks_plugin {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "hooks-plugin",
        imports: { default: async },
        exports: { default: async },
        with: {
            "objectos:host/types": super::hook::objectos::host::types,
            "objectos:host/data": super::hook::objectos::host::data,
            "objectos:host/log": super::hook::objectos::host::log,
        },
    });
}

/// The `driver-plugin` world (a third party's datasource, one long-lived instance).
pub mod driver_plugin {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "driver-plugin",
        imports: { default: async },
        exports: { default: async },
        with: {
            "objectos:host/types": super::hook::objectos::host::types,
            "objectos:host/log": super::hook::objectos::host::log,
        },
    });
}
