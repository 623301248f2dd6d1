//! SQL per dialect. Every value is a bound parameter; identifiers come only from the catalog (validated artifact
//! names matching `^[a-z_][a-z0-9_]*$`) or from checked aliases, and are always quoted.

use crate::artifact::fields::StorageKind;
use crate::data::catalog::{FieldSchema, ObjectSchema};
use crate::data::error::DataError;
use crate::data::filter::{Condition, Filter, Op, Operand};
use crate::data::query::{AggFunction, DateGranularity, OrderBy, Query};
use crate::data::values::{SqlValue, format_datetime, parse_datetime, to_sql};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// How a selected column is decoded into JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decode {
    Text,
    Float { scale: Option<u32> },
    Int,
    Bool,
    Json,
}

#[derive(Clone, Debug)]
pub struct OutColumn {
    pub key: String,
    pub decode: Decode,
}

#[derive(Clone, Debug, Default)]
pub struct Stmt {
    pub sql: String,
    pub params: Vec<SqlValue>,
}

#[derive(Clone, Debug)]
pub struct SelectStmt {
    pub stmt: Stmt,
    pub columns: Vec<OutColumn>,
}

pub fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn decode_of(storage: StorageKind) -> Decode {
    match storage {
        StorageKind::Text | StorageKind::Date | StorageKind::DateTime => Decode::Text,
        StorageKind::Number(scale) => Decode::Float { scale },
        StorageKind::Boolean => Decode::Bool,
        StorageKind::Json => Decode::Json,
    }
}

/// The SQL type of a column.
pub fn column_type(d: Dialect, storage: StorageKind) -> String {
    match (d, storage) {
        (Dialect::Sqlite, StorageKind::Text | StorageKind::Date | StorageKind::DateTime) => {
            "TEXT".into()
        }
        (Dialect::Sqlite, StorageKind::Number(_)) => "REAL".into(),
        (Dialect::Sqlite, StorageKind::Boolean) => "BOOLEAN".into(),
        (Dialect::Sqlite, StorageKind::Json) => "JSON".into(),
        (Dialect::Postgres, StorageKind::Text) => "text".into(),
        (Dialect::Postgres, StorageKind::Number(None)) => "double precision".into(),
        (Dialect::Postgres, StorageKind::Number(Some(scale))) => format!("numeric(28,{scale})"),
        (Dialect::Postgres, StorageKind::Boolean) => "boolean".into(),
        (Dialect::Postgres, StorageKind::Date) => "date".into(),
        (Dialect::Postgres, StorageKind::DateTime) => "timestamp with time zone".into(),
        (Dialect::Postgres, StorageKind::Json) => "jsonb".into(),
    }
}

/// Builds one statement, numbering placeholders for the dialect.
pub struct Builder {
    pub d: Dialect,
    pub sql: String,
    pub params: Vec<SqlValue>,
}

impl Builder {
    pub fn new(d: Dialect) -> Builder {
        Builder {
            d,
            sql: String::with_capacity(256),
            params: Vec::new(),
        }
    }

    pub fn push(&mut self, s: &str) -> &mut Self {
        self.sql.push_str(s);
        self
    }

    /// A bound parameter, cast on PostgreSQL to the column's type so comparisons and writes are typed.
    pub fn param(&mut self, v: SqlValue, storage: Option<StorageKind>) -> &mut Self {
        self.params.push(v);
        match self.d {
            Dialect::Sqlite => self.sql.push('?'),
            Dialect::Postgres => {
                let n = self.params.len();
                let cast = match storage {
                    Some(StorageKind::Number(_)) => "::float8",
                    Some(StorageKind::Date) => "::date",
                    Some(StorageKind::DateTime) => "::timestamptz",
                    Some(StorageKind::Json) => "::jsonb",
                    Some(StorageKind::Boolean) => "::boolean",
                    Some(StorageKind::Text) => "::text",
                    None => "",
                };
                self.sql.push_str(&format!("${n}{cast}"));
            }
        }
        self
    }

    pub fn finish(self) -> Stmt {
        Stmt {
            sql: self.sql,
            params: self.params,
        }
    }

