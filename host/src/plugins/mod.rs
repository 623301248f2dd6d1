//! Third-party plugins: the manifest they carry, their Ed25519 signatures (the WebAssembly tool-conventions
//! format), the operator's trust policy that decides which may load and with which capabilities, and the
//! running plugins (driver, service and hooks worlds).

pub mod loader;
pub mod manifest;
pub mod runtime;
pub mod signature;
pub mod trust;
