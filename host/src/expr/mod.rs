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
        other => {
            return Err(format!(
                "a CEL value of type {:?} has no JSON form",
                other.type_of()
            ));
        }
    })
}
