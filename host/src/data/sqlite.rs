//! SQLite (embedded default): connection, binding and row decoding.

use crate::data::driver::{Record, SqlDriver, SqlPool};
use crate::data::error::DataError;
use crate::data::sql::{Decode, SelectStmt, Stmt};
use crate::data::values::{SqlValue, number_value, round_to_scale};
use serde_json::Value;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Arguments, Row, SqliteConnection};
use std::str::FromStr;
use std::time::Duration;

/// Opens (creating if needed) a SQLite database: `sqlite://path`, `sqlite:path` or `sqlite::memory:`.
pub async fn connect(url: &str, max_connections: u32) -> Result<SqlDriver, DataError> {
    let memory = url.contains(":memory:") || url.contains("mode=memory");
    if !memory {
        let path = url
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:");
        let path = path.split('?').next().unwrap_or(path);
        if let Some(parent) = std::path::Path::new(path).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| {
                DataError::Unavailable(format!(
                    "cannot create the database folder {}: {e}",
                    parent.display()
                ))
            })?;
        }
    }
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| DataError::Unavailable(format!("bad SQLite URL '{url}': {e}")))?
        .create_if_missing(true)
        .journal_mode(if memory {
            SqliteJournalMode::Memory
        } else {
            SqliteJournalMode::Wal
        })
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(false);
    let pool = SqlitePoolOptions::new()
        // An in-memory database lives in one connection.
        .max_connections(if memory { 1 } else { max_connections.max(1) })
        .min_connections(if memory { 1 } else { 0 })
        .idle_timeout(if memory {
            None
        } else {
            Some(Duration::from_secs(600))
        })
        .max_lifetime(if memory {
            None
        } else {
            Some(Duration::from_secs(3600))
        })
        .connect_with(options)
        .await
        .map_err(|e| DataError::Unavailable(format!("cannot open SQLite database '{url}': {e}")))?;
    Ok(SqlDriver {
        pool: SqlPool::Sqlite(pool),
    })
}

fn arguments(params: &[SqlValue]) -> Result<SqliteArguments<'static>, DataError> {
    let mut args = SqliteArguments::default();
    for p in params {
        let r = match p {
            SqlValue::Null => args.add(Option::<String>::None),
            SqlValue::Bool(b) => args.add(*b),
            SqlValue::Int(i) => args.add(*i),
            SqlValue::Float(f) => args.add(*f),
            SqlValue::Text(s) => args.add(s.clone()),
        };
        r.map_err(|e| DataError::Internal(format!("cannot bind parameter: {e}")))?;
    }
    Ok(args)
}

fn db_error(e: sqlx::Error) -> DataError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        // "UNIQUE constraint failed: table.a, table.b": the last column names the field.
        let field = db.message().rsplit(['.', ' ']).next().map(str::to_string);
        return DataError::Unique {
            object: String::new(),
            field,
            message: db.message().to_string(),
        };
    }
    DataError::from(e)
}

pub async fn execute(conn: &mut SqliteConnection, s: &Stmt) -> Result<u64, DataError> {
    let r = sqlx::query_with(&s.sql, arguments(&s.params)?)
        .execute(conn)
        .await
        .map_err(db_error)?;
    Ok(r.rows_affected())
}

pub async fn scalar(conn: &mut SqliteConnection, s: &Stmt) -> Result<i64, DataError> {
    let row = sqlx::query_with(&s.sql, arguments(&s.params)?)
        .fetch_one(conn)
        .await
        .map_err(db_error)?;
    Ok(row.try_get::<Option<i64>, _>(0)?.unwrap_or(0))
}

pub async fn fetch(conn: &mut SqliteConnection, s: &SelectStmt) -> Result<Vec<Record>, DataError> {
    let rows = sqlx::query_with(&s.stmt.sql, arguments(&s.stmt.params)?)
        .fetch_all(conn)
        .await
        .map_err(db_error)?;
    rows.iter().map(|row| decode_row(row, s)).collect()
}

fn decode_row(row: &SqliteRow, s: &SelectStmt) -> Result<Record, DataError> {
    let mut rec = Record::with_capacity(s.columns.len());
    for (i, col) in s.columns.iter().enumerate() {
        let v = match col.decode {
            Decode::Text => row.try_get::<Option<String>, _>(i)?.map(Value::String),
            Decode::Int => row.try_get::<Option<i64>, _>(i)?.map(Value::from),
            Decode::Bool => row.try_get::<Option<bool>, _>(i)?.map(Value::Bool),
            Decode::Float { scale } => row
                .try_get::<Option<f64>, _>(i)?
                .map(|f| number_value(scale.map_or(f, |s| round_to_scale(f, s)))),
            Decode::Json => row
                .try_get::<Option<String>, _>(i)?
                .map(|t| serde_json::from_str(&t).unwrap_or(Value::String(t))),
        };
        rec.insert(col.key.clone(), v.unwrap_or(Value::Null));
    }
    Ok(rec)
}

pub async fn table_columns(
    conn: &mut SqliteConnection,
    table: &str,
) -> Result<Vec<(String, String)>, DataError> {
    let rows = sqlx::query("SELECT name, type FROM pragma_table_info(?)")
        .bind(table)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?)))
        .collect()
}
