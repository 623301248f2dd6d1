//! Objects served by a driver plugin. The kernel keeps one `Driver`; when some objects' datasource names a
//! driver plugin (`datasources: [{"name": "kv", "driver": "com.example.kv"}]`, `objects[].datasource: "kv"`),
//! it is this router: operations on those objects go to the plugin, everything else to the SQL driver. The
//! kernel's enforcement (permissions, RLS row filters, validation, hooks, audit) runs above it unchanged; the
//! plugin receives typed records and a filter tree in JSON (see the `driver` interface in wit/objectos.wit).
//!
//! A plugin's writes apply when made; the router keeps an undo log per transaction so that a write that fails
//! (a savepoint rolled back, a transaction rolled back) leaves the plugin's records as they were: an insert is
//! deleted, an update or delete puts the previous record back. This holds within a running server, not across
//! a crash in the middle of a write.

use crate::artifact::fields::StorageKind;
use crate::data::catalog::{Catalog, FieldSchema, ObjectSchema};
use crate::data::driver::{AggregateRows, Driver, Record, Transaction};
use crate::data::error::DataError;
use crate::data::filter::{Condition, Filter, Op, Operand};
use crate::data::query::Query;
use crate::data::schema::SyncReport;
use crate::data::sql::{comparand_field, filtered_field, operand_value, text_of};
use crate::data::values::{SqlValue, number_value, round_to_scale};
use crate::plugins::runtime::RunningPlugin;
use crate::sandbox::plugin::{DriverAnswer, DriverCall};
use crate::sandbox::{GuestFailure, Sandbox, SandboxError};
use futures_util::future::BoxFuture;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;

fn has_within(f: &Filter) -> bool {
    match f {
        Filter::And(items) | Filter::Or(items) => items.iter().any(has_within),
        Filter::Not(inner) => has_within(inner),
        Filter::Cond(_) => false,
        Filter::Within(_) => true,
    }
}

/// Object name → the driver plugin that stores it.
pub type Routes = Arc<HashMap<String, Arc<RunningPlugin>>>;

pub struct RoutedDriver {
    pub sql: Arc<dyn Driver>,
    pub routes: Routes,
    pub sandbox: Sandbox,
}

/// The stored JSON form of a value of `storage`.
pub fn sql_to_json(v: SqlValue, storage: StorageKind) -> Value {
    match v {
        SqlValue::Null => Value::Null,
        SqlValue::Bool(b) => Value::Bool(b),
        SqlValue::Int(i) => Value::from(i),
        SqlValue::Float(f) => number_value(f),
        SqlValue::Text(t) if storage == StorageKind::Json => {
            serde_json::from_str(&t).unwrap_or(Value::String(t))
        }
        SqlValue::Text(t) => Value::String(t),
    }
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Eq => "eq",
        Op::Ne => "ne",
        Op::Gt => "gt",
        Op::Gte => "gte",
        Op::Lt => "lt",
        Op::Lte => "lte",
        Op::In => "in",
        Op::Nin => "nin",
        Op::Between => "between",
        Op::Contains => "contains",
        Op::NotContains => "notContains",
        Op::StartsWith => "startsWith",
        Op::EndsWith => "endsWith",
        Op::IContains => "iContains",
        Op::Like => "like",
        Op::ILike => "iLike",
        Op::Null(true) => "null",
        Op::Null(false) => "notNull",
    }
}

/// A filter as the driver interface carries it, with operands typed as the fields store them (the same
/// coercion the SQL builder applies to its parameters).
pub fn filter_json(object: &ObjectSchema, f: &Filter) -> Result<Value, DataError> {
    Ok(match f {
        Filter::And(items) => {
            json!({"and": items.iter().map(|i| filter_json(object, i)).collect::<Result<Vec<_>, _>>()?})
        }
        Filter::Or(items) => {
            json!({"or": items.iter().map(|i| filter_json(object, i)).collect::<Result<Vec<_>, _>>()?})
        }
        Filter::Not(inner) => json!({"not": filter_json(object, inner)?}),
        Filter::Cond(c) => condition_json(object, c)?,
        Filter::Within(w) => {
            return Err(DataError::Internal(format!(
                "'{}' is read through its master '{}' (controlled_by_parent), which a driver plugin cannot filter by",
                object.name, w.parent.name
            )));
        }
    })
}

