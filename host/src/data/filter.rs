//! Filters: both wire forms (Mongo-style object and array sugar), every operator, and value macros
//! (PROTOCOL.md §3), parsed into one AST that is checked against the object's fields.

use crate::data::catalog::ObjectSchema;
use crate::data::error::DataError;
use crate::data::limits;
use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc};
use serde_json::{Map, Value};
use std::cell::Cell;

#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Cond(Condition),
    /// Rows whose `field` names a record of another object that passes a filter there: the read scope of a
    /// `controlled_by_parent` child (its master must be readable). Built by the kernel, never parsed.
    Within(Box<Within>),
}

/// `field IN (SELECT id FROM parent WHERE filter)`.
#[derive(Clone, Debug)]
pub struct Within {
    pub field: String,
    pub parent: std::sync::Arc<ObjectSchema>,
    pub filter: Filter,
}

impl PartialEq for Within {
    fn eq(&self, other: &Within) -> bool {
        self.field == other.field
            && self.parent.name == other.parent.name
            && self.filter == other.filter
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub field: String,
    pub op: Op,
    pub operand: Operand,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    Nin,
    Between,
    Contains,
    NotContains,
    StartsWith,
    EndsWith,
    IContains,
    Like,
    ILike,
    /// `$null: true` (is null) / `$null: false` (is not null).
    Null(bool),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    None,
    Value(Value),
    List(Vec<Value>),
    Range(Value, Value),
    /// `{$field: "other"}`: compare with another column.
    Field(String),
}

/// What value macros resolve against.
#[derive(Clone, Debug)]
pub struct MacroContext {
    pub now: DateTime<Utc>,
    pub user_id: Option<String>,
    pub organization_id: Option<String>,
}

impl MacroContext {
    pub fn now(user_id: Option<String>, organization_id: Option<String>) -> MacroContext {
        MacroContext {
            now: Utc::now(),
            user_id,
            organization_id,
        }
    }
}

/// Parses either wire form. `source` names the parameter in messages (e.g. "filter").
pub fn parse_filter(
    object: &ObjectSchema,
    value: &Value,
    ctx: &MacroContext,
    source: &str,
) -> Result<Filter, DataError> {
    let p = Parser {
        object,
        ctx,
        source,
        depth: Cell::new(0),
        nodes: Cell::new(0),
    };
    p.any(value)
}

struct Parser<'a> {
    object: &'a ObjectSchema,
    ctx: &'a MacroContext,
    source: &'a str,
    /// Current nesting and nodes seen so far, bounded by [`limits`].
    depth: Cell<usize>,
    nodes: Cell<usize>,
}

