//! Security: who is asking (authentication) and the runtime-provided objects behind it.
//! Permission sets, field- and row-level security join in the security-kernel issue.

pub mod auth;
pub mod system_objects;
