//! CEL expressions (cel-interpreter) with the ObjectStack stdlib.
//!
//! This build evaluates expressions that need no record scope — seed values and defaults such as
//! `daysAgo(3) + duration("6h20m")`. Record-scoped evaluation (formulas, validation rules, RLS) is the
//! security-kernel issue's and is not built yet.

use cel_interpreter::{Context, ExecutionError, Program, Value as CelValue};
use chrono::{DateTime, Duration, FixedOffset, Utc};
use serde_json::Value;

/// Longest expression accepted (a bound on parse work).
pub const MAX_EXPRESSION_LEN: usize = 4096;

fn at_offset(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.fixed_offset()
}

/// The stdlib functions that need only the clock.
fn clock_context(now: DateTime<Utc>) -> Context<'static> {
    let mut ctx = Context::default();
    let today = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc())
        .unwrap_or(now);
    let ts = |t: DateTime<Utc>| -> Result<CelValue, ExecutionError> {
        Ok(CelValue::Timestamp(at_offset(t)))
    };
    ctx.add_function("now", move || ts(now));
    ctx.add_function("today", move || ts(today));
    ctx.add_function("daysAgo", move |n: i64| ts(now - Duration::days(n)));
    ctx.add_function("daysFromNow", move |n: i64| ts(now + Duration::days(n)));
    ctx.add_function("upper", |s: std::sync::Arc<String>| s.to_uppercase());
    ctx.add_function("lower", |s: std::sync::Arc<String>| s.to_lowercase());
    ctx.add_function("trim", |s: std::sync::Arc<String>| s.trim().to_string());
    ctx
}

/// Evaluates a scope-free expression to JSON (timestamps become ISO-8601 text).
pub fn evaluate_constant(source: &str, now: DateTime<Utc>) -> Result<Value, String> {
    if source.len() > MAX_EXPRESSION_LEN {
        return Err(format!(
            "expression is longer than {MAX_EXPRESSION_LEN} characters"
        ));
    }
    let program =
        Program::compile(source).map_err(|e| format!("cannot parse CEL `{source}`: {e}"))?;
    let ctx = clock_context(now);
    let value = program
        .execute(&ctx)
        .map_err(|e| format!("cannot evaluate CEL `{source}`: {e}"))?;
    to_json(&value)
}

/// Whether a JSON value is an expression object `{dialect: "cel", source}`; returns its source.
pub fn expression_source(v: &Value) -> Option<&str> {
    let o = v.as_object()?;
    match o.get("dialect").and_then(Value::as_str) {
        Some("cel") | None => o.get("source").and_then(Value::as_str),
        Some(_) => None,
    }
}

fn to_json(v: &CelValue) -> Result<Value, String> {
    Ok(match v {
        CelValue::Null => Value::Null,
        CelValue::Bool(b) => Value::Bool(*b),
        CelValue::Int(i) => Value::from(*i),
        CelValue::UInt(u) => Value::from(*u),
        CelValue::Float(f) => crate::data::values::number_value(*f),
        CelValue::String(s) => Value::String(s.to_string()),
        CelValue::Timestamp(t) => {
            Value::String(crate::data::values::format_datetime(t.with_timezone(&Utc)))
        }
        CelValue::Duration(d) => Value::from(d.num_milliseconds()),
        CelValue::List(items) => Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        CelValue::Map(map) => {
            // Sorted keys: the same expression always gives the same JSON.
            let mut entries: Vec<(String, Value)> = map
                .map
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        cel_interpreter::objects::Key::String(s) => s.to_string(),
                        cel_interpreter::objects::Key::Int(i) => i.to_string(),
                        cel_interpreter::objects::Key::Uint(u) => u.to_string(),
                        cel_interpreter::objects::Key::Bool(b) => b.to_string(),
                    };
                    to_json(v).map(|v| (key, v))
                })
                .collect::<Result<_, _>>()?;
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().collect())
        }
        other => {
            return Err(format!(
                "a CEL value of type {:?} has no JSON form",
                other.type_of()
            ));
        }
    })
}

/// A compiled record-scoped expression (a formula field).
pub struct Compiled {
    program: Program,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Compiled(CEL)")
    }
}

pub fn compile(source: &str) -> Result<Compiled, String> {
    if source.len() > MAX_EXPRESSION_LEN {
        return Err(format!(
            "expression is longer than {MAX_EXPRESSION_LEN} characters"
        ));
    }
    Program::compile(source)
        .map(|program| Compiled { program })
        .map_err(|e| format!("cannot parse CEL `{source}`: {e}"))
}

fn to_cel(v: &Value) -> CelValue {
    match v {
        Value::Null => CelValue::Null,
        Value::Bool(b) => CelValue::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => CelValue::Int(i),
            None => CelValue::Float(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => CelValue::String(std::sync::Arc::new(s.clone())),
        Value::Array(items) => {
            CelValue::List(std::sync::Arc::new(items.iter().map(to_cel).collect()))
        }
        Value::Object(m) => {
            let map: std::collections::HashMap<String, CelValue> =
                m.iter().map(|(k, v)| (k.clone(), to_cel(v))).collect();
            CelValue::from(map)
        }
    }
}

impl Compiled {
    /// Evaluates with the record in scope as `record` (and, for artifacts written before protocol 17, each
    /// field by its bare name).
    pub fn evaluate_on(
        &self,
        record: &serde_json::Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<Value, String> {
        self.evaluate_in(record, &[], now)
    }

    /// Evaluates with the record in scope (as `record` and by bare field names) plus other named roots
    /// (`previous`, `user`, `params`, …).
    pub fn evaluate_in(
        &self,
        record: &serde_json::Map<String, Value>,
        roots: &[(&str, &Value)],
        now: DateTime<Utc>,
    ) -> Result<Value, String> {
        let mut ctx = clock_context(now);
        for (k, v) in record {
            ctx.add_variable_from_value(k.clone(), to_cel(v));
        }
        ctx.add_variable_from_value("record", to_cel(&Value::Object(record.clone())));
        for (name, v) in roots {
            ctx.add_variable_from_value(name.to_string(), to_cel(v));
        }
        let value = self.program.execute(&ctx).map_err(|e| e.to_string())?;
        to_json(&value)
    }
}