fn condition_json(object: &ObjectSchema, c: &Condition) -> Result<Value, DataError> {
    let (field, storage) = filtered_field(object, &c.field)?;
    let typed = |v: &Value| sql_to_json(operand_value(field, v), storage);
    let is_list = storage == StorageKind::Json;
    let name = &field.name;
    let list_contains = |v: &Value| json!({"field": name, "op": "listContains", "value": v});
    Ok(match (c.op, &c.operand) {
        (Op::Null(_), _) => json!({"field": name, "op": op_name(c.op)}),
        (op @ (Op::Eq | Op::Ne | Op::Gt | Op::Gte | Op::Lt | Op::Lte), Operand::Field(other)) => {
            let other = comparand_field(object, other)?;
            json!({"field": name, "op": op_name(op), "otherField": other.name})
        }
        (_, Operand::Field(_)) => {
            return Err(DataError::invalid_query(
                &object.name,
                "$field comparands work with $eq, $ne and ordering operators",
            ));
        }
        (Op::Eq | Op::Contains, Operand::Value(v)) if is_list && !v.is_array() => list_contains(v),
        (op @ (Op::Eq | Op::Ne | Op::Gt | Op::Gte | Op::Lt | Op::Lte), Operand::Value(v)) => {
            json!({"field": name, "op": op_name(op), "value": typed(v)})
        }
        (Op::Between, Operand::Range(lo, hi)) => {
            json!({"field": name, "op": "between", "from": typed(lo), "to": typed(hi)})
        }
        (op @ (Op::In | Op::Nin), Operand::List(items)) if is_list => {
            let any = json!({"or": items.iter().map(list_contains).collect::<Vec<_>>()});
            if op == Op::In {
                any
            } else {
                json!({"or": [{"field": name, "op": "null"}, {"not": any}]})
            }
        }
        (op @ (Op::In | Op::Nin), Operand::List(items)) => {
            json!({"field": name, "op": op_name(op), "values": items.iter().map(typed).collect::<Vec<_>>()})
        }
        (
            op @ (Op::Contains
            | Op::NotContains
            | Op::StartsWith
            | Op::EndsWith
            | Op::IContains
            | Op::Like
            | Op::ILike),
            Operand::Value(v),
        ) => json!({"field": name, "op": op_name(op), "value": text_of(v)}),
        (op, operand) => {
            return Err(DataError::invalid_query(
                &object.name,
                format!("operator {op:?} cannot take {operand:?} on '{}'", c.field),
            ));
        }
    })
}

/// The query's filter, the kernel's extra filter and the search, as one filter (`null`: everything).
fn where_json(
    object: &ObjectSchema,
    q: &Query,
    extra: Option<&Filter>,
) -> Result<Value, DataError> {
    let mut all = Vec::new();
    if let Some(f) = &q.filter {
        all.push(filter_json(object, f)?);
    }
    if let Some(f) = extra {
        all.push(filter_json(object, f)?);
    }
    if let Some(s) = &q.search
        && !s.text.trim().is_empty()
    {
        let any: Vec<Value> = s
            .fields
            .iter()
            .filter_map(|f| object.field(f))
            .filter(|f| f.storage.is_some())
            .map(|f| json!({"field": f.name, "op": "iContains", "value": s.text.trim()}))
            .collect();
        all.push(json!({"or": any}));
    }
    Ok(match all.len() {
        0 => Value::Null,
        1 => all.remove(0),
        _ => json!({"and": all}),
    })
}

/// A stored record as the SQL driver would decode it: the asked-for columns, numbers normalized.
fn decode(record: &Map<String, Value>, columns: &[&FieldSchema]) -> Record {
    let mut out = Record::with_capacity(columns.len());
    for f in columns {
        let v = record.get(&f.name).cloned().unwrap_or(Value::Null);
        let v = match (f.storage, &v) {
            (Some(StorageKind::Number(scale)), Value::Number(n)) => {
                let x = n.as_f64().unwrap_or(0.0);
                number_value(scale.map_or(x, |s| round_to_scale(x, s)))
            }
            _ => v,
        };
        out.insert(f.name.clone(), v);
    }
    out
}