impl Parser<'_> {
    fn bad(&self, message: String) -> DataError {
        DataError::InvalidFilter {
            object: self.object.name.clone(),
            message,
        }
    }

    fn any(&self, v: &Value) -> Result<Filter, DataError> {
        let depth = self.depth.get() + 1;
        if depth > limits::MAX_FILTER_DEPTH {
            return Err(self.bad(format!(
                "Query parameter '{}' nests deeper than {} levels (limit MAX_FILTER_DEPTH)",
                self.source,
                limits::MAX_FILTER_DEPTH
            )));
        }
        self.depth.set(depth);
        let out = self.any_at(v);
        self.depth.set(depth - 1);
        out
    }

    /// Counts one node of the filter against [`limits::MAX_FILTER_NODES`].
    fn count(&self, n: usize) -> Result<(), DataError> {
        let nodes = self.nodes.get().saturating_add(n);
        self.nodes.set(nodes);
        if nodes > limits::MAX_FILTER_NODES {
            return Err(self.bad(format!(
                "Query parameter '{}' has more than {} conditions and branches (limit MAX_FILTER_NODES)",
                self.source,
                limits::MAX_FILTER_NODES
            )));
        }
        Ok(())
    }

    /// A value compared with a field: text no longer than [`limits::MAX_VALUE_CHARS`].
    fn check_value(&self, field: &str, v: &Value) -> Result<(), DataError> {
        match v {
            Value::String(s) if s.chars().count() > limits::MAX_VALUE_CHARS => Err(self.bad(format!(
                "the value compared with '{field}' is longer than {} characters (limit MAX_VALUE_CHARS)",
                limits::MAX_VALUE_CHARS
            ))),
            Value::Array(items) => items.iter().try_for_each(|i| match i {
                Value::Array(_) => Err(self.bad(format!(
                    "a list compared with '{field}' holds values, found a list in it"
                ))),
                other => self.check_value(field, other),
            }),
            Value::Object(_) => Err(self.bad(format!(
                "the value compared with '{field}' must be a scalar, found an object"
            ))),
            _ => Ok(()),
        }
    }

    fn any_at(&self, v: &Value) -> Result<Filter, DataError> {
        self.count(1)?;
        match v {
            Value::Object(m) => self.object_form(m),
            Value::Array(a) => self.array_form(a),
            Value::Null => Ok(Filter::And(vec![])),
            other => Err(self.bad(format!(
                "Query parameter '{}' must be a JSON object or array, found {other}",
                self.source
            ))),
        }
    }

    fn object_form(&self, m: &Map<String, Value>) -> Result<Filter, DataError> {
        let mut parts = Vec::new();
        for (key, v) in m {
            match key.as_str() {
                "$and" | "$or" => {
                    let items = v
                        .as_array()
                        .ok_or_else(|| self.bad(format!("'{key}' takes an array of filters")))?;
                    self.count(items.len())?;
                    let subs = items
                        .iter()
                        .map(|i| self.nested(key, i))
                        .collect::<Result<Vec<_>, _>>()?;
                    parts.push(if key == "$and" {
                        Filter::And(subs)
                    } else {
                        Filter::Or(subs)
                    });
                }
                "$not" => parts.push(Filter::Not(Box::new(self.nested(key, v)?))),
                k if k.starts_with('$') => {
                    return Err(self.bad(format!(
                        "unknown logical operator '{k}' (use $and, $or, $not)"
                    )));
                }
                field => {
                    self.check_field(field)?;
                    match v {
                        Value::Object(ops) if ops.keys().any(|k| k.starts_with('$')) => {
                            for (op, operand) in ops {
                                parts.push(self.condition(field, op, operand)?);
                            }
                        }
                        Value::Null => parts.push(Filter::Cond(Condition {
                            field: field.into(),
                            op: Op::Null(true),
                            operand: Operand::None,
                        })),
                        other => parts.push(self.condition(field, "$eq", other)?),
                    }
                }
            }
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::And(parts)
        })
    }

    fn array_form(&self, a: &[Value]) -> Result<Filter, DataError> {
        if a.is_empty() {
            return Ok(Filter::And(vec![]));
        }
        if let Some(Value::String(head)) = a.first() {
            let lower = head.to_ascii_lowercase();
            if (lower == "and" || lower == "or")
                && a[1..].iter().all(|x| x.is_array() || x.is_object())
            {
                self.count(a.len())?;
                let subs = a[1..]
                    .iter()
                    .map(|x| self.any(x))
                    .collect::<Result<Vec<_>, _>>()?;
                return Ok(if lower == "and" {
                    Filter::And(subs)
                } else {
                    Filter::Or(subs)
                });
            }
            if lower == "not" && a.len() == 2 {
                return Ok(Filter::Not(Box::new(self.nested("not", &a[1])?)));
            }
            // ["field", op, value] or ["field", "is_null"]
            let op = a.get(1).and_then(Value::as_str).ok_or_else(|| {
                self.bad(format!(
                    "array filter {} must look like [\"field\", \"operator\", value]",
                    Value::Array(a.to_vec())
                ))
            })?;
            self.check_field(head)?;
            let operand = a.get(2).cloned().unwrap_or(Value::Null);
            if a.len() > 3 {
                return Err(self.bad(format!(
                    "array filter {} has more than three elements",
                    Value::Array(a.to_vec())
                )));
            }
            let mongo = array_operator(op)
                .ok_or_else(|| self.bad(format!("unknown filter operator '{op}'")))?;
            return match mongo {
                "$null_true" => Ok(Filter::Cond(Condition {
                    field: head.clone(),
                    op: Op::Null(true),
                    operand: Operand::None,
                })),
                "$null_false" => Ok(Filter::Cond(Condition {
                    field: head.clone(),
                    op: Op::Null(false),
                    operand: Operand::None,
                })),
                m => self.condition(head, m, &operand),
            };
        }
        // A plain list of comparisons means AND.
        self.count(a.len())?;
        let subs = a
            .iter()
            .map(|x| self.nested("a list of comparisons", x))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Filter::And(subs))
    }

    /// A filter inside another (`$not`, an item of `$and`/`$or` or of a list): an object, or a non-empty array
    /// (only the whole filter may be null or empty, meaning none).
    fn nested(&self, within: &str, v: &Value) -> Result<Filter, DataError> {
        match v {
            Value::Object(_) => self.any(v),
            Value::Array(a) if !a.is_empty() => self.any(v),
            other => Err(self.bad(format!(
                "each filter in '{within}' must be a JSON object or a non-empty array, found {other}"
            ))),
        }
    }

    fn check_field(&self, field: &str) -> Result<(), DataError> {
        match self.object.field(field) {
            None => Err(DataError::invalid_field(
                &self.object.name,
                field,
                format!(
                    "Query parameter '{}' filters on '{field}', which is not a field on object '{}'. A filter on a field that does not exist can only match zero records, so the query was refused instead of answered with an empty list.",
                    self.source, self.object.name
                ),
            )),
            Some(f) if f.storage.is_none() => Err(DataError::invalid_field(
                &self.object.name,
                field,
                format!(
                    "Query parameter '{src}' filters on '{field}', a virtual '{kind}' field on object '{o}'. Its value is computed on read and never stored, so no driver materializes a column to filter on: the predicate reaches the driver, matches nothing, and the query answers an empty list under a 200 — in BOTH directions, so a false test returns no records where the same test against a stored boolean returns every record. Denormalise the value onto '{o}' (a stored field, written when the source changes) and filter that.",
                    src = self.source,
                    kind = f.ftype.as_str(),
                    o = self.object.name
                ),
            )),
            Some(_) => Ok(()),
        }
    }

    /// One `field op operand` comparison, its operand checked against the field's stored type (a value the
    /// column cannot hold is the client's mistake, answered 400 here, not a database error later).
    fn condition(&self, field: &str, op: &str, operand: &Value) -> Result<Filter, DataError> {
        let filter = self.condition_parsed(field, op, operand)?;
        if let Filter::Cond(c) = &filter
            && matches!(
                c.op,
                Op::Eq
                    | Op::Ne
                    | Op::Gt
                    | Op::Gte
                    | Op::Lt
                    | Op::Lte
                    | Op::In
                    | Op::Nin
                    | Op::Between
            )
            && let Some(schema) = self.object.field(field)
        {
            let values: Vec<&Value> = match &c.operand {
                Operand::Value(v) => vec![v],
                Operand::List(items) => items.iter().collect(),
                Operand::Range(lo, hi) => vec![lo, hi],
                Operand::None | Operand::Field(_) => vec![],
            };
            for v in values {
                if let Some(expected) = mismatch(schema, v) {
                    return Err(
                        self.bad(format!("'{op}' on '{field}' needs {expected}, found {v}"))
                    );
                }
            }
        }
        Ok(filter)
    }

    fn condition_parsed(
        &self,
        field: &str,
        op: &str,
        operand: &Value,
    ) -> Result<Filter, DataError> {
        self.count(1)?;
        if let Value::Array(items) = operand
            && items.len() > limits::MAX_IN_VALUES
        {
            return Err(self.bad(format!(
                "'{op}' on '{field}' lists {} values, more than {} (limit MAX_IN_VALUES)",
                items.len(),
                limits::MAX_IN_VALUES
            )));
        }
        if !(operand.is_object() && operand.get("$field").is_some()) {
            self.check_value(field, operand)?;
        }
        let field = field.to_string();
        let value = |v: &Value| resolve_macros(v, self.ctx);
        let cond = |op: Op, operand: Operand| {
            Ok(Filter::Cond(Condition {
                field: field.clone(),
                op,
                operand,
            }))
        };
        let field_ref = |v: &Value| -> Option<String> {
            v.as_object()
                .and_then(|m| m.get("$field"))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let comparable = |op: Op| -> Result<Filter, DataError> {
            if let Some(other) = field_ref(operand) {
                self.check_field(&other)?;
                return cond(op, Operand::Field(other));
            }
            if operand.is_object() || operand.is_array() {
                return Err(self.bad(format!(
                    "operator on '{field}' needs a single value, found {operand}"
                )));
            }
            cond(op, Operand::Value(value(operand)))
        };
        let text = |op: Op| -> Result<Filter, DataError> {
            match operand {
                Value::String(_) | Value::Number(_) => cond(op, Operand::Value(value(operand))),
                other => Err(self.bad(format!(
                    "text operator on '{field}' needs a string, found {other}"
                ))),
            }
        };
        match op {
            "$eq" => {
                if operand.is_null() {
                    return cond(Op::Null(true), Operand::None);
                }
                if operand.is_array() {
                    return cond(Op::Eq, Operand::Value(value(operand)));
                }
                comparable(Op::Eq)
            }
            "$ne" => {
                if operand.is_null() {
                    return cond(Op::Null(false), Operand::None);
                }
                comparable(Op::Ne)
            }
            "$gt" => comparable(Op::Gt),
            "$gte" => comparable(Op::Gte),
            "$lt" => comparable(Op::Lt),
            "$lte" => comparable(Op::Lte),
            "$in" | "$nin" => {
                let items: Vec<Value> = match operand {
                    Value::Array(items) => items.iter().map(value).collect(),
                    // A comma list; a blank one lists nothing.
                    Value::String(s) if s.trim_matches([' ', '\t']).is_empty() => Vec::new(),
                    Value::String(s) => s
                        .split(',')
                        .map(|p| value(&Value::String(p.trim_matches([' ', '\t']).to_string())))
                        .collect(),
                    other => return Err(self.bad(format!("'{op}' on '{field}' needs an array, found {other}"))),
                };
                if items.len() > limits::MAX_IN_VALUES {
                    return Err(self.bad(format!(
                        "'{op}' on '{field}' lists {} values, more than {} (limit MAX_IN_VALUES)",
                        items.len(),
                        limits::MAX_IN_VALUES
                    )));
                }
                cond(if op == "$in" { Op::In } else { Op::Nin }, Operand::List(items))
            }
            "$between" => match operand.as_array().map(Vec::as_slice) {
                Some([lo, hi]) => cond(Op::Between, Operand::Range(value(lo), value(hi))),
                _ => Err(self.bad(format!("'$between' on '{field}' needs [low, high], found {operand}"))),
            },
            "$contains" => {
                if operand.is_string() || operand.is_number() {
                    cond(Op::Contains, Operand::Value(value(operand)))
                } else {
                    Err(self.bad(format!("'$contains' on '{field}' needs a value, found {operand}")))
                }
            }
            "$notContains" | "$ncontains" => text(Op::NotContains),
            "$startsWith" => text(Op::StartsWith),
            "$endsWith" => text(Op::EndsWith),
            "$icontains" => text(Op::IContains),
            "$like" => text(Op::Like),
            "$ilike" => text(Op::ILike),
            "$null" => match operand {
                Value::Bool(b) => cond(Op::Null(*b), Operand::None),
                other => Err(self.bad(format!("'$null' on '{field}' takes true or false, found {other}"))),
            },
            "$exists" => match operand {
                Value::Bool(b) => cond(Op::Null(!*b), Operand::None),
                other => Err(self.bad(format!("'$exists' on '{field}' takes true or false, found {other}"))),
            },
            "$regex" => Err(self.bad(crate::data::query::truncated(format!(
                "Filter operator \"$regex\" on field \"{field}\" is RETIRED and is no longer evaluated by this driver. Write \"$icontains\" instead. `$regex` was never declared by the Filter Protocol and is retired (#4706). It could not mean one thing across the backends: driver-sql compiled it to a LIKE-escaped substring match (so \"a.b\" matched only the literal \"a.b\"), driver-memory evaluated it as a real RegExp (so it also matched \"axb\", and an invalid pattern silently matched nothing), and a real regex is not implemented by every driver. Use $like, $contains, $icontains, $startsWith or $endsWith."
            )))),
            other => Err(self.bad(format!("unknown filter operator '{other}' on '{field}'"))),
        }
    }
}

