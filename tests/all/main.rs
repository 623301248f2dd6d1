//! The one integration-test binary (one link on 2 cores), a module per area.

mod support;

mod actions_route;
mod artifact_load;
mod artifact_validate;
mod auth_hardening;
mod bulk_writes;
mod cli;
mod csv_export;
mod differential;
mod engine_filters;
mod engine_queries;
mod engine_values;
mod engine_writes;
mod hostile_http;
mod http_api;
mod http_conformance;
mod http_expense;
mod http_limits;
mod js_bodies;
mod metadata_exposure;
mod node_client;
mod plugin_runtime;
mod plugins;
mod rules;
mod sandbox;
mod sandbox_hardening;
mod schema_sync;
mod security_matrix;
mod security_rows;
mod seeds;
mod units;
mod write_drops;