fn values_json(values: Vec<(&FieldSchema, SqlValue)>) -> Value {
    let mut m = Map::new();
    for (f, v) in values {
        m.insert(
            f.name.clone(),
            sql_to_json(v, f.storage.unwrap_or(StorageKind::Text)),
        );
    }
    Value::Object(m)
}

/// How a driver plugin's failure reads to the kernel: `conflict("unique:<field>")` is a unique violation
/// of that field, `invalid` a query the plugin cannot answer; the rest stay sandbox errors.
fn driver_error(object: &ObjectSchema, e: SandboxError) -> DataError {
    match e {
        SandboxError::Guest {
            error: GuestFailure::Conflict(message),
            ..
        } => {
            let field = message
                .strip_prefix("unique:")
                .and_then(|f| object.field(f.trim()));
            DataError::Unique {
                object: object.name.clone(),
                field: field.map(|f| f.name.clone()),
                message: crate::data::driver::UNIQUE_MESSAGE.to_string(),
            }
        }
        SandboxError::Guest {
            error: GuestFailure::Invalid(message),
            ..
        } => DataError::InvalidQuery {
            object: object.name.clone(),
            message,
        },
        other => DataError::Sandbox(other),
    }
}

impl RoutedDriver {
    /// Hands each plugin the definitions of the objects it serves.
    pub async fn sync_plugins(&self, catalog: &Catalog) -> Result<(), DataError> {
        let mut by_plugin: HashMap<&str, (Arc<RunningPlugin>, Vec<Value>)> = HashMap::new();
        for (object, plugin) in self.routes.iter() {
            let Some(schema) = catalog.object(object) else {
                continue;
            };
            let fields: Vec<Value> = schema
                .stored_fields()
                .map(|f| {
                    use crate::artifact::fields::Uniqueness;
                    let unique = match f.unique {
                        Uniqueness::None => json!(false),
                        Uniqueness::Global => json!("global"),
                        Uniqueness::PerOrganization => json!("organization"),
                    };
                    json!({"name": f.name, "type": format!("{:?}", f.ftype).to_ascii_lowercase(),
                           "unique": unique, "required": f.required})
                })
                .collect();
            by_plugin
                .entry(plugin.id.as_str())
                .or_insert_with(|| (plugin.clone(), Vec::new()))
                .1
                .push(json!({"name": object, "fields": fields}));
        }
        for (_, (plugin, objects)) in by_plugin {
            let objects = Value::Array(objects).to_string();
            plugin.remember_schema(&objects);
            let call = DriverCall::SyncSchema { objects };
            plugin
                .driver_call(&self.sandbox, &call)
                .await
                .map_err(|e| {
                    DataError::Schema(format!("driver plugin {}: sync-schema: {e}", plugin.id))
                })?;
        }
        Ok(())
    }
}

impl Driver for RoutedDriver {
    fn name(&self) -> &'static str {
        self.sql.name()
    }

    fn sync_schema<'a>(
        &'a self,
        catalog: &'a Catalog,
        allow_destructive: bool,
    ) -> BoxFuture<'a, Result<SyncReport, DataError>> {
        self.sql.sync_schema(catalog, allow_destructive)
    }

    fn begin(&self) -> BoxFuture<'_, Result<Box<dyn Transaction>, DataError>> {
        Box::pin(async move {
            Ok(Box::new(RoutedTransaction::new(
                self.sql.begin().await?,
                self.routes.clone(),
                self.sandbox.clone(),
            )) as Box<dyn Transaction>)
        })
    }

    fn reader(&self) -> BoxFuture<'_, Result<Box<dyn Transaction>, DataError>> {
        Box::pin(async move {
            Ok(Box::new(RoutedTransaction::new(
                self.sql.reader().await?,
                self.routes.clone(),
                self.sandbox.clone(),
            )) as Box<dyn Transaction>)
        })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), DataError>> {
        self.sql.ping()
    }

    fn single_writer(&self) -> bool {
        self.sql.single_writer()
    }

    fn pool_stats(&self) -> (u32, usize) {
        self.sql.pool_stats()
    }
}

pub struct RoutedTransaction {
    /// Always there until `commit` or `rollback` takes it (both consume the transaction).
    sql: Option<Box<dyn Transaction>>,
    routes: Routes,
    sandbox: Sandbox,
    /// How to undo each plugin write made so far, oldest first.
    undo: Vec<Undo>,
    /// `undo.len()` at each open savepoint.
    marks: Vec<usize>,
}