/// What a field's column needs when `v` cannot be compared with it (`None` when it can).
fn mismatch(field: &crate::data::catalog::FieldSchema, v: &Value) -> Option<&'static str> {
    use crate::artifact::fields::StorageKind;
    use crate::data::values::{parse_date, parse_datetime};
    if v.is_null() {
        return None;
    }
    if v.is_array() && field.storage != Some(StorageKind::Json) {
        // Only a list column is compared with a whole list.
        return Some("a single value, not a list");
    }
    match field.storage? {
        StorageKind::Number(_) => match v {
            Value::Number(_) => None,
            Value::String(s) if crate::data::scalar::numeric_text(s).is_some() => None,
            _ => Some("a number"),
        },
        StorageKind::Date => (parse_date(v).is_none() && parse_datetime(v).is_none())
            .then_some("a date (YYYY-MM-DD) or a date macro"),
        StorageKind::DateTime => (parse_datetime(v).is_none() && parse_date(v).is_none())
            .then_some("a date-time (ISO 8601) or a date macro"),
        StorageKind::Boolean => match v {
            Value::Bool(_) | Value::Number(_) => None,
            Value::String(s) if matches!(s.as_str(), "true" | "false" | "1" | "0") => None,
            _ => Some("true or false"),
        },
        StorageKind::Text | StorageKind::Json => None,
    }
}

