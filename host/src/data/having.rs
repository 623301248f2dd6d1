//! `having`: a filter over the rows an aggregate query yields, naming its aggregation and group aliases
//! (`{"groupBy": ["account"], "aggregations": [{"function": "count", "alias": "n"}], "having": {"n": {"$gte": 2}}}`).
//! It is parsed against the query's own aliases and compiled over the grouped rows (the aggregate query
//! wrapped as a subquery), so the page, `total` and `hasMore` count the groups it keeps.
//!
//! Accepted: `{alias: value}` (equality; `null` is "is null"), `{alias: {$eq|$ne|$gt|$gte|$lt|$lte: value}}`,
//! `{alias: {$in|$nin: [values]}}`, `{alias: {$null: bool}}`, and `$and` / `$or` over lists of such objects.
//! The same depth, node and list bounds as `where` apply ([`super::limits`]).

use super::error::DataError;
use super::limits::{MAX_FILTER_DEPTH, MAX_FILTER_NODES, MAX_IN_VALUES};
use super::query::{AggFunction, Query};
use super::sql::{Builder, push_junction, quote};
use super::values::SqlValue;
use crate::artifact::fields::StorageKind;
use crate::data::catalog::ObjectSchema;
use serde_json::{Map, Value};

#[derive(Clone, Debug, PartialEq)]
pub enum Having {
    And(Vec<Having>),
    Or(Vec<Having>),
    Cmp {
        alias: String,
        op: HavingOp,
        value: Value,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HavingOp {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    Nin,
    /// `$null: true` (is null) / `$null: false` (is not null).
    Null(bool),
}

impl HavingOp {
    fn parse(op: &str) -> Option<HavingOp> {
        Some(match op {
            "$eq" => HavingOp::Eq,
            "$ne" => HavingOp::Ne,
            "$gt" => HavingOp::Gt,
            "$gte" => HavingOp::Gte,
            "$lt" => HavingOp::Lt,
            "$lte" => HavingOp::Lte,
            "$in" => HavingOp::In,
            "$nin" => HavingOp::Nin,
            _ => return None,
        })
    }

    fn sql(self) -> &'static str {
        match self {
            HavingOp::Eq => "=",
            HavingOp::Ne => "<>",
            HavingOp::Gt => ">",
            HavingOp::Gte => ">=",
            HavingOp::Lt => "<",
            HavingOp::Lte => "<=",
            HavingOp::In => "IN",
            HavingOp::Nin => "NOT IN",
            HavingOp::Null(_) => "IS",
        }
    }
}

/// Parses `having` against the aliases of `q` (its aggregations and groups, already parsed).
pub fn parse(object: &ObjectSchema, q: &Query, v: &Value) -> Result<Having, DataError> {
    if !q.is_aggregate() {
        return Err(DataError::invalid_query(
            &object.name,
            "'having' filters the rows of an aggregate query; this query has no 'groupBy' or 'aggregations'",
        ));
    }
    let mut p = Parser {
        object: &object.name,
        aliases: q.aliases(),
        nodes: 0,
    };
    p.node(v, 0)
}

struct Parser<'a> {
    object: &'a str,
    aliases: Vec<&'a str>,
    nodes: usize,
}

impl Parser<'_> {
    fn bad(&self, message: impl Into<String>) -> DataError {
        DataError::invalid_query(self.object, message)
    }

    fn node(&mut self, v: &Value, depth: usize) -> Result<Having, DataError> {
        self.nodes += 1;
        if depth > MAX_FILTER_DEPTH || self.nodes > MAX_FILTER_NODES {
            return Err(self.bad(format!(
                "'having' is nested deeper than {MAX_FILTER_DEPTH} levels or has more than {MAX_FILTER_NODES} conditions"
            )));
        }
        let m: &Map<String, Value> = v.as_object().ok_or_else(|| {
            self.bad(format!(
                "'having' must be an object of conditions, found {v}"
            ))
        })?;
        let mut parts = Vec::with_capacity(m.len());
        for (key, value) in m {
            parts.push(match key.as_str() {
                "$and" | "$or" => {
                    let items = value.as_array().ok_or_else(|| {
                        self.bad(format!("'having.{key}' must be an array of conditions"))
                    })?;
                    let list = items
                        .iter()
                        .map(|i| self.node(i, depth + 1))
                        .collect::<Result<Vec<_>, _>>()?;
                    if key == "$and" {
                        Having::And(list)
                    } else {
                        Having::Or(list)
                    }
                }
                alias => self.condition(alias, value)?,
            });
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Having::And(parts)
        })
    }

    fn condition(&mut self, alias: &str, v: &Value) -> Result<Having, DataError> {
        if !self.aliases.contains(&alias) {
            return Err(self.bad(format!(
                "'having' names '{alias}', which is not an alias of this query (its aliases: {})",
                self.aliases.join(", ")
            )));
        }
        let cmp = |op, value: &Value| Having::Cmp {
            alias: alias.to_string(),
            op,
            value: value.clone(),
        };
        let Some(ops) = v.as_object() else {
            return Ok(match v {
                Value::Null => cmp(HavingOp::Null(true), v),
                Value::Array(_) => {
                    return Err(self.bad(format!(
                        "'having.{alias}' compares with a list; use {{\"$in\": [...]}}"
                    )));
                }
                _ => cmp(HavingOp::Eq, v),
            });
        };
        let mut parts = Vec::with_capacity(ops.len());
        for (op, value) in ops {
            self.nodes += 1;
            if op == "$null" {
                let Some(b) = value.as_bool() else {
                    return Err(self.bad(format!("'having.{alias}.$null' must be true or false")));
                };
                parts.push(cmp(HavingOp::Null(b), value));
                continue;
            }
            let Some(parsed) = HavingOp::parse(op) else {
                return Err(self.bad(format!(
                    "'having.{alias}' uses the operator '{op}'; 'having' accepts $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin and $null"
                )));
            };
            match (parsed, value) {
                (HavingOp::In | HavingOp::Nin, Value::Array(items))
                    if items.len() <= MAX_IN_VALUES => {}
                (HavingOp::In | HavingOp::Nin, Value::Array(_)) => {
                    return Err(self.bad(format!(
                        "'having.{alias}.{op}' has more than {MAX_IN_VALUES} values"
                    )));
                }
                (HavingOp::In | HavingOp::Nin, _) => {
                    return Err(self.bad(format!("'having.{alias}.{op}' must be an array")));
                }
                (_, Value::Array(_) | Value::Object(_)) => {
                    return Err(self.bad(format!(
                        "'having.{alias}.{op}' must be a single value, found {value}"
                    )));
                }
                _ => {}
            }
            parts.push(cmp(parsed, value));
        }
        Ok(match parts.len() {
            0 => return Err(self.bad(format!("'having.{alias}' has no condition"))),
            1 => parts.remove(0),
            _ => Having::And(parts),
        })
    }
}

