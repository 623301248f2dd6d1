//! The `Driver` trait every datasource implements, and the SQL driver behind it (SQLite and PostgreSQL).
//!
//! The trait is object-safe (boxed futures) so the kernel holds `Arc<dyn Driver>`: the SQL driver, or the router
//! that sends objects stored by a driver plugin to it (`plugin_driver.rs`).

use crate::data::catalog::{Catalog, FieldSchema, ObjectSchema};
use crate::data::error::DataError;
use crate::data::filter::Filter;
use crate::data::query::Query;
use crate::data::schema::{self, SyncReport};
use crate::data::sql::{self, Dialect, Stmt};
use crate::data::sql_tx::{Conn, SqlTransaction};
use crate::data::values::SqlValue;
use futures_util::future::BoxFuture;
use serde_json::{Map, Value};
use sqlx::{PgPool, SqlitePool};
use std::sync::Arc;

pub type Record = Map<String, Value>;

/// Rows of an aggregate query and, when asked for, how many groups there are in all.
pub type AggregateRows = (Vec<Record>, Option<u64>);

/// A datasource.
pub trait Driver: Send + Sync {
    fn name(&self) -> &'static str;
    /// Brings the database in line with the catalog; refuses data-losing changes unless allowed.
    fn sync_schema<'a>(
        &'a self,
        catalog: &'a Catalog,
        allow_destructive: bool,
    ) -> BoxFuture<'a, Result<SyncReport, DataError>>;
    /// A unit of work that commits or rolls back as a whole.
    fn begin(&self) -> BoxFuture<'_, Result<Box<dyn Transaction>, DataError>>;
    /// A connection for reads that need no transaction.
    fn reader(&self) -> BoxFuture<'_, Result<Box<dyn Transaction>, DataError>>;
    /// Whether the database answers.
    fn ping(&self) -> BoxFuture<'_, Result<(), DataError>>;
    /// Whether the database takes one writer at a time (then the kernel batches writes: group commit).
    fn single_writer(&self) -> bool {
        false
    }
    /// Connections in the pool: (open, idle).
    fn pool_stats(&self) -> (u32, usize) {
        (0, 0)
    }
}

/// Operations inside one unit of work. Dropped without `commit`, everything is rolled back.
pub trait Transaction: Send {
    fn find<'a>(
        &'a mut self,
        object: &'a ObjectSchema,
        query: &'a Query,
        columns: &'a [&'a FieldSchema],
        extra: Option<&'a Filter>,
    ) -> BoxFuture<'a, Result<Vec<Record>, DataError>>;
    fn count<'a>(
        &'a mut self,
        object: &'a ObjectSchema,
        query: &'a Query,
    ) -> BoxFuture<'a, Result<u64, DataError>>;
    fn aggregate<'a>(
        &'a mut self,
        object: &'a ObjectSchema,
        query: &'a Query,
    ) -> BoxFuture<'a, Result<AggregateRows, DataError>>;
    fn insert<'a>(
        &'a mut self,
        object: &'a ObjectSchema,
        values: Vec<(&'a FieldSchema, SqlValue)>,
    ) -> BoxFuture<'a, Result<(), DataError>>;
    /// Rows changed (0 when the id is unknown or the expected version did not match).
    fn update<'a>(
        &'a mut self,
        object: &'a ObjectSchema,
        id: &'a str,
        values: Vec<(&'a FieldSchema, SqlValue)>,
        expected_version: Option<&'a str>,
    ) -> BoxFuture<'a, Result<u64, DataError>>;
    fn delete<'a>(
        &'a mut self,
        object: &'a ObjectSchema,
        id: &'a str,
        expected_version: Option<&'a str>,
    ) -> BoxFuture<'a, Result<u64, DataError>>;
    /// `set_null` on delete: clears `field` wherever it points at `target_id`.
    fn clear_reference<'a>(
        &'a mut self,
        object: &'a ObjectSchema,
        field: &'a FieldSchema,
        target_id: &'a str,
    ) -> BoxFuture<'a, Result<u64, DataError>>;
    /// Sets `organization_id` (and `owner_id`, where the object has one) on rows that have no organization.
    fn adopt_unowned<'a>(
        &'a mut self,
        object: &'a ObjectSchema,
        organization_id: &'a str,
        owner_id: &'a str,
    ) -> BoxFuture<'a, Result<u64, DataError>>;
    /// Savepoints around one write of a group commit.
    fn savepoint(&mut self) -> BoxFuture<'_, Result<(), DataError>>;
    fn release_savepoint(&mut self) -> BoxFuture<'_, Result<(), DataError>>;
    fn rollback_to_savepoint(&mut self) -> BoxFuture<'_, Result<(), DataError>>;
    /// The next value of an autonumber counter.
    fn next_sequence<'a>(
        &'a mut self,
        object: &'a str,
        field: &'a str,
    ) -> BoxFuture<'a, Result<i64, DataError>>;
    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), DataError>>;
    /// Rolls back explicitly. Dropping a SQL transaction rolls it back; a datasource whose writes are not
    /// transactional (a driver plugin) undoes them here.
    fn rollback(self: Box<Self>) -> BoxFuture<'static, Result<(), DataError>> {
        drop(self);
        Box::pin(async { Ok(()) })
    }
}

