//! JSON scalars as the wire and the store spell them: instants (`2026-11-22T01:59:04.453Z`), dates, numbers,
//! and autonumber formats. A leaf: the query layer, CEL and artifact validation all read these, and it reads
//! nothing of theirs.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

/// A number written as text where a filter compares a number column (`"12"`, `" -1.5e3 "`): up to 20 digits
/// before and after the point, an exponent of at most two digits (so every such text is a finite number), spaces
/// or tabs around it. The OpenAPI document publishes this very pattern.
pub const NUMERIC_TEXT: &str =
    r"^[ \t]*[+-]?([0-9]{1,20}(\.[0-9]{0,20})?|\.[0-9]{1,20})([eE][+-]?[0-9]{1,2})?[ \t]*$";

/// The number a [`NUMERIC_TEXT`] spells, `None` for any other text.
pub fn numeric_text(s: &str) -> Option<f64> {
    static PATTERN: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(NUMERIC_TEXT).unwrap_or_else(|_| regex::Regex::new("^$").expect("empty"))
    });
    if !PATTERN.is_match(s) {
        return None;
    }
    s.trim_matches([' ', '\t'])
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
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
        // Milliseconds since 1970-01-01 UTC (a whole number, written as an integer or not), years 1 to 9999.
        Value::Number(n) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 1e16)
                    .map(|f| f as i64)
            })
            .and_then(DateTime::from_timestamp_millis)
            .filter(|d| (1..=9999).contains(&d.year())),
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

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
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