    /// The expression that reads a column into its wire form.
    fn read_expr(&self, col: &str, storage: StorageKind) -> String {
        let q = quote(col);
        match (self.d, storage) {
            (Dialect::Sqlite, _) => q,
            (Dialect::Postgres, StorageKind::Number(Some(_))) => format!("{q}::float8"),
            (Dialect::Postgres, StorageKind::Date) => format!("to_char({q}, 'YYYY-MM-DD')"),
            (Dialect::Postgres, StorageKind::DateTime) => {
                format!("to_char({q} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')")
            }
            (Dialect::Postgres, StorageKind::Json) => format!("{q}::text"),
            (Dialect::Postgres, _) => q,
        }
    }

    /// A column as text, for text operators on any column.
    fn text_expr(&self, col: &str, storage: StorageKind) -> String {
        match (self.d, storage) {
            (Dialect::Postgres, StorageKind::Text) | (Dialect::Sqlite, _) => quote(col),
            (Dialect::Postgres, _) => format!("{}::text", quote(col)),
        }
    }
}

/// Normalizes a comparison operand to the column's stored form, so both dialects compare like with like.
pub(crate) fn operand_value(field: &FieldSchema, v: &Value) -> SqlValue {
    let storage = field.storage.unwrap_or(StorageKind::Text);
    match storage {
        StorageKind::Number(_) => match v {
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .map(SqlValue::Float)
                .unwrap_or_else(|_| SqlValue::Text(s.clone())),
            Value::Number(n) => SqlValue::Float(n.as_f64().unwrap_or(0.0)),
            other => to_sql(storage, other),
        },
        StorageKind::Boolean => match v {
            Value::String(s) if s == "true" || s == "1" => SqlValue::Bool(true),
            Value::String(s) if s == "false" || s == "0" => SqlValue::Bool(false),
            Value::Number(n) => SqlValue::Bool(n.as_f64() != Some(0.0)),
            other => to_sql(storage, other),
        },
        StorageKind::DateTime => match parse_datetime(v) {
            Some(dt) => SqlValue::Text(format_datetime(dt)),
            None => to_sql(StorageKind::Text, v),
        },
        StorageKind::Json => SqlValue::Text(v.to_string()),
        _ => match v {
            Value::String(s) => SqlValue::Text(s.clone()),
            Value::Number(n) => SqlValue::Text(n.to_string()),
            Value::Bool(b) => SqlValue::Text(b.to_string()),
            other => SqlValue::Text(other.to_string()),
        },
    }
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '*' => out.push_str("[*]"),
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            c => out.push(c),
        }
    }
    out
}

/// A user LIKE pattern (`%`, `_`) as a case-sensitive SQLite GLOB pattern.
fn like_to_glob(pattern: &str) -> String {
    let mut out = String::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '%' => out.push('*'),
            '_' => out.push('?'),
            '\\' => {
                if let Some(n) = chars.next() {
                    out.push_str(&glob_escape(&n.to_string()));
                }
            }
            c => out.push_str(&glob_escape(&c.to_string())),
        }
    }
    out
}

pub(crate) fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn push_filter(b: &mut Builder, object: &ObjectSchema, f: &Filter) -> Result<(), DataError> {
    match f {
        Filter::And(items) | Filter::Or(items) => {
            push_junction(b, matches!(f, Filter::And(_)), items, |b, item| {
                push_filter(b, object, item)
            })?;
        }
        Filter::Not(inner) => {
            b.push("NOT (");
            push_filter(b, object, inner)?;
            b.push(")");
        }
        Filter::Cond(c) => push_condition(b, object, c)?,
        Filter::Within(w) => {
            let (field, _) = filtered_field(object, &w.field)?;
            b.push(&quote(&field.name))
                .push(" IN (SELECT ")
                .push(&quote("id"))
                .push(" FROM ")
                .push(&quote(w.parent.table()))
                .push(" WHERE ");
            push_filter(b, &w.parent, &w.filter)?;
            b.push(")");
        }
    }
    Ok(())
}

/// `(a AND b …)` or `(a OR b …)` over `items`, each pushed by `each`; an empty list is `1=1` (AND) or `1=0` (OR).
pub(crate) fn push_junction<T>(
    b: &mut Builder,
    and: bool,
    items: &[T],
    mut each: impl FnMut(&mut Builder, &T) -> Result<(), DataError>,
) -> Result<(), DataError> {
    if items.is_empty() {
        b.push(if and { "1=1" } else { "1=0" });
        return Ok(());
    }
    b.push("(");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            b.push(if and { " AND " } else { " OR " });
        }
        each(b, item)?;
    }
    b.push(")");
    Ok(())
}

