//! Field values: coercion of incoming JSON to the stored form, with the real server's error codes and shapes.

use crate::artifact::fields::{FieldType, StorageKind};
use crate::data::catalog::FieldSchema;
use crate::data::error::FieldError;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

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

/// A JSON number from a float: integral values print without a fraction (`186`, not `186.0`), as the wire does.
pub fn number_value(f: f64) -> Value {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 {
        Value::from(f as i64)
    } else {
        serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

/// Rounds half away from zero to `scale` fraction digits on the number's shortest decimal text, so
/// 10627.289999999999 becomes 10627.29 and 10.005 becomes 10.01 (binary rounding would give 10.00).
pub fn round_to_scale(f: f64, scale: u32) -> f64 {
    if !f.is_finite() {
        return f;
    }
    let text = format!("{}", f.abs());
    let Some((int_part, frac_part)) = text.split_once('.') else {
        return f;
    };
    if frac_part.len() <= scale as usize || text.contains('e') {
        return f;
    }
    let kept = &frac_part[..scale as usize];
    let round_up = frac_part.as_bytes()[scale as usize] >= b'5';
    let mut digits: Vec<u8> = format!("{int_part}{kept}").into_bytes();
    if round_up {
        let mut i = digits.len();
        loop {
            if i == 0 {
                digits.insert(0, b'1');
                break;
            }
            i -= 1;
            if digits[i] == b'9' {
                digits[i] = b'0';
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    let digits = String::from_utf8(digits).unwrap_or_default();
    let split = digits.len() - scale as usize;
    let rounded: f64 = format!("{}.{}", &digits[..split], &digits[split..])
        .parse()
        .unwrap_or(f);
    if f < 0.0 { -rounded } else { rounded }
}

/// Formats a bound like the real server's messages: `0`, not `0.0`.
fn fmt_bound(f: f64) -> String {
    number_value(f).to_string()
}

/// Now, as the wire writes timestamps: `2026-11-22T01:59:04.453Z`.
pub fn now_iso() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn format_datetime(dt: DateTime<Utc>) -> String {
    dt.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses the date-time spellings clients send: RFC 3339, naive ISO (taken as UTC), a bare date, epoch millis.
pub fn parse_datetime(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::Number(n) => n.as_i64().and_then(DateTime::from_timestamp_millis),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
                return Some(dt.with_timezone(&Utc));
            }
            for fmt in [
                "%Y-%m-%dT%H:%M:%S%.f",
                "%Y-%m-%d %H:%M:%S%.f",
                "%Y-%m-%dT%H:%M",
            ] {
                if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
                    return Some(n.and_utc());
                }
            }
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|n| n.and_utc())
        }
        _ => None,
    }
}

pub fn parse_date(v: &Value) -> Option<NaiveDate> {
    match v {
        Value::String(s) => {
            let s = s.trim();
            NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().or_else(|| {
                parse_datetime(v)
                    .map(|d| d.date_naive())
                    .filter(|_| s.len() > 10)
            })
        }
        Value::Number(_) => parse_datetime(v).map(|d| d.date_naive()),
        _ => None,
    }
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

/// An autonumber format such as `AD{YYYYMMDD}{0000}` or `INV-{field}-{000}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutonumberFormat {
    segments: Vec<Segment>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Counter(usize),
    Date(String),
    Field(String),
}

impl AutonumberFormat {
    pub fn parse(format: &str) -> Result<AutonumberFormat, String> {
        let mut segments = Vec::new();
        let mut rest = format;
        let mut counters = 0;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                segments.push(Segment::Literal(rest[..open].to_string()));
            }
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| format!("unclosed '{{' in autonumber format \"{format}\""))?
                + open;
            let token = &rest[open + 1..close];
            if !token.is_empty() && token.chars().all(|c| c == '0') {
                counters += 1;
                segments.push(Segment::Counter(token.len()));
            } else if !token.is_empty() && token.chars().all(|c| matches!(c, 'Y' | 'M' | 'D')) {
                segments.push(Segment::Date(token.to_string()));
            } else if crate::artifact::fields::is_valid_identifier(token) {
                segments.push(Segment::Field(token.to_string()));
            } else {
                return Err(format!(
                    "unknown token {{{token}}} in autonumber format \"{format}\""
                ));
            }
            rest = &rest[close + 1..];
        }
        if rest.contains('}') {
            return Err(format!("unopened '}}' in autonumber format \"{format}\""));
        }
        if !rest.is_empty() {
            segments.push(Segment::Literal(rest.to_string()));
        }
        if counters != 1 {
            return Err(format!(
                "autonumber format \"{format}\" needs exactly one counter such as {{0000}}"
            ));
        }
        Ok(AutonumberFormat { segments })
    }

    pub fn render(&self, counter: i64, now: DateTime<Utc>, record: &Map<String, Value>) -> String {
        let mut out = String::new();
        for s in &self.segments {
            match s {
                Segment::Literal(l) => out.push_str(l),
                Segment::Counter(w) => out.push_str(&format!("{counter:0w$}")),
                Segment::Date(p) => {
                    let chrono_fmt = p
                        .replace("YYYY", "%Y")
                        .replace("YY", "%y")
                        .replace("MM", "%m")
                        .replace("DD", "%d");
                    out.push_str(&now.format(&chrono_fmt).to_string());
                }
                Segment::Field(f) => {
                    if let Some(v) = record.get(f) {
                        out.push_str(&scalar_text(v).unwrap_or_default());
                    }
                }
            }
        }
        out
    }
}