/// Array-form operator spellings → the object-form operator.
fn array_operator(op: &str) -> Option<&'static str> {
    Some(match op.to_ascii_lowercase().as_str() {
        "=" | "==" | "eq" | "equals" => "$eq",
        "!=" | "<>" | "ne" | "neq" => "$ne",
        ">" | "gt" | "after" => "$gt",
        ">=" | "gte" => "$gte",
        "<" | "lt" | "before" => "$lt",
        "<=" | "lte" => "$lte",
        "in" => "$in",
        "nin" | "not_in" | "notin" => "$nin",
        "contains" => "$contains",
        "not_contains" | "notcontains" => "$notContains",
        "like" => "$like",
        "ilike" => "$ilike",
        "icontains" => "$icontains",
        "starts_with" | "startswith" => "$startsWith",
        "ends_with" | "endswith" => "$endsWith",
        "between" => "$between",
        "is_null" | "is_empty" | "isnull" => "$null_true",
        "is_not_null" | "is_not_empty" | "isnotnull" => "$null_false",
        _ => return None,
    })
}

/// Replaces `{today}`, `{3_days_ago}`, `{current_user_id}`, … in a value (recursively in arrays).
pub fn resolve_macros(v: &Value, ctx: &MacroContext) -> Value {
    match v {
        Value::String(s) => match s.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
            Some(name) => resolve_macro(name, ctx).unwrap_or_else(|| v.clone()),
            None => v.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(|i| resolve_macros(i, ctx)).collect()),
        other => other.clone(),
    }
}

