//! A SQL transaction (or a pooled reader) over either dialect, and the statements it runs: the low level the
//! driver's `Transaction` implementation and schema sync stand on.

use crate::data::error::DataError;
use crate::data::sql::{Dialect, SelectStmt, Stmt};
use crate::data::{postgres, sqlite};
use serde_json::{Map, Value};
use sqlx::pool::PoolConnection;
use sqlx::{Postgres, Sqlite};

pub(crate) enum Conn {
    SqliteTx(sqlx::Transaction<'static, Sqlite>),
    SqlitePooled(PoolConnection<Sqlite>),
    PgTx(sqlx::Transaction<'static, Postgres>),
    PgPooled(PoolConnection<Postgres>),
}

/// Runs one expression per dialect over whichever connection a transaction holds.
macro_rules! on_conn {
    ($conn:expr, $c:ident => $sqlite:expr, $pg:expr) => {
        match $conn {
            Conn::SqliteTx($c) => $sqlite,
            Conn::SqlitePooled($c) => $sqlite,
            Conn::PgTx($c) => $pg,
            Conn::PgPooled($c) => $pg,
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_conn;

pub struct SqlTransaction {
    pub(crate) conn: Conn,
    /// Held (SQLite) until the transaction ends; dropped after `conn`, so after the rollback or commit.
    pub(crate) _writer: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl SqlTransaction {
    pub(crate) fn dialect(&self) -> Dialect {
        match self.conn {
            Conn::SqliteTx(_) | Conn::SqlitePooled(_) => Dialect::Sqlite,
            Conn::PgTx(_) | Conn::PgPooled(_) => Dialect::Postgres,
        }
    }

    pub async fn fetch(&mut self, s: &SelectStmt) -> Result<Vec<Map<String, Value>>, DataError> {
        on_conn!(&mut self.conn, c => sqlite::fetch(c, s).await, postgres::fetch(c, s).await)
    }

    pub async fn execute(&mut self, s: &Stmt) -> Result<u64, DataError> {
        on_conn!(&mut self.conn, c => sqlite::execute(c, s).await, postgres::execute(c, s).await)
    }

    pub async fn scalar(&mut self, s: &Stmt) -> Result<i64, DataError> {
        on_conn!(&mut self.conn, c => sqlite::scalar(c, s).await, postgres::scalar(c, s).await)
    }

    /// The columns of a table as (name, declared type); empty if the table does not exist.
    pub async fn table_columns(&mut self, table: &str) -> Result<Vec<(String, String)>, DataError> {
        on_conn!(&mut self.conn, c => sqlite::table_columns(c, table).await, postgres::table_columns(c, table).await)
    }
}