#[derive(Clone, Debug)]
pub enum SqlPool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The SQL driver: one implementation, two dialects.
pub struct SqlDriver {
    pub pool: SqlPool,
    /// SQLite allows one writer: writers queue here, in order, instead of sleeping in SQLite's busy handler
    /// (whose back-off produced p99s in the hundreds of milliseconds under concurrent writes).
    writer: Arc<tokio::sync::Mutex<()>>,
}

impl SqlDriver {
    pub fn new(pool: SqlPool) -> SqlDriver {
        SqlDriver {
            pool,
            writer: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self.pool {
            SqlPool::Sqlite(_) => Dialect::Sqlite,
            SqlPool::Postgres(_) => Dialect::Postgres,
        }
    }
}

/// Maps a write error: a unique violation becomes `UNIQUE_VIOLATION` in the real server's words (the field
/// it names is kept for the host's own use and logs; the wire does not carry it).
fn write_error(object: &ObjectSchema, e: DataError) -> DataError {
    match e {
        DataError::Unique { field, .. } => DataError::Unique {
            object: object.name.clone(),
            field: field.and_then(|c| object.field(&c).map(|f| f.name.clone())),
            message: UNIQUE_MESSAGE.to_string(),
        },
        other => other,
    }
}

/// The answer to a write that a unique constraint refuses.
pub const UNIQUE_MESSAGE: &str = "A record with this value already exists";

impl Transaction for SqlTransaction {
    fn find<'a>(
        &'a mut self,
        object: &'a ObjectSchema,
        query: &'a Query,
        columns: &'a [&'a FieldSchema],
        extra: Option<&'a Filter>,
    ) -> BoxFuture<'a, Result<Vec<Record>, DataError>> {
        Box::pin(async move {
            let s = sql::select(self.dialect(), object, query, columns, extra)?;
            self.fetch(&s).await
        })
    }

    fn count<'a>(
        &'a mut self,
        object: &'a ObjectSchema,
        query: &'a Query,
    ) -> BoxFuture<'a, Result<u64, DataError>> {
        Box::pin(async move {
            let s = sql::count(self.dialect(), object, query)?;
            Ok(self.scalar(&s).await?.max(0) as u64)
        })
    }

    fn aggregate<'a>(
        &'a mut self,
        object: &'a ObjectSchema,
        query: &'a Query,
    ) -> BoxFuture<'a, Result<AggregateRows, DataError>> {
        Box::pin(async move {
            let s = sql::aggregate(self.dialect(), object, query)?;
            let rows = self.fetch(&s).await?;
            let total = if query.count {
                let t = sql::aggregate_total(self.dialect(), object, query)?;
                Some(self.scalar(&t).await?.max(0) as u64)
            } else {
                None
            };
            Ok((rows, total))
        })
    }

    fn insert<'a>(
        &'a mut self,
        object: &'a ObjectSchema,
        values: Vec<(&'a FieldSchema, SqlValue)>,
    ) -> BoxFuture<'a, Result<(), DataError>> {
        Box::pin(async move {
            let s = sql::insert(self.dialect(), object, &values);
            self.execute(&s).await.map_err(|e| write_error(object, e))?;
            Ok(())
        })
    }

    fn update<'a>(
        &'a mut self,
        object: &'a ObjectSchema,
        id: &'a str,
        values: Vec<(&'a FieldSchema, SqlValue)>,
        expected_version: Option<&'a str>,
    ) -> BoxFuture<'a, Result<u64, DataError>> {
        Box::pin(async move {
            let s = sql::update(self.dialect(), object, id, &values, expected_version);
            self.execute(&s).await.map_err(|e| write_error(object, e))
        })
    }

    fn delete<'a>(
        &'a mut self,
        object: &'a ObjectSchema,
        id: &'a str,
        expected_version: Option<&'a str>,
    ) -> BoxFuture<'a, Result<u64, DataError>> {
        Box::pin(async move {
            let s = sql::delete(self.dialect(), object, id, expected_version);
            self.execute(&s).await
        })
    }

    fn clear_reference<'a>(
        &'a mut self,
        object: &'a ObjectSchema,
        field: &'a FieldSchema,
        target_id: &'a str,
    ) -> BoxFuture<'a, Result<u64, DataError>> {
        Box::pin(async move {
            let s = sql::clear_reference(self.dialect(), object, field, target_id);
            self.execute(&s).await
        })
    }

    fn adopt_unowned<'a>(
        &'a mut self,
        object: &'a ObjectSchema,
        organization_id: &'a str,
        owner_id: &'a str,
    ) -> BoxFuture<'a, Result<u64, DataError>> {
        Box::pin(async move {
            let s = sql::adopt_unowned(self.dialect(), object, organization_id, owner_id);
            self.execute(&s).await
        })
    }

    fn savepoint(&mut self) -> BoxFuture<'_, Result<(), DataError>> {
        Box::pin(async move {
            self.execute(&Stmt {
                sql: "SAVEPOINT objectos_write".into(),
                params: vec![],
            })
            .await
            .map(|_| ())
        })
    }

    fn release_savepoint(&mut self) -> BoxFuture<'_, Result<(), DataError>> {
        Box::pin(async move {
            self.execute(&Stmt {
                sql: "RELEASE SAVEPOINT objectos_write".into(),
                params: vec![],
            })
            .await
            .map(|_| ())
        })
    }

    fn rollback_to_savepoint(&mut self) -> BoxFuture<'_, Result<(), DataError>> {
        Box::pin(async move {
            self.execute(&Stmt {
                sql: "ROLLBACK TO SAVEPOINT objectos_write".into(),
                params: vec![],
            })
            .await?;
            self.execute(&Stmt {
                sql: "RELEASE SAVEPOINT objectos_write".into(),
                params: vec![],
            })
            .await
            .map(|_| ())
        })
    }

    fn next_sequence<'a>(
        &'a mut self,
        object: &'a str,
        field: &'a str,
    ) -> BoxFuture<'a, Result<i64, DataError>> {
        Box::pin(async move {
            let mut b = sql::Builder::new(self.dialect());
            b.push(
                "INSERT INTO \"_objectos_sequences\" (\"object\", \"field\", \"value\") VALUES (",
            );
            b.param(
                SqlValue::Text(object.to_string()),
                Some(crate::artifact::fields::StorageKind::Text),
            );
            b.push(", ");
            b.param(
                SqlValue::Text(field.to_string()),
                Some(crate::artifact::fields::StorageKind::Text),
            );
            b.push(", 1) ON CONFLICT (\"object\", \"field\") DO UPDATE SET \"value\" = \"_objectos_sequences\".\"value\" + 1 RETURNING \"value\"");
            self.scalar(&b.finish()).await
        })
    }

    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), DataError>> {
        Box::pin(async move {
            let SqlTransaction { conn, _writer } = *self;
            match conn {
                Conn::SqliteTx(tx) => tx.commit().await?,
                Conn::PgTx(tx) => tx.commit().await?,
                Conn::SqlitePooled(_) | Conn::PgPooled(_) => {}
            }
            Ok(())
        })
    }
}

