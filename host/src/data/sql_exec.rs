//! Binding, executing and decoding SQL for one sqlx backend: a macro each dialect module instantiates with
//! its own connection, argument and row types. A leaf of the data layer.

/// Binding, executing and decoding for one sqlx backend; the dialect modules instantiate it with their types.
macro_rules! sql_exec_functions {
    ($conn:ty, $args:ty, $row:ty, $db_error:path) => {
        fn arguments(
            params: &[$crate::data::values::SqlValue],
        ) -> Result<$args, $crate::data::error::DataError> {
            use sqlx::Arguments;
            let mut args = <$args>::default();
            for p in params {
                let r = match p {
                    $crate::data::values::SqlValue::Null => args.add(Option::<String>::None),
                    $crate::data::values::SqlValue::Bool(b) => args.add(*b),
                    $crate::data::values::SqlValue::Int(i) => args.add(*i),
                    $crate::data::values::SqlValue::Float(f) => args.add(*f),
                    $crate::data::values::SqlValue::Text(s) => args.add(s.clone()),
                };
                r.map_err(|e| {
                    $crate::data::error::DataError::Internal(format!("cannot bind parameter: {e}"))
                })?;
            }
            Ok(args)
        }

        pub async fn execute(
            conn: &mut $conn,
            s: &$crate::data::sql::Stmt,
        ) -> Result<u64, $crate::data::error::DataError> {
            let r = sqlx::query_with(&s.sql, arguments(&s.params)?)
                .execute(conn)
                .await
                .map_err($db_error)?;
            Ok(r.rows_affected())
        }

        pub async fn scalar(
            conn: &mut $conn,
            s: &$crate::data::sql::Stmt,
        ) -> Result<i64, $crate::data::error::DataError> {
            use sqlx::Row;
            let row = sqlx::query_with(&s.sql, arguments(&s.params)?)
                .fetch_one(conn)
                .await
                .map_err($db_error)?;
            Ok(row.try_get::<Option<i64>, _>(0)?.unwrap_or(0))
        }

        pub async fn fetch(
            conn: &mut $conn,
            s: &$crate::data::sql::SelectStmt,
        ) -> Result<
            Vec<::serde_json::Map<String, ::serde_json::Value>>,
            $crate::data::error::DataError,
        > {
            let rows = sqlx::query_with(&s.stmt.sql, arguments(&s.stmt.params)?)
                .fetch_all(conn)
                .await
                .map_err($db_error)?;
            rows.iter().map(|row| decode_row(row, s)).collect()
        }

        fn decode_row(
            row: &$row,
            s: &$crate::data::sql::SelectStmt,
        ) -> Result<::serde_json::Map<String, ::serde_json::Value>, $crate::data::error::DataError>
        {
            use serde_json::Value;
            use sqlx::Row;
            use $crate::data::sql::Decode;
            use $crate::data::values::{number_value, round_to_scale};
            let mut rec =
                ::serde_json::Map::<String, ::serde_json::Value>::with_capacity(s.columns.len());
            for (i, col) in s.columns.iter().enumerate() {
                let v = match col.decode {
                    Decode::Text => row.try_get::<Option<String>, _>(i)?.map(Value::String),
                    Decode::Int => row.try_get::<Option<i64>, _>(i)?.map(Value::from),
                    Decode::Bool => row.try_get::<Option<bool>, _>(i)?.map(Value::Bool),
                    Decode::Float { scale } => row
                        .try_get::<Option<f64>, _>(i)?
                        .map(|f| number_value(scale.map_or(f, |s| round_to_scale(f, s)))),
                    // SQLite gives a column declared JSON numeric affinity: a JSON number stored as its text
                    // comes back as an INTEGER or a REAL.
                    Decode::Json => match row.try_get::<Option<String>, _>(i) {
                        Ok(t) => t.map(|t| serde_json::from_str(&t).unwrap_or(Value::String(t))),
                        Err(_) => match row.try_get::<Option<i64>, _>(i) {
                            Ok(n) => n.map(Value::from),
                            Err(_) => row.try_get::<Option<f64>, _>(i)?.map(|f| number_value(f)),
                        },
                    },
                };
                rec.insert(col.key.clone(), v.unwrap_or(Value::Null));
            }
            Ok(rec)
        }
    };
}
pub(crate) use sql_exec_functions;