/// The inverse of one plugin write.
struct Undo {
    plugin: Arc<RunningPlugin>,
    object: Arc<ObjectSchema>,
    id: String,
    /// `None`: the write inserted the record (undo deletes it); `Some`: the record before the write.
    previous: Option<Map<String, Value>>,
}

impl RoutedTransaction {
    fn new(sql: Box<dyn Transaction>, routes: Routes, sandbox: Sandbox) -> RoutedTransaction {
        RoutedTransaction {
            sql: Some(sql),
            routes,
            sandbox,
            undo: Vec::new(),
            marks: Vec::new(),
        }
    }

    fn plugin(&self, object: &ObjectSchema) -> Option<Arc<RunningPlugin>> {
        self.routes.get(&object.name).cloned()
    }

    /// The query with every `Within` scope that reaches a plugin-stored object (as the child or as the master)
    /// resolved into the master ids it allows: such a scope cannot be one SQL subquery. `None` (the query as it
    /// is) without driver plugins or without such a scope.
    async fn routable(
        &mut self,
        object: &ObjectSchema,
        query: &Query,
    ) -> Result<Option<Query>, DataError> {
        match &query.filter {
            Some(f) if !self.routes.is_empty() && has_within(f) => Ok(Some(Query {
                filter: Some(self.resolve_within(object, f).await?),
                ..query.clone()
            })),
            _ => Ok(None),
        }
    }

    fn resolve_within<'a>(
        &'a mut self,
        object: &'a ObjectSchema,
        filter: &'a Filter,
    ) -> BoxFuture<'a, Result<Filter, DataError>> {
        Box::pin(async move {
            Ok(match filter {
                Filter::And(items) | Filter::Or(items) => {
                    let mut out = Vec::with_capacity(items.len());
                    for item in items {
                        out.push(self.resolve_within(object, item).await?);
                    }
                    if matches!(filter, Filter::And(_)) {
                        Filter::And(out)
                    } else {
                        Filter::Or(out)
                    }
                }
                Filter::Not(inner) => {
                    Filter::Not(Box::new(self.resolve_within(object, inner).await?))
                }
                Filter::Cond(_) => filter.clone(),
                Filter::Within(w)
                    if self.plugin(object).is_none() && self.plugin(&w.parent).is_none() =>
                {
                    Filter::Within(Box::new(crate::data::filter::Within {
                        field: w.field.clone(),
                        parent: w.parent.clone(),
                        filter: self.resolve_within(&w.parent, &w.filter).await?,
                    }))
                }
                Filter::Within(w) => {
                    let id_col: Vec<&FieldSchema> = w.parent.field("id").into_iter().collect();
                    // Bounded: past it the scope is refused, not silently cut.
                    let cap = crate::data::limits::MAX_EXPAND_ROWS;
                    let q = Query {
                        filter: Some(w.filter.clone()),
                        limit: Some(cap as u64 + 1),
                        ..Query::default()
                    };
                    let rows = self.find(&w.parent, &q, &id_col, None).await?;
                    if rows.len() > cap {
                        return Err(DataError::Internal(format!(
                            "'{}' is read through its master '{}', and more than {cap} of those are readable across a driver plugin (limit MAX_EXPAND_ROWS)",
                            object.name, w.parent.name
                        )));
                    }
                    Filter::Cond(Condition {
                        field: w.field.clone(),
                        op: Op::In,
                        operand: Operand::List(
                            rows.iter().filter_map(|r| r.get("id").cloned()).collect(),
                        ),
                    })
                }
            })
        })
    }

    fn sql(&mut self) -> Result<&mut Box<dyn Transaction>, DataError> {
        self.sql
            .as_mut()
            .ok_or_else(|| DataError::Internal("the transaction has ended".into()))
    }
}