/// The field a condition filters on, and how it is stored (computed fields cannot be filtered). The SQL
/// builder and the driver-plugin router check conditions alike.
pub(crate) fn filtered_field<'a>(
    object: &'a ObjectSchema,
    name: &str,
) -> Result<(&'a FieldSchema, StorageKind), DataError> {
    let field = object.field(name).ok_or_else(|| {
        DataError::invalid_field(
            &object.name,
            name,
            format!("'{name}' is not a field on '{}'", object.name),
        )
    })?;
    let storage = field.storage.ok_or_else(|| {
        DataError::invalid_field(&object.name, name, "computed fields cannot be filtered")
    })?;
    Ok((field, storage))
}

/// The other field of a `{$field: "other"}` comparand: a stored field of the same object.
pub(crate) fn comparand_field<'a>(
    object: &'a ObjectSchema,
    other: &str,
) -> Result<&'a FieldSchema, DataError> {
    object
        .field(other)
        .filter(|f| f.storage.is_some())
        .ok_or_else(|| {
            DataError::invalid_field(
                &object.name,
                other,
                format!("'{other}' is not a stored field on '{}'", object.name),
            )
        })
}

fn push_condition(b: &mut Builder, object: &ObjectSchema, c: &Condition) -> Result<(), DataError> {
    let (field, storage) = filtered_field(object, &c.field)?;
    let col = quote(&field.name);
    let is_list = storage == StorageKind::Json;
    let cmp = |b: &mut Builder, sym: &str, v: &Value| {
        b.push(&col).push(" ").push(sym).push(" ");
        b.param(operand_value(field, v), Some(storage));
    };
    match (&c.op, &c.operand) {
        (Op::Null(true), _) => {
            b.push(&col).push(" IS NULL");
        }
        (Op::Null(false), _) => {
            b.push(&col).push(" IS NOT NULL");
        }
        (op, Operand::Field(other)) => {
            let other_field = comparand_field(object, other)?;
            let sym = match op {
                Op::Eq => "=",
                Op::Ne => "<>",
                Op::Gt => ">",
                Op::Gte => ">=",
                Op::Lt => "<",
                Op::Lte => "<=",
                _ => {
                    return Err(DataError::invalid_query(
                        &object.name,
                        "$field comparands work with $eq, $ne and ordering operators",
                    ));
                }
            };
            b.push(&col)
                .push(" ")
                .push(sym)
                .push(" ")
                .push(&quote(&other_field.name));
        }
        (Op::Eq, Operand::Value(v)) if is_list && !v.is_array() => push_list_contains(b, &col, v),
        (Op::Eq, Operand::Value(v)) => cmp(b, "=", v),
        (Op::Ne, Operand::Value(v)) => {
            b.push("(").push(&col).push(" IS NULL OR ");
            cmp(b, "<>", v);
            b.push(")");
        }
        (Op::Gt, Operand::Value(v)) => cmp(b, ">", v),
        (Op::Gte, Operand::Value(v)) => cmp(b, ">=", v),
        (Op::Lt, Operand::Value(v)) => cmp(b, "<", v),
        (Op::Lte, Operand::Value(v)) => cmp(b, "<=", v),
        (Op::Between, Operand::Range(lo, hi)) => {
            b.push("(");
            cmp(b, ">=", lo);
            b.push(" AND ");
            cmp(b, "<=", hi);
            b.push(")");
        }
        (Op::In | Op::Nin, Operand::List(items)) => {
            let negate = c.op == Op::Nin;
            if items.is_empty() {
                b.push(if negate { "1=1" } else { "1=0" });
                return Ok(());
            }
            if negate {
                b.push("(").push(&col).push(" IS NULL OR NOT ");
            }
            if is_list {
                b.push("(");
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        b.push(" OR ");
                    }
                    push_list_contains(b, &col, v);
                }
                b.push(")");
            } else {
                b.push(&col).push(" IN (");
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        b.push(", ");
                    }
                    b.param(operand_value(field, v), Some(storage));
                }
                b.push(")");
            }
            if negate {
                b.push(")");
            }
        }
        (Op::Contains, Operand::Value(v)) if is_list => push_list_contains(b, &col, v),
        (Op::Contains | Op::NotContains | Op::StartsWith | Op::EndsWith, Operand::Value(v)) => {
            let text = text_of(v);
            let negate = c.op == Op::NotContains;
            if negate {
                b.push("(").push(&col).push(" IS NULL OR NOT ");
            }
            let expr = b.text_expr(&field.name, storage);
            match b.d {
                Dialect::Sqlite => {
                    let g = glob_escape(&text);
                    let pattern = match c.op {
                        Op::StartsWith => format!("{g}*"),
                        Op::EndsWith => format!("*{g}"),
                        _ => format!("*{g}*"),
                    };
                    b.push(&expr).push(" GLOB ");
                    b.param(SqlValue::Text(pattern), None);
                }
                Dialect::Postgres => {
                    let l = like_escape(&text);
                    let pattern = match c.op {
                        Op::StartsWith => format!("{l}%"),
                        Op::EndsWith => format!("%{l}"),
                        _ => format!("%{l}%"),
                    };
                    b.push(&expr).push(" LIKE ");
                    b.param(SqlValue::Text(pattern), Some(StorageKind::Text));
                    b.push(" ESCAPE '\\'");
                }
            }
            if negate {
                b.push(")");
            }
        }
        (Op::IContains, Operand::Value(v)) => {
            let pattern = format!("%{}%", like_escape(&text_of(v)));
            push_ilike(b, &field.name, storage, pattern, true);
        }
        (Op::ILike, Operand::Value(v)) => push_ilike(b, &field.name, storage, text_of(v), false),
        (Op::Like, Operand::Value(v)) => {
            let expr = b.text_expr(&field.name, storage);
            match b.d {
                Dialect::Sqlite => {
                    b.push(&expr).push(" GLOB ");
                    b.param(SqlValue::Text(like_to_glob(&text_of(v))), None);
                }
                Dialect::Postgres => {
                    b.push(&expr).push(" LIKE ");
                    b.param(SqlValue::Text(text_of(v)), Some(StorageKind::Text));
                }
            }
        }
        (op, operand) => {
            return Err(DataError::invalid_query(
                &object.name,
                format!("operator {op:?} cannot take {operand:?} on '{}'", c.field),
            ));
        }
    }
    Ok(())
}

