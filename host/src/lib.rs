//! objectos-host: the objectos runtime as a library.
//!
//! The spine (see DESIGN.md): an artifact is loaded and validated ([`artifact`]), its objects become tables
//! ([`data::schema`]), and every read or write goes through [`kernel::Kernel::execute`].

pub mod artifact;
pub mod audit;
pub mod automation;
pub mod config;
pub mod data;
pub mod error_kind;
pub mod expr;
pub mod http;
pub mod kernel;
pub mod plugins;
pub mod sandbox;
pub mod security;

pub use kernel::{DataOp, Kernel, OpResult, Principal};
