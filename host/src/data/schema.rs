//! Schema sync at boot: create tables, add columns, create indexes; idempotent across restarts. A change that
//! would destroy data (a column's type changes, a column that holds data is no longer declared) is refused unless
//! the operator allows destructive migrations.

use crate::data::catalog::Catalog;
use crate::data::error::DataError;
use crate::data::sql::{Dialect, Stmt, column_type, quote};
use crate::data::sql_tx::SqlTransaction;
use std::fmt;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub created_tables: Vec<String>,
    pub added_columns: Vec<String>,
    pub dropped_columns: Vec<String>,
    pub retyped_columns: Vec<String>,
    pub indexes_ensured: usize,
}

impl SyncReport {
    pub fn is_noop(&self) -> bool {
        self.created_tables.is_empty()
            && self.added_columns.is_empty()
            && self.dropped_columns.is_empty()
            && self.retyped_columns.is_empty()
    }
}

impl fmt::Display for SyncReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} table(s) created, {} column(s) added, {} retyped, {} dropped, {} index(es) ensured",
            self.created_tables.len(),
            self.added_columns.len(),
            self.retyped_columns.len(),
            self.dropped_columns.len(),
            self.indexes_ensured
        )
    }
}

/// Column types as the database reports them, normalized for comparison with what we would create.
fn same_type(d: Dialect, existing: &str, wanted: &str) -> bool {
    let norm = |s: &str| s.trim().to_ascii_lowercase().replace(' ', "");
    match d {
        Dialect::Sqlite => norm(existing) == norm(wanted),
        Dialect::Postgres => norm(existing) == norm(wanted),
    }
}

pub async fn sync(
    tx: &mut SqlTransaction,
    d: Dialect,
    catalog: &Catalog,
    allow_destructive: bool,
) -> Result<SyncReport, DataError> {
    let mut report = SyncReport::default();
    let exec = |sql: String| Stmt {
        sql,
        params: vec![],
    };
    tx.execute(&exec(
        "CREATE TABLE IF NOT EXISTS \"_objectos_sequences\" (\"object\" TEXT NOT NULL, \"field\" TEXT NOT NULL, \"value\" BIGINT NOT NULL, PRIMARY KEY (\"object\", \"field\"))".into(),
    ))
    .await?;
    // Plan first, so a refused change leaves the database untouched.
    let mut statements: Vec<String> = Vec::new();
    let mut refusals: Vec<String> = Vec::new();
    for object in catalog.objects.values() {
        let table = quote(object.table());
        let existing = tx.table_columns(object.table()).await?;
        if existing.is_empty() {
            let cols: Vec<String> = object
                .stored_fields()
                .map(|f| {
                    let ty = column_type(
                        d,
                        f.storage
                            .unwrap_or(crate::artifact::fields::StorageKind::Text),
                    );
                    if f.name == "id" {
                        format!("{} {ty} PRIMARY KEY NOT NULL", quote(&f.name))
                    } else {
                        format!("{} {ty}", quote(&f.name))
                    }
                })
                .collect();
            statements.push(format!("CREATE TABLE {table} ({})", cols.join(", ")));
            report.created_tables.push(object.name.clone());
        } else {
            for f in object.stored_fields() {
                let wanted = column_type(
                    d,
                    f.storage
                        .unwrap_or(crate::artifact::fields::StorageKind::Text),
                );
                match existing.iter().find(|(n, _)| *n == f.name) {
                    None => {
                        statements.push(format!(
                            "ALTER TABLE {table} ADD COLUMN {} {wanted}",
                            quote(&f.name)
                        ));
                        report
                            .added_columns
                            .push(format!("{}.{}", object.name, f.name));
                    }
                    Some((_, have)) if !same_type(d, have, &wanted) => {
                        let rows = rows_with_data(tx, object.table(), &f.name).await?;
                        if rows > 0 && !allow_destructive {
                            refusals.push(format!(
                                "{}.{}: the column is {have} but the artifact now needs {wanted} ({} {}); {rows} row(s) hold data that would be lost",
                                object.name,
                                f.name,
                                f.ftype.as_str(),
                                "field"
                            ));
                            continue;
                        }
                        statements.push(format!(
                            "ALTER TABLE {table} DROP COLUMN {}",
                            quote(&f.name)
                        ));
                        statements.push(format!(
                            "ALTER TABLE {table} ADD COLUMN {} {wanted}",
                            quote(&f.name)
                        ));
                        report
                            .retyped_columns
                            .push(format!("{}.{}", object.name, f.name));
                    }
                    Some(_) => {}
                }
            }
            for (name, _) in &existing {
                if object.field(name).is_some_and(|f| f.storage.is_some()) {
                    continue;
                }
                let rows = rows_with_data(tx, object.table(), name).await?;
                if rows > 0 && !allow_destructive {
                    refusals.push(format!(
                        "{}.{name}: the field is no longer declared, but {rows} row(s) hold data in its column",
                        object.name
                    ));
                    continue;
                }
                statements.push(format!("ALTER TABLE {table} DROP COLUMN {}", quote(name)));
                report
                    .dropped_columns
                    .push(format!("{}.{name}", object.name));
            }
        }
    }
    if !refusals.is_empty() {
        return Err(DataError::Schema(format!(
            "refusing a schema change that would destroy data (run with --allow-destructive-migrations to apply it anyway):\n  {}",
            refusals.join("\n  ")
        )));
    }
    // Indexes are dropped with their columns, so they are created after the column changes.
    for object in catalog.objects.values() {
        for idx in &object.indexes {
            let cols: Vec<String> = idx.columns.iter().map(|c| quote(c)).collect();
            statements.push(format!(
                "CREATE {}INDEX IF NOT EXISTS {} ON {} ({})",
                if idx.unique { "UNIQUE " } else { "" },
                quote(&idx.name),
                quote(object.table()),
                cols.join(", ")
            ));
            report.indexes_ensured += 1;
        }
    }
    for s in statements {
        tx.execute(&exec(s.clone())).await.map_err(|e| match e {
            DataError::Unique { message, .. } => DataError::Schema(format!(
                "cannot apply `{s}`: existing rows violate it ({message})"
            )),
            other => DataError::Schema(format!("cannot apply `{s}`: {other}")),
        })?;
    }
    Ok(report)
}

async fn rows_with_data(
    tx: &mut SqlTransaction,
    table: &str,
    column: &str,
) -> Result<i64, DataError> {
    tx.scalar(&Stmt {
        sql: format!(
            "SELECT COUNT(*) FROM {} WHERE {} IS NOT NULL",
            quote(table),
            quote(column)
        ),
        params: vec![],
    })
    .await
}