fn date_value(d: NaiveDate) -> Value {
    Value::String(d.format("%Y-%m-%d").to_string())
}

fn resolve_macro(name: &str, ctx: &MacroContext) -> Option<Value> {
    let today = ctx.now.date_naive();
    match name {
        "now" => return Some(Value::String(crate::data::values::format_datetime(ctx.now))),
        "today" => return Some(date_value(today)),
        "tomorrow" => return today.succ_opt().map(date_value),
        "yesterday" => return today.pred_opt().map(date_value),
        "current_user_id" | "current_user" => {
            return Some(
                ctx.user_id
                    .clone()
                    .map(Value::String)
                    .unwrap_or(Value::Null),
            );
        }
        "current_org_id" | "current_organization_id" => {
            return Some(
                ctx.organization_id
                    .clone()
                    .map(Value::String)
                    .unwrap_or(Value::Null),
            );
        }
        _ => {}
    }
    // {current|last|next}_{week|month|quarter|year}_{start|end}
    let parts: Vec<&str> = name.split('_').collect();
    if let [which, unit, edge] = parts.as_slice()
        && matches!(*edge, "start" | "end")
    {
        let shift: i32 = match *which {
            "current" | "this" => 0,
            "last" | "previous" => -1,
            "next" => 1,
            _ => return None,
        };
        let (start, end) = period(today, unit, shift)?;
        return Some(date_value(if *edge == "start" { start } else { end }));
    }
    // {N}_{days|weeks|months|years}_{ago|from_now}
    if parts.len() >= 3 {
        let n: i64 = parts[0].parse().ok()?;
        let unit = parts[1];
        let direction = parts[2..].join("_");
        let sign = match direction.as_str() {
            "ago" => -1,
            "from_now" | "later" | "ahead" => 1,
            _ => return None,
        };
        let d = shift_date(today, unit, n.checked_mul(sign)?)?;
        return Some(date_value(d));
    }
    None
}

