//! Field values: coercion of incoming JSON to the stored form, with the real server's error codes and shapes.

use crate::artifact::fields::{FieldType, StorageKind};
use crate::data::catalog::FieldSchema;
use crate::data::error::FieldError;
use chrono::NaiveTime;
use serde_json::{Value, json};

pub use super::scalar::{
    AutonumberFormat, format_datetime, now_iso, number_value, parse_date, parse_datetime,
    round_to_scale,
};

/// A value bound to a SQL parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

/// The stored form of a normalized JSON value in a column of `storage` kind.
pub fn to_sql(storage: StorageKind, v: &Value) -> SqlValue {
    match (storage, v) {
        (_, Value::Null) => SqlValue::Null,
        (StorageKind::Json, v) => SqlValue::Text(v.to_string()),
        (StorageKind::Boolean, Value::Bool(b)) => SqlValue::Bool(*b),
        (StorageKind::Number(_), Value::Number(n)) => SqlValue::Float(n.as_f64().unwrap_or(0.0)),
        (_, Value::String(s)) => SqlValue::Text(s.clone()),
        (_, Value::Bool(b)) => SqlValue::Bool(*b),
        (_, Value::Number(n)) => match n.as_i64() {
            Some(i) => SqlValue::Int(i),
            None => SqlValue::Float(n.as_f64().unwrap_or(0.0)),
        },
        (_, other) => SqlValue::Text(other.to_string()),
    }
}

fn fmt_bound(f: f64) -> String {
    number_value(f).to_string()
}

/// True when a value counts as "not given" for `required` (null, blank text, empty list).
pub fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Coerces one incoming value into its normalized stored form, or says precisely why it is refused.
/// `null` passes through (required-ness is checked by the caller, which knows insert from update).
pub fn coerce(field: &FieldSchema, value: &Value) -> Result<Value, FieldError> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let label = field.label.as_str();
    let err =
        |code: &'static str, message: String| FieldError::new(&field.name, label, code, message);
    use FieldType::*;
    match field.ftype {
        Number | Currency | Percent | Rating | Slider | Progress => {
            let n = match value {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
                _ => None,
            }
            .ok_or_else(|| err("invalid_number", format!("{label} must be a number")))?;
            if let Some(min) = field.min
                && n < min
            {
                return Err(
                    err("min_value", format!("{label} must be ≥ {}", fmt_bound(min)))
                        .with_constraint(json!({ "min": number_value(min) })),
                );
            }
            if let Some(max) = field.max
                && n > max
            {
                return Err(
                    err("max_value", format!("{label} must be ≤ {}", fmt_bound(max)))
                        .with_constraint(json!({ "max": number_value(max) })),
                );
            }
            let n = match field.scale {
                Some(s) => round_to_scale(n, s),
                None => n,
            };
            Ok(number_value(n))
        }
        Boolean | Toggle => match value {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::String(s) if matches!(s.as_str(), "true" | "1") => Ok(Value::Bool(true)),
            Value::String(s) if matches!(s.as_str(), "false" | "0") => Ok(Value::Bool(false)),
            Value::Number(n) if n.as_i64() == Some(1) => Ok(Value::Bool(true)),
            Value::Number(n) if n.as_i64() == Some(0) => Ok(Value::Bool(false)),
            _ => Err(err(
                "invalid_boolean",
                format!("{label} must be true or false"),
            )),
        },
        Date => parse_date(value)
            .map(|d| Value::String(d.format("%Y-%m-%d").to_string()))
            .ok_or_else(|| {
                err(
                    "invalid_date",
                    format!("{label} must be a valid date (ISO-8601)"),
                )
                .with_constraint(json!({"type": "date"}))
            }),
        Datetime => parse_datetime(value)
            .map(|d| Value::String(format_datetime(d)))
            .ok_or_else(|| {
                err(
                    "invalid_date",
                    format!("{label} must be a valid date-time (ISO-8601)"),
                )
                .with_constraint(json!({"type": "datetime"}))
            }),
        Time => {
            let s = value.as_str().unwrap_or("").trim();
            NaiveTime::parse_from_str(s, "%H:%M:%S%.f")
                .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
                .map(|t| Value::String(t.format("%H:%M:%S").to_string()))
                .map_err(|_| {
                    err(
                        "invalid_time",
                        format!("{label} must be a valid time (HH:MM or HH:MM:SS)"),
                    )
                })
        }
        Select | Radio if !field.multiple => {
            let s = scalar_text(value).ok_or_else(|| invalid_option(field))?;
            if field.options.contains(&s) {
                Ok(Value::String(s))
            } else {
                Err(invalid_option(field))
            }
        }
        Select | Radio | Multiselect | Checkboxes => {
            let items = list_of_text(value).ok_or_else(|| invalid_option(field))?;
            if items.iter().all(|s| field.options.iter().any(|o| o == s)) {
                Ok(Value::from(items))
            } else {
                Err(invalid_option(field))
            }
        }
        Tags => list_of_text(value).map(Value::from).ok_or_else(|| {
            err(
                "invalid_type",
                format!("{label} must be a list of text values"),
            )
        }),
        Lookup | MasterDetail | Tree | User => {
            if field.multiple {
                let ids: Option<Vec<String>> = match value {
                    Value::Array(items) => items.iter().map(reference_id).collect(),
                    v => reference_id(v).map(|id| vec![id]),
                };
                ids.map(Value::from).ok_or_else(|| {
                    err(
                        "invalid_reference",
                        format!("{label} must be a list of record ids"),
                    )
                })
            } else {
                reference_id(value)
                    .map(Value::String)
                    .ok_or_else(|| err("invalid_reference", format!("{label} must be a record id")))
            }
        }
        Email => {
            let s = text_value(field, value)?;
            if is_email(&s) {
                Ok(Value::String(s))
            } else {
                Err(err(
                    "invalid_email",
                    format!("{label} must be a valid email address"),
                ))
            }
        }
        Url => {
            let s = text_value(field, value)?;
            match url::Url::parse(&s) {
                Ok(u) if u.has_host() || u.scheme() == "mailto" => Ok(Value::String(s)),
                _ => Err(err("invalid_url", format!("{label} must be a valid URL"))),
            }
        }
        Vector => {
            let nums: Option<Vec<f64>> = value
                .as_array()
                .map(|a| a.iter().map(Value::as_f64).collect())
                .unwrap_or(None);
            match nums {
                // `dimensions` is not enforced: the protocol's own showcase seeds a 4-number vector into a
                // 1536-dimension field, and the real server accepts it.
                Some(_) => Ok(value.clone()),
                None => Err(err(
                    "invalid_vector",
                    format!("{label} must be a list of numbers"),
                )),
            }
        }
        Json | Composite | Repeater | Record | Location | Address | Image | File | Avatar
        | Video | Audio => Ok(value.clone()),
        Formula | Summary | Autonumber => Err(err(
            "readonly",
            format!("{label} is computed and cannot be written"),
        )),
        Text | Textarea | Phone | Password | Secret | Markdown | Html | Richtext | Code | Color
        | Signature | Qrcode => Ok(Value::String(text_value(field, value)?)),
    }
}