fn push_ilike(b: &mut Builder, col: &str, storage: StorageKind, pattern: String, escaped: bool) {
    let expr = b.text_expr(col, storage);
    let kw = if b.d == Dialect::Postgres {
        " ILIKE "
    } else {
        " LIKE "
    };
    b.push(&expr).push(kw);
    b.param(
        SqlValue::Text(pattern),
        if b.d == Dialect::Postgres {
            Some(StorageKind::Text)
        } else {
            None
        },
    );
    if escaped {
        b.push(" ESCAPE '\\'");
    }
}

/// A JSON list column holds the value as one of its elements.
fn push_list_contains(b: &mut Builder, col: &str, v: &Value) {
    match b.d {
        Dialect::Sqlite => {
            b.push("EXISTS (SELECT 1 FROM json_each(")
                .push(col)
                .push(") WHERE json_each.value = ");
            b.param(to_sql(StorageKind::Text, v), None);
            b.push(")");
        }
        Dialect::Postgres => {
            b.push(col).push(" @> ");
            b.param(
                SqlValue::Text(Value::Array(vec![v.clone()]).to_string()),
                Some(StorageKind::Json),
            );
        }
    }
}

fn push_where(
    b: &mut Builder,
    object: &ObjectSchema,
    q: &Query,
    extra: Option<&Filter>,
) -> Result<(), DataError> {
    let mut any = false;
    let mut start = |b: &mut Builder| {
        b.push(if any { " AND " } else { " WHERE " });
        any = true;
    };
    if let Some(f) = &q.filter {
        start(b);
        push_filter(b, object, f)?;
    }
    if let Some(f) = extra {
        start(b);
        push_filter(b, object, f)?;
    }
    if let Some(s) = &q.search
        && !s.text.trim().is_empty()
    {
        start(b);
        let columns: Vec<&FieldSchema> = s
            .fields
            .iter()
            .filter_map(|f| object.field(f))
            .filter(|f| f.storage.is_some())
            .collect();
        if columns.is_empty() {
            b.push("1=0");
        } else {
            b.push("(");
            let pattern = format!("%{}%", like_escape(s.text.trim()));
            for (i, f) in columns.iter().enumerate() {
                if i > 0 {
                    b.push(" OR ");
                }
                push_ilike(
                    b,
                    &f.name,
                    f.storage.unwrap_or(StorageKind::Text),
                    pattern.clone(),
                    true,
                );
            }
            b.push(")");
        }
    }
    Ok(())
}