/// How each alias of `q` reads in the grouped rows: numbers, booleans, or text (dates come out of the
/// aggregate query as text on both dialects).
fn kind_of(object: &ObjectSchema, q: &Query, alias: &str) -> StorageKind {
    let storage_of = |field: Option<&str>| {
        field
            .and_then(|f| object.field(f))
            .and_then(|f| f.storage)
            .unwrap_or(StorageKind::Text)
    };
    let plain = |s: StorageKind| match s {
        StorageKind::Number(_) => StorageKind::Number(None),
        StorageKind::Boolean => StorageKind::Boolean,
        _ => StorageKind::Text,
    };
    if let Some(a) = q.aggregations.iter().find(|a| a.alias == alias) {
        return match a.function {
            AggFunction::Count
            | AggFunction::CountDistinct
            | AggFunction::Sum
            | AggFunction::Avg => StorageKind::Number(None),
            AggFunction::Min | AggFunction::Max => plain(storage_of(a.field.as_deref())),
        };
    }
    match q.group_by.iter().find(|g| g.alias == alias) {
        Some(g) if g.granularity.is_none() => plain(storage_of(Some(&g.field))),
        _ => StorageKind::Text,
    }
}

/// One compared value in the alias's kind; a value that cannot be one is the caller's mistake.
fn operand(object: &str, alias: &str, kind: StorageKind, v: &Value) -> Result<SqlValue, DataError> {
    let wrong = || {
        DataError::invalid_query(
            object,
            format!(
                "'having.{alias}' compares a {} with {v}",
                match kind {
                    StorageKind::Number(_) => "number",
                    StorageKind::Boolean => "boolean",
                    _ => "text",
                }
            ),
        )
    };
    Ok(match (kind, v) {
        (StorageKind::Number(_), Value::Number(n)) => {
            SqlValue::Float(n.as_f64().ok_or_else(wrong)?)
        }
        (StorageKind::Number(_), Value::String(s)) => {
            SqlValue::Float(s.trim().parse::<f64>().map_err(|_| wrong())?)
        }
        (StorageKind::Boolean, Value::Bool(b)) => SqlValue::Bool(*b),
        (StorageKind::Number(_) | StorageKind::Boolean, _) => return Err(wrong()),
        (_, Value::String(s)) => SqlValue::Text(s.clone()),
        (_, Value::Number(n)) => SqlValue::Text(n.to_string()),
        (_, Value::Bool(b)) => SqlValue::Text(b.to_string()),
        _ => return Err(wrong()),
    })
}

/// Closes a comparison; `$ne` and `$nin` keep the rows whose value is null, as they do in `where`.
fn keep_nulls(b: &mut Builder, col: &str, op: HavingOp) {
    if matches!(op, HavingOp::Ne | HavingOp::Nin) {
        b.push(" OR ").push(col).push(" IS NULL");
    }
    b.push(")");
}

/// The condition over the grouped rows, on their alias columns.
pub fn push(
    b: &mut Builder,
    object: &ObjectSchema,
    q: &Query,
    h: &Having,
) -> Result<(), DataError> {
    match h {
        Having::And(items) | Having::Or(items) => {
            push_junction(b, matches!(h, Having::And(_)), items, |b, item| {
                push(b, object, q, item)
            })?;
        }
        Having::Cmp { alias, op, value } => {
            let col = quote(alias);
            let kind = kind_of(object, q, alias);
            match op {
                HavingOp::Null(true) => {
                    b.push(&col).push(" IS NULL");
                }
                HavingOp::Null(false) => {
                    b.push(&col).push(" IS NOT NULL");
                }
                HavingOp::In | HavingOp::Nin => {
                    let items = value.as_array().map(Vec::as_slice).unwrap_or_default();
                    if items.is_empty() {
                        b.push(if *op == HavingOp::In { "1=0" } else { "1=1" });
                        return Ok(());
                    }
                    b.push("(").push(&col).push(" ").push(op.sql()).push(" (");
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            b.push(", ");
                        }
                        b.param(operand(&object.name, alias, kind, item)?, Some(kind));
                    }
                    b.push(")");
                    keep_nulls(b, &col, *op);
                }
                _ => {
                    b.push("(").push(&col).push(" ").push(op.sql()).push(" ");
                    b.param(operand(&object.name, alias, kind, value)?, Some(kind));
                    keep_nulls(b, &col, *op);
                }
            }
        }
    }
    Ok(())
}