/// Undoes plugin writes, newest first. Every step is tried; the first failure is reported.
async fn apply_undo(sandbox: &Sandbox, entries: Vec<Undo>) -> Result<(), DataError> {
    let mut first_error = None;
    for u in entries.into_iter().rev() {
        let object = u.object.name.clone();
        let remove = DriverCall::Delete {
            object: object.clone(),
            id: u.id.clone(),
            expected_version: None,
        };
        let mut r = call(sandbox, &u.plugin, &u.object, remove)
            .await
            .map(|_| ());
        if let (Ok(()), Some(previous)) = (&r, u.previous) {
            let put = DriverCall::Insert {
                object,
                record: Value::Object(previous).to_string(),
            };
            r = call(sandbox, &u.plugin, &u.object, put).await.map(|_| ());
        }
        if let Err(e) = r {
            tracing::error!(plugin = %u.plugin.id, object = %u.object.name, id = %u.id, "undoing a driver plugin write failed: {e}");
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

impl Drop for RoutedTransaction {
    fn drop(&mut self) {
        // Dropped without commit or rollback (a cancelled request): undo in the background.
        if self.undo.is_empty() {
            return;
        }
        let entries = std::mem::take(&mut self.undo);
        let sandbox = self.sandbox.clone();
        tracing::warn!(
            writes = entries.len(),
            "a transaction with driver plugin writes was dropped; undoing them"
        );
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = apply_undo(&sandbox, entries).await;
            });
        }
    }
}

/// The stored record `id` as the plugin has it (all its fields).
async fn stored(
    sandbox: &Sandbox,
    plugin: &RunningPlugin,
    object: &ObjectSchema,
    id: &str,
) -> Result<Option<Map<String, Value>>, DataError> {
    let q = Query {
        filter: Some(Filter::Cond(Condition {
            field: "id".into(),
            op: Op::Eq,
            operand: Operand::Value(Value::String(id.to_string())),
        })),
        ..Query::default()
    };
    Ok(plugin_find(sandbox, plugin, object, &q, None)
        .await?
        .into_iter()
        .next())
}

async fn call(
    sandbox: &Sandbox,
    plugin: &RunningPlugin,
    object: &ObjectSchema,
    call: DriverCall,
) -> Result<DriverAnswer, DataError> {
    plugin
        .driver_call(sandbox, &call)
        .await
        .map_err(|e| driver_error(object, e))
}

async fn plugin_find(
    sandbox: &Sandbox,
    plugin: &RunningPlugin,
    object: &ObjectSchema,
    q: &Query,
    extra: Option<&Filter>,
) -> Result<Vec<Map<String, Value>>, DataError> {
    // The SQL driver's order: the query's, then id; without one, creation order.
    let mut order: Vec<Value> = q
        .order_by
        .iter()
        .map(|o| json!({"field": o.field, "order": if o.descending { "desc" } else { "asc" }}))
        .collect();
    if order.is_empty() {
        order.push(json!({"field": "created_at", "order": "asc"}));
    }
    order.push(json!({"field": "id", "order": "asc"}));
    let query = json!({"where": where_json(object, q, extra)?, "orderBy": order,
                           "limit": q.limit, "offset": q.offset});
    let answer = call(
        sandbox,
        plugin,
        object,
        DriverCall::Find {
            object: object.name.clone(),
            query: query.to_string(),
        },
    )
    .await?;
    let DriverAnswer::Json(text) = answer else {
        return Err(DataError::Internal(
            "a driver find answered no records".into(),
        ));
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Array(rows)) => Ok(rows
            .into_iter()
            .filter_map(|r| match r {
                Value::Object(m) => Some(m),
                _ => None,
            })
            .collect()),
        _ => Err(DataError::Sandbox(SandboxError::Trapped {
            body: plugin.id.clone(),
            reason: "find answered something that is not a JSON array of records".into(),
        })),
    }
}

async fn plugin_update(
    sandbox: &Sandbox,
    plugin: &RunningPlugin,
    object: &ObjectSchema,
    id: &str,
    patch: Value,
    expected_version: Option<&str>,
) -> Result<u64, DataError> {
    match call(
        sandbox,
        plugin,
        object,
        DriverCall::Update {
            object: object.name.clone(),
            id: id.to_string(),
            patch: patch.to_string(),
            expected_version: expected_version.map(str::to_string),
        },
    )
    .await?
    {
        DriverAnswer::Count(n) => Ok(n),
        _ => Ok(0),
    }
}