/// `d` shifted by `n` units; `None` (the macro stays unresolved) when the date would leave chrono's range.
fn shift_date(d: NaiveDate, unit: &str, n: i64) -> Option<NaiveDate> {
    match unit.trim_end_matches('s') {
        "day" => d.checked_add_signed(Duration::try_days(n)?),
        "week" => d.checked_add_signed(Duration::try_weeks(n)?),
        "month" => shift_months(d, n),
        "year" => shift_months(d, n.checked_mul(12)?),
        _ => None,
    }
}

fn shift_months(d: NaiveDate, n: i64) -> Option<NaiveDate> {
    let months = Months::new(u32::try_from(n.unsigned_abs()).ok()?);
    if n >= 0 {
        d.checked_add_months(months)
    } else {
        d.checked_sub_months(months)
    }
}

/// First and last day of the week (Monday first), month, quarter or year containing `today`, shifted by `shift` periods.
fn period(today: NaiveDate, unit: &str, shift: i32) -> Option<(NaiveDate, NaiveDate)> {
    match unit {
        "week" => {
            let monday = today
                .checked_sub_signed(Duration::days(today.weekday().num_days_from_monday() as i64))?
                .checked_add_signed(Duration::try_weeks(shift as i64)?)?;
            Some((monday, monday.checked_add_signed(Duration::days(6))?))
        }
        "month" | "quarter" | "year" => {
            let months = match unit {
                "month" => 1,
                "quarter" => 3,
                _ => 12,
            };
            let first_month = (today.month0() / months) * months;
            let start = NaiveDate::from_ymd_opt(today.year(), first_month + 1, 1)?;
            let start = shift_months(start, shift as i64 * months as i64)?;
            let end = shift_months(start, months as i64)?.pred_opt()?;
            Some((start, end))
        }
        _ => None,
    }
}
