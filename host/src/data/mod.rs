//! The data engine: QueryAST and filters, SQL per dialect, drivers, schema sync and value coercion.

pub mod catalog;
pub mod driver;
pub mod error;
pub mod filter;
pub mod having;
pub mod ids;
pub mod limits;
pub mod plugin_driver;
pub mod postgres;
pub mod query;
pub mod scalar;
pub mod schema;
pub mod shapes;
pub mod sql;
mod sql_exec;
pub mod sql_tx;
pub mod sqlite;
pub mod values;

pub use catalog::{Catalog, FieldSchema, ObjectSchema};
pub use driver::{Driver, Record, SqlDriver, Transaction};
pub use error::{DataError, ErrorKind, FieldError};
pub use query::Query;

/// Opens the database a URL names: `sqlite://…` / `sqlite::memory:` or `postgres://…` / `postgresql://…`.
pub async fn connect(url: &str, max_connections: u32) -> Result<SqlDriver, DataError> {
    if url.starts_with("sqlite:") {
        let pool = sqlite::connect(url, max_connections).await?;
        Ok(SqlDriver::new(driver::SqlPool::Sqlite(pool)))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let pool = postgres::connect(url, max_connections).await?;
        Ok(SqlDriver::new(driver::SqlPool::Postgres(pool)))
    } else {
        Err(DataError::Unavailable(format!(
            "unsupported database URL '{url}': use sqlite://path, sqlite::memory: or postgres://user@host/db"
        )))
    }
}
