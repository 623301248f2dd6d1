//! Third-party plugins: the manifest they carry, their Ed25519 signatures (the WebAssembly tool-conventions
//! format) and the operator's trust policy that decides which may load and with which capabilities.
//! Loading them into the kernel (lifecycle, driver / service / hooks worlds) is not built yet.

pub mod loader;
pub mod manifest;
pub mod signature;
pub mod trust;