fn invalid_option(field: &FieldSchema) -> FieldError {
    let allowed = field.options.join(", ");
    let mut e = FieldError::new(
        &field.name,
        &field.label,
        "invalid_option",
        format!("{} must be one of: {allowed}", field.label),
    )
    .with_constraint(json!({ "allowed": allowed }));
    e.options = Some(Box::new(field.options.clone()));
    e
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn list_of_text(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Array(items) => items.iter().map(scalar_text).collect(),
        Value::String(s) => Some(
            s.split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect(),
        ),
        _ => None,
    }
}

fn reference_id(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(m) => m.get("id").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// Text values, with length limits. Numbers and booleans are accepted and written as text.
fn text_value(field: &FieldSchema, value: &Value) -> Result<String, FieldError> {
    let label = field.label.as_str();
    let s = scalar_text(value).ok_or_else(|| {
        FieldError::new(
            &field.name,
            label,
            "invalid_type",
            format!("{label} must be text"),
        )
    })?;
    let len = s.chars().count();
    if let Some(max) = field.max_length
        && len > max
    {
        return Err(FieldError::new(
            &field.name,
            label,
            "max_length",
            format!("{label} must be ≤ {max} characters (got {len})"),
        )
        .with_constraint(json!({ "maxLength": max, "actual": len })));
    }
    if let Some(min) = field.min_length
        && len < min
        && len > 0
    {
        return Err(FieldError::new(
            &field.name,
            label,
            "min_length",
            format!("{label} must be ≥ {min} characters (got {len})"),
        )
        .with_constraint(json!({ "minLength": min, "actual": len })));
    }
    Ok(s)
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !local.contains(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains(['@', ' '])
}
