//! Field values: coercion of incoming JSON to the stored form, with the real server's error codes and shapes.

use crate::artifact::fields::{FieldType, StorageKind};
use crate::data::catalog::FieldSchema;
use crate::data::error::FieldError;
use crate::data::limits;
use crate::data::shapes;
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
            // A progress value is not held to its bounds (101 of 100 is stored), as on the real server.
            if let Some(min) = field.min
                && n < min
                && field.ftype != Progress
            {
                return Err(
                    err("min_value", format!("{label} must be ≥ {}", fmt_bound(min)))
                        .with_constraint(json!({ "min": number_value(min) })),
                );
            }
            if let Some(max) = field.max
                && n > max
                && field.ftype != Progress
            {
                return Err(
                    err("max_value", format!("{label} must be ≤ {}", fmt_bound(max)))
                        .with_constraint(json!({ "max": number_value(max) })),
                );
            }
            // More fraction digits than the field's scale are refused, never rounded away.
            if let Some(scale) = field.scale {
                let actual = decimal_places(n);
                if actual > scale {
                    return Err(err(
                        "max_scale",
                        format!("{label} must have at most {scale} decimal places (got {actual})"),
                    )
                    .with_constraint(json!({ "scale": scale, "actual": actual })));
                }
            }
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
                    format!("{label} must be a valid datetime (ISO-8601)"),
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
            // Without declared options the value is free-form.
            if field.options.is_empty() || field.options.contains(&s) {
                Ok(Value::String(s))
            } else {
                Err(invalid_option(field))
            }
        }
        Select | Radio | Multiselect | Checkboxes | Tags => {
            // A lone value is a list of one (`"a,b"` is the one tag "a,b").
            let items: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                Value::String(_) | Value::Number(_) | Value::Bool(_) => vec![value],
                _ => {
                    return Err(err(
                        "invalid_type",
                        format!("{label} must be an array of values"),
                    ));
                }
            };
            if items.len() > limits::MAX_LIST_ITEMS {
                return Err(err(
                    "too_many_items",
                    format!(
                        "{label} holds {} values, more than {} (limit MAX_LIST_ITEMS)",
                        items.len(),
                        limits::MAX_LIST_ITEMS
                    ),
                ));
            }
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match scalar_text(item) {
                    Some(s) if s.chars().count() > limits::MAX_VALUE_CHARS => {
                        return Err(err(
                            "max_length",
                            format!(
                                "{label}: a value is longer than {} characters (limit MAX_VALUE_CHARS)",
                                limits::MAX_VALUE_CHARS
                            ),
                        ));
                    }
                    Some(s) if field.options.is_empty() || field.options.contains(&s) => {
                        out.push(Value::String(s))
                    }
                    Some(s) => return Err(invalid_option_value(field, s)),
                    None if field.options.is_empty() => {
                        return Err(err(
                            "invalid_type",
                            format!("{label} must be an array of values"),
                        ));
                    }
                    None => return Err(invalid_option_value(field, item.to_string())),
                }
            }
            Ok(Value::Array(out))
        }
        Lookup | MasterDetail | Tree | User => {
            if field.multiple {
                if value
                    .as_array()
                    .is_some_and(|a| a.len() > limits::MAX_LIST_ITEMS)
                {
                    return Err(err(
                        "too_many_items",
                        format!(
                            "{label} names more than {} records (limit MAX_LIST_ITEMS)",
                            limits::MAX_LIST_ITEMS
                        ),
                    ));
                }
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
            if is_url(&s) {
                Ok(Value::String(s))
            } else {
                Err(err(
                    "invalid_url",
                    format!("{label} must be a valid URL (scheme://...)"),
                ))
            }
        }
        Phone => {
            let s = text_value(field, value)?;
            if is_phone(&s) {
                Ok(Value::String(s))
            } else {
                Err(err(
                    "invalid_phone",
                    format!("{label} must be a valid phone number"),
                ))
            }
        }
        Vector => shaped(field, value, shapes::vector),
        Composite | Record => shaped(field, value, shapes::record),
        Repeater => shaped(field, value, shapes::repeater),
        Location => shaped(field, value, shapes::location),
        Address => shaped(field, value, shapes::address),
        Image | File | Avatar | Video | Audio if field.multiple => match value {
            Value::Array(_) => Ok(value.clone()),
            Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(json!([value])),
            _ => Err(err(
                "invalid_type",
                format!("{label} must be an array of values"),
            )),
        },
        Image | File | Avatar | Video | Audio => shaped(field, value, shapes::file_id),
        Json => Ok(value.clone()),
        // A code field holds a JSON payload as its text when given one.
        Code if value.is_object() || value.is_array() => Ok(Value::String(text_value(
            field,
            &Value::String(value.to_string()),
        )?)),
        Formula | Summary | Autonumber => Err(err(
            "readonly",
            format!("{label} is computed and cannot be written"),
        )),
        Text | Textarea | Password | Secret | Markdown | Html | Richtext | Code | Color
        | Signature | Qrcode => Ok(Value::String(text_value(field, value)?)),
    }
}