impl Transaction for RoutedTransaction {
    fn find<'a>(
        &'a mut self,
        object: &'a ObjectSchema,
        query: &'a Query,
        columns: &'a [&'a FieldSchema],
        extra: Option<&'a Filter>,
    ) -> BoxFuture<'a, Result<Vec<Record>, DataError>> {
        Box::pin(async move {
            let routed = self.routable(object, query).await?;
            let query = routed.as_ref().unwrap_or(query);
            match self.plugin(object) {
                Some(p) => Ok(plugin_find(&self.sandbox, &p, object, query, extra)
                    .await?
                    .iter()
                    .map(|r| decode(r, columns))
                    .collect()),
                None => self.sql()?.find(object, query, columns, extra).await,
            }
        })
    }

    fn count<'a>(
        &'a mut self,
        object: &'a ObjectSchema,
        query: &'a Query,
    ) -> BoxFuture<'a, Result<u64, DataError>> {
        Box::pin(async move {
            let routed = self.routable(object, query).await?;
            let query = routed.as_ref().unwrap_or(query);
            let Some(p) = self.plugin(object) else {
                return self.sql()?.count(object, query).await;
            };
            let filter = where_json(object, query, None)?;
            match call(
                &self.sandbox,
                &p,
                object,
                DriverCall::Count {
                    object: object.name.clone(),
                    filter: filter.to_string(),
                },
            )
            .await?
            {
                DriverAnswer::Count(n) => Ok(n),
                _ => Ok(0),
            }
        })
    }

    fn aggregate<'a>(
        &'a mut self,
        object: &'a ObjectSchema,
        query: &'a Query,
    ) -> BoxFuture<'a, Result<AggregateRows, DataError>> {
        Box::pin(async move {
            let routed = self.routable(object, query).await?;
            let query = routed.as_ref().unwrap_or(query);
            match self.plugin(object) {
                Some(p) => Err(DataError::invalid_query(
                    &object.name,
                    format!(
                        "aggregations and groupBy are not supported on objects stored by driver plugin {}",
                        p.id
                    ),
                )),
                None => self.sql()?.aggregate(object, query).await,
            }
        })
    }

    fn insert<'a>(
        &'a mut self,
        object: &'a ObjectSchema,
        values: Vec<(&'a FieldSchema, SqlValue)>,
    ) -> BoxFuture<'a, Result<(), DataError>> {
        Box::pin(async move {
            let Some(p) = self.plugin(object) else {
                return self.sql()?.insert(object, values).await;
            };
            let record = values_json(values);
            let id = record["id"].as_str().unwrap_or_default().to_string();
            call(
                &self.sandbox,
                &p,
                object,
                DriverCall::Insert {
                    object: object.name.clone(),
                    record: record.to_string(),
                },
            )
            .await?;
            self.undo.push(Undo {
                plugin: p,
                object: Arc::new(object.clone()),
                id,
                previous: None,
            });
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
            match self.plugin(object) {
                Some(p) => {
                    self.plugin_write(&p, object, id, Some(values_json(values)), expected_version)
                        .await
                }
                None => {
                    self.sql()?
                        .update(object, id, values, expected_version)
                        .await
                }
            }
        })
    }

    fn delete<'a>(
        &'a mut self,
        object: &'a ObjectSchema,
        id: &'a str,
        expected_version: Option<&'a str>,
    ) -> BoxFuture<'a, Result<u64, DataError>> {
        Box::pin(async move {
            match self.plugin(object) {
                Some(p) => {
                    self.plugin_write(&p, object, id, None, expected_version)
                        .await
                }
                None => self.sql()?.delete(object, id, expected_version).await,
            }
        })
    }

    fn clear_reference<'a>(
        &'a mut self,
        object: &'a ObjectSchema,
        field: &'a FieldSchema,
        target_id: &'a str,
    ) -> BoxFuture<'a, Result<u64, DataError>> {
        Box::pin(async move {
            let Some(p) = self.plugin(object) else {
                return self.sql()?.clear_reference(object, field, target_id).await;
            };
            let filter = Filter::Cond(Condition {
                field: field.name.clone(),
                op: Op::Eq,
                operand: Operand::Value(Value::String(target_id.to_string())),
            });
            self.plugin_rewrite(&p, object, filter, json!({ field.name.clone(): null }))
                .await
        })
    }

    fn adopt_unowned<'a>(
        &'a mut self,
        object: &'a ObjectSchema,
        organization_id: &'a str,
        owner_id: &'a str,
    ) -> BoxFuture<'a, Result<u64, DataError>> {
        Box::pin(async move {
            let Some(p) = self.plugin(object) else {
                return self
                    .sql()?
                    .adopt_unowned(object, organization_id, owner_id)
                    .await;
            };
            let filter = Filter::Cond(Condition {
                field: "organization_id".into(),
                op: Op::Null(true),
                operand: Operand::None,
            });
            let mut patch = json!({"organization_id": organization_id});
            if object.has_owner {
                patch["owner_id"] = json!(owner_id);
            }
            self.plugin_rewrite(&p, object, filter, patch).await
        })
    }

    fn savepoint(&mut self) -> BoxFuture<'_, Result<(), DataError>> {
        Box::pin(async move {
            self.marks.push(self.undo.len());
            self.sql()?.savepoint().await
        })
    }

    fn release_savepoint(&mut self) -> BoxFuture<'_, Result<(), DataError>> {
        Box::pin(async move {
            self.marks.pop();
            self.sql()?.release_savepoint().await
        })
    }

    fn rollback_to_savepoint(&mut self) -> BoxFuture<'_, Result<(), DataError>> {
        Box::pin(async move {
            let mark = self.marks.pop().unwrap_or(0).min(self.undo.len());
            let entries = self.undo.split_off(mark);
            let undone = apply_undo(&self.sandbox, entries).await;
            self.sql()?.rollback_to_savepoint().await?;
            undone
        })
    }

    fn next_sequence<'a>(
        &'a mut self,
        object: &'a str,
        field: &'a str,
    ) -> BoxFuture<'a, Result<i64, DataError>> {
        Box::pin(async move { self.sql()?.next_sequence(object, field).await })
    }

    fn commit(mut self: Box<Self>) -> BoxFuture<'static, Result<(), DataError>> {
        self.undo.clear();
        match self.sql.take() {
            Some(sql) => sql.commit(),
            None => {
                Box::pin(async { Err(DataError::Internal("the transaction has ended".into())) })
            }
        }
    }

    fn rollback(mut self: Box<Self>) -> BoxFuture<'static, Result<(), DataError>> {
        let entries = std::mem::take(&mut self.undo);
        let sandbox = self.sandbox.clone();
        drop(self);
        Box::pin(async move { apply_undo(&sandbox, entries).await })
    }
}

