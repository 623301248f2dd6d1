//! Security: who is asking (authentication) and the runtime-provided objects behind it.
//! Permission sets, field- and row-level security decide what a principal may do (`permissions`, `rls`).

pub mod auth;
pub mod permissions;
pub mod principal;
pub mod rls;
pub mod system_objects;