impl Driver for SqlDriver {
    fn single_writer(&self) -> bool {
        matches!(self.pool, SqlPool::Sqlite(_))
    }

    fn pool_stats(&self) -> (u32, usize) {
        match &self.pool {
            SqlPool::Sqlite(p) => (p.size(), p.num_idle()),
            SqlPool::Postgres(p) => (p.size(), p.num_idle()),
        }
    }

    fn name(&self) -> &'static str {
        match self.pool {
            SqlPool::Sqlite(_) => "sqlite",
            SqlPool::Postgres(_) => "postgres",
        }
    }

    fn sync_schema<'a>(
        &'a self,
        catalog: &'a Catalog,
        allow_destructive: bool,
    ) -> BoxFuture<'a, Result<SyncReport, DataError>> {
        Box::pin(async move {
            let mut tx = self.begin_sql().await?;
            let report = schema::sync(&mut tx, self.dialect(), catalog, allow_destructive).await?;
            Box::new(tx).commit().await?;
            Ok(report)
        })
    }

    fn begin(&self) -> BoxFuture<'_, Result<Box<dyn Transaction>, DataError>> {
        Box::pin(async move { Ok(Box::new(self.begin_sql().await?) as Box<dyn Transaction>) })
    }

    fn reader(&self) -> BoxFuture<'_, Result<Box<dyn Transaction>, DataError>> {
        Box::pin(async move {
            let conn = match &self.pool {
                SqlPool::Sqlite(p) => Conn::SqlitePooled(p.acquire().await?),
                SqlPool::Postgres(p) => Conn::PgPooled(p.acquire().await?),
            };
            Ok(Box::new(SqlTransaction {
                conn,
                _writer: None,
            }) as Box<dyn Transaction>)
        })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), DataError>> {
        Box::pin(async move {
            let mut tx = SqlTransaction {
                _writer: None,
                conn: match &self.pool {
                    SqlPool::Sqlite(p) => Conn::SqlitePooled(p.acquire().await?),
                    SqlPool::Postgres(p) => Conn::PgPooled(p.acquire().await?),
                },
            };
            tx.scalar(&Stmt {
                sql: "SELECT CAST(1 AS BIGINT)".into(),
                params: vec![],
            })
            .await
            .map(|_| ())
        })
    }
}

impl SqlDriver {
    async fn begin_sql(&self) -> Result<SqlTransaction, DataError> {
        Ok(match &self.pool {
            // IMMEDIATE takes the write lock up front; the writer queue makes the wait fair and short.
            SqlPool::Sqlite(p) => {
                let guard = self.writer.clone().lock_owned().await;
                SqlTransaction {
                    conn: Conn::SqliteTx(p.begin_with("BEGIN IMMEDIATE").await?),
                    _writer: Some(guard),
                }
            }
            SqlPool::Postgres(p) => SqlTransaction {
                conn: Conn::PgTx(p.begin().await?),
                _writer: None,
            },
        })
    }
}