fn push_order(b: &mut Builder, order: &[OrderBy], default_order: bool) {
    if order.is_empty() {
        if default_order {
            b.push(" ORDER BY \"created_at\" ASC, \"id\" ASC");
        }
        return;
    }
    b.push(" ORDER BY ");
    for (i, o) in order.iter().enumerate() {
        if i > 0 {
            b.push(", ");
        }
        b.push(&quote(&o.field))
            .push(if o.descending { " DESC" } else { " ASC" });
        // The same NULL placement on both dialects: NULLs sort as the smallest value.
        if b.d == Dialect::Postgres {
            b.push(if o.descending {
                " NULLS LAST"
            } else {
                " NULLS FIRST"
            });
        }
    }
    if default_order {
        b.push(", \"id\" ASC");
    }
}

fn push_page(b: &mut Builder, q: &Query) {
    match (q.limit, q.offset) {
        (Some(l), o) => {
            b.push(&format!(" LIMIT {l}"));
            if let Some(o) = o {
                b.push(&format!(" OFFSET {o}"));
            }
        }
        (None, Some(o)) => {
            b.push(if b.d == Dialect::Sqlite {
                " LIMIT -1"
            } else {
                ""
            });
            b.push(&format!(" OFFSET {o}"));
        }
        (None, None) => {}
    }
}

/// `SELECT <columns> FROM <table> WHERE … ORDER BY … LIMIT …`. `extra` is ANDed (e.g. `id IN (…)` for expand).
pub fn select(
    d: Dialect,
    object: &ObjectSchema,
    q: &Query,
    columns: &[&FieldSchema],
    extra: Option<&Filter>,
) -> Result<SelectStmt, DataError> {
    let mut b = Builder::new(d);
    b.push("SELECT ");
    let mut out = Vec::with_capacity(columns.len());
    for (i, f) in columns.iter().enumerate() {
        let Some(storage) = f.storage else { continue };
        if i > 0 {
            b.push(", ");
        }
        let e = b.read_expr(&f.name, storage);
        b.push(&e);
        out.push(OutColumn {
            key: f.name.clone(),
            decode: decode_of(storage),
        });
    }
    b.push(" FROM ").push(&quote(object.table()));
    push_where(&mut b, object, q, extra)?;
    push_order(&mut b, &q.order_by, true);
    push_page(&mut b, q);
    Ok(SelectStmt {
        stmt: b.finish(),
        columns: out,
    })
}

pub fn count(d: Dialect, object: &ObjectSchema, q: &Query) -> Result<Stmt, DataError> {
    let mut b = Builder::new(d);
    b.push("SELECT COUNT(*) FROM ").push(&quote(object.table()));
    push_where(&mut b, object, q, None)?;
    Ok(b.finish())
}

fn group_expr(d: Dialect, col: &str, storage: StorageKind, g: Option<DateGranularity>) -> String {
    let q = quote(col);
    let Some(g) = g else {
        return Builder {
            d,
            sql: String::new(),
            params: vec![],
        }
        .read_expr(col, storage);
    };
    match d {
        Dialect::Sqlite => match g {
            DateGranularity::Day => format!("substr({q}, 1, 10)"),
            DateGranularity::Month => format!("substr({q}, 1, 7)"),
            DateGranularity::Year => format!("substr({q}, 1, 4)"),
            DateGranularity::Quarter => format!(
                "substr({q}, 1, 4) || '-Q' || ((CAST(substr({q}, 6, 2) AS INTEGER) + 2) / 3)"
            ),
        },
        Dialect::Postgres => {
            let src = if storage == StorageKind::DateTime {
                format!("({q} AT TIME ZONE 'UTC')")
            } else {
                q
            };
            match g {
                DateGranularity::Day => format!("to_char({src}, 'YYYY-MM-DD')"),
                DateGranularity::Month => format!("to_char({src}, 'YYYY-MM')"),
                DateGranularity::Year => format!("to_char({src}, 'YYYY')"),
                DateGranularity::Quarter => format!("to_char({src}, 'YYYY-\"Q\"Q')"),
            }
        }
    }
}

