//! Compares one of our answers with the real server's recorded one, under the suite's masks: ids are paired
//! (the real server's id with ours, the first time both are seen at one place), date-times compare by format,
//! tokens by kind, and a call's `ignore` paths by kind. Everything else must be equal.

use serde_json::Value;
use std::collections::HashMap;

/// The id pairs learned so far in one replay.
#[derive(Default)]
pub struct Ids {
    real_to_ours: HashMap<String, String>,
    ours_to_real: HashMap<String, String>,
}

impl Ids {
    fn pair(&mut self, real: &str, ours: &str) {
        self.real_to_ours.insert(real.to_string(), ours.to_string());
        self.ours_to_real.insert(ours.to_string(), real.to_string());
    }

    /// `real` with every known real id replaced by our partner (for ids inside messages).
    fn translate(&self, real: &str) -> String {
        let mut out = real.to_string();
        // Longest first, so an id that contains another is replaced whole.
        let mut ids: Vec<(&String, &String)> = self.real_to_ours.iter().collect();
        ids.sort_by_key(|(r, _)| std::cmp::Reverse(r.len()));
        for (r, o) in ids {
            if r.len() >= 8 && out.contains(r.as_str()) {
                out = out.replace(r.as_str(), o);
            }
        }
        out
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn id_key(key: &str) -> bool {
    key == "id" || key.ends_with("_id") || key.ends_with("Id") || key == "ids"
}

fn token_key(key: &str) -> bool {
    key.to_ascii_lowercase().ends_with("token")
}

/// An ISO 8601 date-time (not a bare date: dates are values the caller chose).
fn datetime(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 19
        && b.len() <= 35
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b' ')
        && b[13] == b':'
        && b[16] == b':'
        && b[..4].iter().all(u8::is_ascii_digit)
}

fn digits_masked(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_digit() { '0' } else { c })
        .collect()
}

/// Looks like a generated id: one word of 12 to 48 id characters with a digit or a mix of cases.
fn id_shaped(s: &str) -> bool {
    (12..=48).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
        && (s.bytes().any(|c| c.is_ascii_digit())
            || (s.bytes().any(|c| c.is_ascii_uppercase())
                && s.bytes().any(|c| c.is_ascii_lowercase())))
}

/// Whether `path` (like `records[3].owner_id`) is one of the `ignore` patterns (`records[*].owner_id`).
fn ignored(path: &str, ignore: &[String]) -> bool {
    if ignore.is_empty() {
        return false;
    }
    let mut wild = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                wild.push_str("[*]");
            }
            ']' => in_index = false,
            _ if in_index => {}
            _ => wild.push(c),
        }
    }
    ignore.iter().any(|p| {
        let p = p.as_str();
        p == path
            || p == wild
            || path.starts_with(&format!("{p}."))
            || wild.starts_with(&format!("{p}."))
            || path.starts_with(&format!("{p}["))
            || wild.starts_with(&format!("{p}["))
    })
}

/// Differences between the real answer and ours, as `path: what` lines; learns id pairs on the way.
pub fn diff(real: &Value, ours: &Value, ignore: &[String], ids: &mut Ids) -> Vec<String> {
    let mut out = Vec::new();
    walk("", "", real, ours, ignore, ids, &mut out);
    out
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn walk(
    path: &str,
    key: &str,
    real: &Value,
    ours: &Value,
    ignore: &[String],
    ids: &mut Ids,
    out: &mut Vec<String>,
) {
    let shown = if path.is_empty() { "$" } else { path };
    if kind(real) != kind(ours) {
        out.push(format!(
            "{shown}: {} {} vs ours {} {}",
            kind(real),
            brief(real, 80),
            kind(ours),
            brief(ours, 80)
        ));
        return;
    }
    match (real, ours) {
        (Value::Object(a), Value::Object(b)) => {
            let missing: Vec<&str> = a
                .keys()
                .filter(|k| !b.contains_key(*k))
                .map(String::as_str)
                .collect();
            let extra: Vec<&str> = b
                .keys()
                .filter(|k| !a.contains_key(*k))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                out.push(format!("{shown}: ours lacks {}", missing.join(", ")));
            }
            if !extra.is_empty() {
                out.push(format!("{shown}: ours adds {}", extra.join(", ")));
            }
            for (k, v) in a {
                if let Some(w) = b.get(k) {
                    walk(&join(path, k), k, v, w, ignore, ids, out);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                out.push(format!("{shown}: {} vs ours {} elements", a.len(), b.len()));
            }
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                walk(&format!("{path}[{i}]"), key, x, y, ignore, ids, out);
            }
        }
        _ if ignored(path, ignore) => {}
        (Value::String(r), Value::String(o)) => {
            if let Some(d) = strings(key, r, o, ids) {
                out.push(format!("{shown}: {d}"));
            }
        }
        (Value::Number(r), Value::Number(o)) => {
            let same = match (r.as_f64(), o.as_f64()) {
                (Some(x), Some(y)) => x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()),
                _ => r == o,
            };
            if !same {
                out.push(format!("{shown}: {r} vs ours {o}"));
            }
        }
        (r, o) => {
            if r != o {
                out.push(format!("{shown}: {r} vs ours {o}"));
            }
        }
    }
}

/// `None` when two strings agree under the masks, else what differs.
fn strings(key: &str, real: &str, ours: &str, ids: &mut Ids) -> Option<String> {
    if token_key(key) {
        return None;
    }
    if datetime(real) {
        return if datetime(ours) && digits_masked(real) == digits_masked(ours) {
            None
        } else {
            Some(format!("date-time {real:?} vs ours {ours:?}"))
        };
    }
    if let Some(partner) = ids.real_to_ours.get(real) {
        return if partner == ours {
            None
        } else {
            Some(format!("id {real:?} (ours {partner:?}) vs ours {ours:?}"))
        };
    }
    if real == ours {
        return None;
    }
    if let Some(partner) = ids.ours_to_real.get(ours) {
        return Some(format!(
            "{real:?} vs ours {ours:?} (the partner of {partner:?})"
        ));
    }
    if id_key(key) || (id_shaped(real) && id_shaped(ours)) {
        ids.pair(real, ours);
        return None;
    }
    if ids.translate(real) == ours {
        return None;
    }
    Some(format!("{real:?} vs ours {ours:?}"))
}

pub fn brief(v: &Value, max: usize) -> String {
    let s = v.to_string();
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}