impl RoutedTransaction {
    /// An update (`patch`) or delete (`None`) of a plugin's record, with its undo recorded.
    async fn plugin_write(
        &mut self,
        plugin: &Arc<RunningPlugin>,
        object: &ObjectSchema,
        id: &str,
        patch: Option<Value>,
        expected_version: Option<&str>,
    ) -> Result<u64, DataError> {
        let Some(previous) = stored(&self.sandbox, plugin, object, id).await? else {
            return Ok(0);
        };
        let n = match patch {
            Some(patch) => {
                plugin_update(&self.sandbox, plugin, object, id, patch, expected_version).await?
            }
            None => match call(
                &self.sandbox,
                plugin,
                object,
                DriverCall::Delete {
                    object: object.name.clone(),
                    id: id.to_string(),
                    expected_version: expected_version.map(str::to_string),
                },
            )
            .await?
            {
                DriverAnswer::Count(n) => n,
                _ => 0,
            },
        };
        if n > 0 {
            self.undo.push(Undo {
                plugin: plugin.clone(),
                object: Arc::new(object.clone()),
                id: id.to_string(),
                previous: Some(previous),
            });
        }
        Ok(n)
    }

    /// Rewrites every record matching `filter` with `patch` (clear_reference, adopt_unowned).
    async fn plugin_rewrite(
        &mut self,
        plugin: &Arc<RunningPlugin>,
        object: &ObjectSchema,
        filter: Filter,
        patch: Value,
    ) -> Result<u64, DataError> {
        let q = Query {
            filter: Some(filter),
            ..Query::default()
        };
        let rows = plugin_find(&self.sandbox, plugin, object, &q, None).await?;
        let mut changed = 0;
        for row in rows {
            if let Some(id) = row.get("id").and_then(Value::as_str) {
                changed += self
                    .plugin_write(plugin, object, id, Some(patch.clone()), None)
                    .await?;
            }
        }
        Ok(changed)
    }
}
