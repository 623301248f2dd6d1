//! PostgreSQL (scale-out): connection, binding and row decoding.

use crate::data::error::DataError;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgConnection, Row};
use std::str::FromStr;
use std::time::Duration;

/// Connects to `postgres://…`. A `schema=<name>` query parameter (objectos' own) puts every table in that schema,
/// created if missing: tests use it to run side by side in one database.
pub async fn connect(url: &str, max_connections: u32) -> Result<sqlx::PgPool, DataError> {
    let mut parsed = url::Url::parse(url)
        .map_err(|e| DataError::Unavailable(format!("bad PostgreSQL URL: {e}")))?;
    let mut schema = None;
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter_map(|(k, v)| {
            if k == "schema" {
                schema = Some(v.to_string());
                None
            } else {
                Some((k.to_string(), v.to_string()))
            }
        })
        .collect();
    parsed.set_query(None);
    if !kept.is_empty() {
        parsed.query_pairs_mut().extend_pairs(kept);
    }
    if let Some(s) = &schema
        && !crate::artifact::fields::is_valid_identifier(s)
    {
        return Err(DataError::Unavailable(format!(
            "schema name '{s}' must match ^[a-z_][a-z0-9_]*$"
        )));
    }
    let mut options = PgConnectOptions::from_str(parsed.as_str())
        .map_err(|e| DataError::Unavailable(format!("bad PostgreSQL URL: {e}")))?;
    if let Some(s) = &schema {
        options = options.options([("search_path", s.as_str())]);
    }
    let redacted = {
        let mut u = parsed.clone();
        let _ = u.set_password(None);
        u.to_string()
    };
    if let Some(s) = &schema {
        let mut conn: PgConnection = sqlx::Connection::connect_with(
            &PgConnectOptions::from_str(parsed.as_str())
                .map_err(|e| DataError::Unavailable(e.to_string()))?,
        )
        .await
        .map_err(|e| {
            DataError::Unavailable(format!("cannot connect to PostgreSQL at {redacted}: {e}"))
        })?;
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{s}\""))
            .execute(&mut conn)
            .await?;
    }
    let pool = PgPoolOptions::new()
        .max_connections(max_connections.max(1))
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(|e| {
            DataError::Unavailable(format!("cannot connect to PostgreSQL at {redacted}: {e}"))
        })?;
    Ok(pool)
}

fn db_error(e: sqlx::Error) -> DataError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        // Our unique indexes are named ux_<table>__<field>.
        let field = db
            .constraint()
            .and_then(|c| c.rsplit("__").next())
            .map(str::to_string);
        return DataError::Unique {
            object: String::new(),
            field,
            message: db.message().to_string(),
        };
    }
    DataError::from(e)
}

crate::data::sql_exec::sql_exec_functions!(PgConnection, PgArguments, PgRow, db_error);

pub async fn table_columns(
    conn: &mut PgConnection,
    table: &str,
) -> Result<Vec<(String, String)>, DataError> {
    let rows = sqlx::query(
        "SELECT column_name::text, CASE WHEN data_type = 'numeric' THEN 'numeric(' || numeric_precision || ',' || numeric_scale || ')' ELSE data_type::text END \
         FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?)))
        .collect()
}