/// A caller's value as a before-hook gets it: in the JSON kind of its field (a number or a boolean sent to a
/// text field as its text, a numeric text sent to a number field as the number, a lone value of a list field
/// as a list of one, a `{id}` object of a lookup as the id), or the caller's error when the field can never
/// hold it (an object or a list for a text, date or number, a boolean for an e-mail address, a date that is
/// not ISO-8601). Values of the right kind with the wrong content (an unknown option, a text too long) go
/// through as sent: a hook may still normalize them, and the full check runs on what the hooks leave.
pub fn caller_value(field: &FieldSchema, value: &Value) -> Result<Value, FieldError> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    use FieldType::*;
    let kind = |v: &Value| std::mem::discriminant(v);
    let list = field.multiple || field.ftype.is_list();
    let holds_structure = list
        || matches!(
            field.ftype,
            Json | Composite | Record | Repeater | Location | Address | Vector | Code
        );
    match coerce(field, value) {
        // A list's items in their kind too (`[0]` for tags as `["0"]`).
        Ok(c) if list => Ok(c),
        Ok(c) if kind(&c) == kind(value) => Ok(value.clone()),
        Ok(c) => Ok(c),
        Err(e) => {
            let wrong_kind = matches!(
                e.code,
                "invalid_type"
                    | "invalid_number"
                    | "invalid_boolean"
                    | "invalid_reference"
                    | "invalid_date"
                    | "invalid_time"
            ) || (!holds_structure
                && matches!(value, Value::Bool(_) | Value::Array(_) | Value::Object(_)));
            if wrong_kind {
                return Err(e);
            }
            // The right kind, content refused (for now): still in the field's kind, for the hooks.
            Ok(match value {
                // A list whose items are refused (not among the options): its scalar items as text still.
                Value::Array(items) if list => Value::Array(
                    items
                        .iter()
                        .map(|i| match i {
                            Value::Number(_) | Value::Bool(_) => Value::String(value_text(i)),
                            other => other.clone(),
                        })
                        .collect(),
                ),
                Value::Number(_) | Value::Bool(_) if list => json!([value_text(value)]),
                Value::String(_) if list => json!([value]),
                Value::Number(_) | Value::Bool(_) if field.storage == Some(StorageKind::Text) => {
                    Value::String(value_text(value))
                }
                _ => value.clone(),
            })
        }
    }
}

fn value_text(v: &Value) -> String {
    scalar_text(v).unwrap_or_default()
}

/// A structured value checked against its shape: `<Label> has an invalid <type> value: <detail>`.
fn shaped(
    field: &FieldSchema,
    value: &Value,
    check: fn(&Value) -> Result<(), String>,
) -> Result<Value, FieldError> {
    check(value).map(|()| value.clone()).map_err(|detail| {
        let kind = field.ftype.as_str();
        FieldError::new(
            &field.name,
            &field.label,
            "invalid_type",
            format!("{} has an invalid {kind} value: {detail}", field.label),
        )
        .with_constraint(json!({ "type": kind, "detail": detail }))
    })
}

/// Fraction digits of a number as its shortest decimal spelling has them (`1.234` has 3, `1e-7` has 7).
fn decimal_places(n: f64) -> u32 {
    let text = format!("{}", n.abs());
    text.split_once('.')
        .map_or(0, |(_, frac)| frac.len() as u32)
}

/// One list item that is not an option: `Tags: "nope" is not one of: a, b`.
fn invalid_option_value(field: &FieldSchema, item: String) -> FieldError {
    let mut e = invalid_option(field);
    e.message = format!(
        "{}: \"{item}\" is not one of: {}",
        field.label,
        field.options.join(", ")
    );
    e.value = Some(Box::new(Value::String(item)));
    e
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

fn reference_id(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(m) => m.get("id").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// Whether `field` declares a length a number's text could break (a JSON number's text is at most 24
/// characters): such a text takes a number only when it is a whole number below 10^18 in size, whose text
/// is its digits, so a client (and the OpenAPI document) can tell from the number alone whether it fits.
pub fn length_bounded_text(field: &FieldSchema) -> bool {
    field.max_length.is_some_and(|m| m < 24) || field.min_length.is_some_and(|m| m > 1)
}

/// Text values, with length limits. Numbers and booleans are accepted and written as text.
fn text_value(field: &FieldSchema, value: &Value) -> Result<String, FieldError> {
    let label = field.label.as_str();
    // A whole number is written as its digits, however the JSON spelled it (`5.0` is `5`).
    let whole: Option<i128> = match value {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18)
                    .map(|f| f as i128)
            }),
        _ => None,
    };
    if value.is_number()
        && length_bounded_text(field)
        && whole.is_none_or(|w| w.abs() >= 10i128.pow(18))
    {
        return Err(FieldError::new(
            &field.name,
            label,
            "invalid_type",
            format!("{label} must be text (a number only as a whole number)"),
        ));
    }
    let s = whole
        .map(|w| w.to_string())
        .or_else(|| scalar_text(value))
        .ok_or_else(|| {
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

/// `^[^\s@]+@[^\s@.]+(?:\.[^\s@.]+)+$`, the real server's test.
fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let plain = |c: char| !c.is_whitespace() && c != '@';
    let labels: Vec<&str> = domain.split('.').collect();
    !local.is_empty()
        && local.chars().all(plain)
        && labels.len() >= 2
        && labels.iter().all(|l| !l.is_empty() && l.chars().all(plain))
}

/// `^(?:[a-z][a-z0-9+.-]*://\S+|/\S*|data:\S+|blob:\S+)$` (case-insensitive), the real server's test.
fn is_url(s: &str) -> bool {
    if s.is_empty() || s.chars().any(char::is_whitespace) {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    if s.starts_with('/') {
        return true;
    }
    if let Some(rest) = lower
        .strip_prefix("data:")
        .or_else(|| lower.strip_prefix("blob:"))
        && !rest.is_empty()
    {
        return true;
    }
    match lower.split_once("://") {
        Some((scheme, rest)) => {
            !rest.is_empty()
                && scheme.starts_with(|c: char| c.is_ascii_lowercase())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+.-".contains(c))
        }
        None => false,
    }
}

/// `^[+()\-\s\d.]{5,}$`, the real server's test, over ASCII (digits and white space of other scripts are
/// no phone number's).
fn is_phone(s: &str) -> bool {
    s.chars().count() >= 5
        && s.chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_whitespace() || "+()-.".contains(c))
}
