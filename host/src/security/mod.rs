//! Security: who is asking (authentication: `auth`; its attempt limits: `limits`; the bounded password hasher:
//! `passwords`; administration scopes: `admin`; API keys: `api_keys`) and the runtime-provided objects behind it.
//! Permission sets, field- and row-level security decide what a principal may do (`permissions`, `rls`).

pub mod admin;
pub mod api_keys;
pub mod auth;
pub mod limits;
pub mod passwords;
pub mod permissions;
pub mod principal;
pub mod rls;
pub mod system_objects;