/// `SELECT <groups>, <aggregates> … GROUP BY …`; returns the statement and one output column per alias.
pub fn aggregate(d: Dialect, object: &ObjectSchema, q: &Query) -> Result<SelectStmt, DataError> {
    let mut b = Builder::new(d);
    let mut out = Vec::new();
    let mut selects = Vec::new();
    let mut groups = Vec::new();
    for g in &q.group_by {
        let f = object.field(&g.field).ok_or_else(|| {
            DataError::invalid_field(&object.name, &g.field, "unknown group field")
        })?;
        let storage = f.storage.unwrap_or(StorageKind::Text);
        let expr = group_expr(d, &f.name, storage, g.granularity);
        selects.push(format!("{expr} AS {}", quote(&g.alias)));
        groups.push(expr);
        out.push(OutColumn {
            key: g.alias.clone(),
            decode: if g.granularity.is_some() {
                Decode::Text
            } else {
                decode_of(storage)
            },
        });
    }
    for a in &q.aggregations {
        let field = a.field.as_deref().and_then(|f| object.field(f));
        let storage = field.and_then(|f| f.storage);
        let col = field.map(|f| quote(&f.name)).unwrap_or_else(|| "*".into());
        let (expr, decode) = match a.function {
            AggFunction::Count if field.is_some() => (format!("COUNT({col})"), Decode::Int),
            AggFunction::Count => ("COUNT(*)".to_string(), Decode::Int),
            AggFunction::CountDistinct => (format!("COUNT(DISTINCT {col})"), Decode::Int),
            AggFunction::Sum | AggFunction::Avg => {
                let f = if a.function == AggFunction::Sum {
                    "SUM"
                } else {
                    "AVG"
                };
                let scale = match storage {
                    Some(StorageKind::Number(s)) if a.function == AggFunction::Sum => s,
                    _ => None,
                };
                let cast = if d == Dialect::Sqlite {
                    format!("CAST({f}({col}) AS REAL)")
                } else {
                    format!("({f}({col}))::float8")
                };
                (cast, Decode::Float { scale })
            }
            AggFunction::Min | AggFunction::Max => {
                let f = if a.function == AggFunction::Min {
                    "MIN"
                } else {
                    "MAX"
                };
                let storage = storage.unwrap_or(StorageKind::Text);
                let inner = format!("{f}({col})");
                let expr = match (d, storage) {
                    (Dialect::Postgres, StorageKind::Number(_)) => format!("({inner})::float8"),
                    (Dialect::Postgres, StorageKind::Date) => {
                        format!("to_char({inner}, 'YYYY-MM-DD')")
                    }
                    (Dialect::Postgres, StorageKind::DateTime) => format!(
                        "to_char({inner} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
                    ),
                    (Dialect::Sqlite, StorageKind::Number(_)) => format!("CAST({inner} AS REAL)"),
                    (Dialect::Postgres, StorageKind::Json) => format!("({inner})::text"),
                    _ => inner,
                };
                (expr, decode_of(storage))
            }
        };
        selects.push(format!("{expr} AS {}", quote(&a.alias)));
        out.push(OutColumn {
            key: a.alias.clone(),
            decode,
        });
    }
    // With `having`, the grouped rows are filtered (and then ordered and paged) by their aliases outside.
    if q.having.is_some() {
        b.push("SELECT * FROM (");
    }
    b.push("SELECT ")
        .push(&selects.join(", "))
        .push(" FROM ")
        .push(&quote(object.table()));
    push_where(&mut b, object, q, None)?;
    if !groups.is_empty() {
        b.push(" GROUP BY ").push(&groups.join(", "));
    }
    if let Some(h) = &q.having {
        b.push(") AS grouped WHERE ");
        crate::data::having::push(&mut b, object, q, h)?;
        // The groups' aliases stand for their expressions out here.
        groups = q.group_by.iter().map(|g| quote(&g.alias)).collect();
    }
    if q.order_by.is_empty() && !groups.is_empty() {
        // NULL groups first on both dialects, like an ascending sort.
        let nulls = if d == Dialect::Postgres {
            " NULLS FIRST"
        } else {
            ""
        };
        let order: Vec<String> = groups.iter().map(|g| format!("{g} ASC{nulls}")).collect();
        b.push(" ORDER BY ").push(&order.join(", "));
    } else {
        push_order(&mut b, &q.order_by, false);
    }
    push_page(&mut b, q);
    Ok(SelectStmt {
        stmt: b.finish(),
        columns: out,
    })
}

