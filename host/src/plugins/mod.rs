//! Third-party plugins: the manifest they carry, their Ed25519 signatures (the WebAssembly tool-conventions
//! format), the operator's trust policy that decides which may load and with which capabilities, and the
//! running plugins (service and hooks worlds; driver plugins are not built yet).

pub mod loader;
pub mod manifest;
pub mod runtime;
pub mod signature;
pub mod trust;
