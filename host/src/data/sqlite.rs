//! SQLite (embedded default): connection, binding and row decoding.

use crate::data::error::DataError;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, SqliteConnection};
use std::str::FromStr;
use std::time::Duration;

/// Opens (creating if needed) a SQLite database: `sqlite://path`, `sqlite:path` or `sqlite::memory:`.
pub async fn connect(url: &str, max_connections: u32) -> Result<sqlx::SqlitePool, DataError> {
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
        .foreign_keys(false)
        // Checkpoints run in the background (below), not inside the commit of whichever write crosses the
        // threshold: with group commit that write carries a whole batch, and a checkpoint stall hit all of it.
        .pragma("wal_autocheckpoint", if memory { "1000" } else { "0" });
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
    if !memory {
        spawn_checkpointer(pool.clone());
    }
    Ok(pool)
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

crate::data::sql_exec::sql_exec_functions!(
    SqliteConnection,
    SqliteArguments<'static>,
    SqliteRow,
    db_error
);

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

/// Copies the WAL back into the database five times a second (PASSIVE: never waits for writers or readers), and
/// truncates it when it has grown past 1 GiB; stops when the pool closes.
fn spawn_checkpointer(pool: sqlx::SqlitePool) {
    if tokio::runtime::Handle::try_current().is_err() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tick.tick().await;
            if pool.is_closed() {
                return;
            }
            match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(&pool)
                .await
            {
                Ok(row) => {
                    let log_frames: i64 = row.try_get(1).unwrap_or(0);
                    // 1 GiB of 4 KiB pages: take the brief write lock once to reset the file.
                    if log_frames > 262_144 {
                        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                            .execute(&pool)
                            .await;
                    }
                }
                Err(e) => tracing::debug!("background checkpoint: {e}"),
            }
        }
    });
}