/// The number of groups an aggregate query yields (its `total`).
pub fn aggregate_total(d: Dialect, object: &ObjectSchema, q: &Query) -> Result<Stmt, DataError> {
    let unpaged = Query {
        limit: None,
        offset: None,
        order_by: vec![],
        ..q.clone()
    };
    let inner = aggregate(
        d,
        object,
        &Query {
            order_by: vec![],
            ..unpaged
        },
    )?;
    let mut sql = inner.stmt.sql;
    // Strip the default ORDER BY of the inner query: it is not needed to count.
    if let Some(pos) = sql.rfind(" ORDER BY ") {
        sql.truncate(pos);
    }
    Ok(Stmt {
        sql: format!("SELECT COUNT(*) FROM ({sql}) AS grouped"),
        params: inner.stmt.params,
    })
}

pub fn insert(d: Dialect, object: &ObjectSchema, values: &[(&FieldSchema, SqlValue)]) -> Stmt {
    let mut b = Builder::new(d);
    b.push("INSERT INTO ")
        .push(&quote(object.table()))
        .push(" (");
    for (i, (f, _)) in values.iter().enumerate() {
        if i > 0 {
            b.push(", ");
        }
        b.push(&quote(&f.name));
    }
    b.push(") VALUES (");
    for (i, (f, v)) in values.iter().enumerate() {
        if i > 0 {
            b.push(", ");
        }
        b.param(v.clone(), f.storage);
    }
    b.push(")");
    b.finish()
}

/// `UPDATE … SET … WHERE id = ? [AND updated_at = ?]`.
pub fn update(
    d: Dialect,
    object: &ObjectSchema,
    id: &str,
    values: &[(&FieldSchema, SqlValue)],
    expected_updated_at: Option<&str>,
) -> Stmt {
    let mut b = Builder::new(d);
    b.push("UPDATE ").push(&quote(object.table())).push(" SET ");
    for (i, (f, v)) in values.iter().enumerate() {
        if i > 0 {
            b.push(", ");
        }
        b.push(&quote(&f.name)).push(" = ");
        b.param(v.clone(), f.storage);
    }
    b.push(" WHERE \"id\" = ");
    b.param(SqlValue::Text(id.to_string()), Some(StorageKind::Text));
    if let Some(v) = expected_updated_at {
        b.push(" AND \"updated_at\" = ");
        b.param(SqlValue::Text(v.to_string()), Some(StorageKind::DateTime));
    }
    b.finish()
}

pub fn delete(
    d: Dialect,
    object: &ObjectSchema,
    id: &str,
    expected_updated_at: Option<&str>,
) -> Stmt {
    let mut b = Builder::new(d);
    b.push("DELETE FROM ")
        .push(&quote(object.table()))
        .push(" WHERE \"id\" = ");
    b.param(SqlValue::Text(id.to_string()), Some(StorageKind::Text));
    if let Some(v) = expected_updated_at {
        b.push(" AND \"updated_at\" = ");
        b.param(SqlValue::Text(v.to_string()), Some(StorageKind::DateTime));
    }
    b.finish()
}

/// `UPDATE <table> SET <col> = NULL WHERE <col> = ?` (set_null delete behaviour).
pub fn clear_reference(
    d: Dialect,
    object: &ObjectSchema,
    field: &FieldSchema,
    target_id: &str,
) -> Stmt {
    let mut b = Builder::new(d);
    let col = quote(&field.name);
    b.push("UPDATE ")
        .push(&quote(object.table()))
        .push(" SET ")
        .push(&col)
        .push(" = NULL WHERE ")
        .push(&col)
        .push(" = ");
    b.param(
        SqlValue::Text(target_id.to_string()),
        Some(StorageKind::Text),
    );
    b.finish()
}

/// `UPDATE <table> SET organization_id = ?, owner_id = ? WHERE organization_id IS NULL`.
pub fn adopt_unowned(
    d: Dialect,
    object: &ObjectSchema,
    organization_id: &str,
    owner_id: &str,
) -> Stmt {
    let mut b = Builder::new(d);
    b.push("UPDATE ")
        .push(&quote(object.table()))
        .push(" SET \"organization_id\" = ");
    b.param(
        SqlValue::Text(organization_id.to_string()),
        Some(StorageKind::Text),
    );
    if object.has_owner {
        b.push(", \"owner_id\" = COALESCE(\"owner_id\", ");
        b.param(
            SqlValue::Text(owner_id.to_string()),
            Some(StorageKind::Text),
        );
        b.push(")");
    }
    b.push(" WHERE \"organization_id\" IS NULL");
    b.finish()
}
