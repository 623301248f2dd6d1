//! The shapes of structured field values (location, address, composite, record, repeater, vector) and of file
//! references, checked as the real server's value contract checks them. Each check answers `Err(detail)` in the
//! real server's words (`Too big: expected number to be <=90`, `Expected an opaque sys_file id`, …); the caller
//! wraps it into `<Label> has an invalid <type> value: <detail>`. A leaf: it reads only JSON.

use serde_json::{Map, Value};

/// The type name a value has in the real server's messages (`received array`).
fn received(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn expected(what: &str, got: &Value) -> String {
    format!("Invalid input: expected {what}, received {}", received(got))
}

/// A stored file, image, avatar, video or audio value: the opaque id of a `sys_file` row
/// (`^[A-Za-z0-9_-]{1,64}$`). A URL or an inline `{url, …}` object is refused.
pub fn file_id(v: &Value) -> Result<(), String> {
    match v {
        Value::String(s) if is_file_id(s) => Ok(()),
        Value::String(_) => Err("Expected an opaque sys_file id".into()),
        other => Err(expected("string", other)),
    }
}

pub fn is_file_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `composite` and `record`: a JSON object.
pub fn record(v: &Value) -> Result<(), String> {
    match v {
        Value::Object(_) => Ok(()),
        other => Err(expected("record", other)),
    }
}

/// `repeater`: a list of JSON objects.
pub fn repeater(v: &Value) -> Result<(), String> {
    match v {
        Value::Array(items) => items.iter().try_for_each(record),
        other => Err(expected("array", other)),
    }
}

/// `vector`: a list of numbers (its `dimensions` is not enforced, as on the real server).
pub fn vector(v: &Value) -> Result<(), String> {
    match v {
        Value::Array(items) => items.iter().try_for_each(|x| match x {
            Value::Number(_) => Ok(()),
            other => Err(expected("number", other)),
        }),
        other => Err(expected("array", other)),
    }
}

/// A member of a closed object shape.
enum Member {
    /// A number within inclusive bounds.
    Bounded(f64, f64),
    Number,
    Text,
}

struct Shape {
    surface: &'static str,
    history: &'static str,
    aliases: &'static [(&'static str, &'static str)],
    required: &'static [&'static str],
    members: &'static [(&'static str, Member)],
}

const LOCATION: Shape = Shape {
    surface: "this location value",
    history: "Until this shape was closed, an undeclared key on a location value was silently dropped \u{2014} the \
              value parsed green with the key gone, so the mistake surfaced only as a blank on screen.",
    aliases: &[("latitude", "lat"), ("longitude", "lng")],
    required: &["lat", "lng"],
    members: &[
        ("lat", Member::Bounded(-90.0, 90.0)),
        ("lng", Member::Bounded(-180.0, 180.0)),
        ("altitude", Member::Number),
        ("accuracy", Member::Number),
    ],
};

const ADDRESS: Shape = Shape {
    surface: "this address value",
    history: "Until this shape was closed, an undeclared key on an address value was silently dropped \u{2014} the \
              value parsed green with the key gone, so a misspelled postal code surfaced only as an empty box on \
              screen.",
    aliases: &[
        ("zipCode", "postalCode"),
        ("zip", "postalCode"),
        ("postcode", "postalCode"),
    ],
    required: &[],
    members: &[
        ("street", Member::Text),
        ("city", Member::Text),
        ("state", Member::Text),
        ("postalCode", Member::Text),
        ("country", Member::Text),
        ("countryCode", Member::Text),
        ("formatted", Member::Text),
    ],
};

/// `location`: `{lat, lng, altitude?, accuracy?}` with lat in [-90, 90] and lng in [-180, 180]; no other key.
pub fn location(v: &Value) -> Result<(), String> {
    closed(&LOCATION, v)
}

/// `address`: `{street?, city?, state?, postalCode?, country?, countryCode?, formatted?}`, all text; no other key.
pub fn address(v: &Value) -> Result<(), String> {
    closed(&ADDRESS, v)
}

fn closed(shape: &Shape, v: &Value) -> Result<(), String> {
    let Value::Object(m) = v else {
        return Err(expected("object", v));
    };
    // An unknown key is reported before a member's own problem, as the real server does.
    let unknown: Vec<&String> = m
        .keys()
        .filter(|k| !shape.members.iter().any(|(name, _)| name == k))
        .collect();
    if !unknown.is_empty() {
        return Err(unknown_keys(shape, &unknown));
    }
    for (name, member) in shape.members {
        member_check(m, name, member, shape.required.contains(name))?;
    }
    Ok(())
}

fn member_check(
    m: &Map<String, Value>,
    name: &str,
    member: &Member,
    required: bool,
) -> Result<(), String> {
    let Some(v) = m.get(name) else {
        return if required {
            Err(match member {
                Member::Text => "Invalid input: expected string, received undefined".to_string(),
                _ => "Invalid input: expected number, received undefined".to_string(),
            })
        } else {
            Ok(())
        };
    };
    match (member, v) {
        (Member::Text, Value::String(_)) => Ok(()),
        (Member::Text, other) => Err(expected("string", other)),
        (Member::Number, Value::Number(_)) => Ok(()),
        (Member::Bounded(min, max), Value::Number(n)) => {
            let n = n.as_f64().unwrap_or(f64::NAN);
            if n < *min {
                Err(format!("Too small: expected number to be >={min}"))
            } else if n > *max {
                Err(format!("Too big: expected number to be <={max}"))
            } else {
                Ok(())
            }
        }
        (_, other) => Err(expected("number", other)),
    }
}

fn unknown_keys(shape: &Shape, keys: &[&String]) -> String {
    let known: Vec<&str> = shape.members.iter().map(|(name, _)| *name).collect();
    let renames: Vec<String> = keys
        .iter()
        .filter_map(|key| {
            let probe = alias_probe(key);
            let canonical = shape
                .aliases
                .iter()
                .find(|(alias, _)| alias_probe(alias) == probe)
                .map(|(_, to)| *to)
                .or_else(|| closest(key, &known, (key.chars().count() / 3).max(2)))?;
            (canonical != key.as_str()).then(|| format!("`{key}` \u{2192} `{canonical}`"))
        })
        .collect();
    let listed: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    let mut message = format!(
        "Unrecognized key(s) on {}: {}.",
        shape.surface,
        listed.join(", ")
    );
    if !renames.is_empty() {
        message.push_str(&format!(" Did you mean {}?", renames.join(", ")));
    }
    format!("{message} {}", shape.history)
}

fn alias_probe(key: &str) -> String {
    key.chars()
        .filter(|c| !matches!(c, '_' | '-') && !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

fn fold(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c == '-' || c.is_whitespace() {
                '_'
            } else {
                c
            }
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// The declared key nearest to a misspelled one (edit distance on lowercased keys, ties broken by case).
fn closest<'a>(input: &str, candidates: &[&'a str], max_distance: usize) -> Option<&'a str> {
    let folded = fold(input);
    candidates
        .iter()
        .map(|c| (*c, levenshtein(&folded, &fold(c)), levenshtein(input, c)))
        .filter(|(c, d, _)| *d <= max_distance && *c != input)
        .min_by_key(|(_, d, cased)| (*d, *cased))
        .map(|(c, _, _)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut curr = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        curr[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            curr[j] = (prev[j] + 1).min(curr[j - 1] + 1).min(prev[j - 1] + cost);
        }
        std::mem::swap(&mut prev, &mut curr);
    }
    prev[b.len()]
}

impl Shape {
    /// The shape as a JSON Schema (for the OpenAPI document), from the same declaration the check reads.
    fn json_schema(&self) -> Value {
        let props: Map<String, Value> = self
            .members
            .iter()
            .map(|(name, member)| {
                let s = match member {
                    Member::Text => serde_json::json!({"type": "string"}),
                    Member::Number => serde_json::json!({"type": "number"}),
                    Member::Bounded(min, max) => {
                        serde_json::json!({"type": "number", "minimum": min, "maximum": max})
                    }
                };
                (name.to_string(), s)
            })
            .collect();
        serde_json::json!({"type": "object", "properties": props, "required": self.required,
            "additionalProperties": false})
    }
}

/// JSON Schemas of the shaped values, as the checks above accept them.
pub mod schema {
    use serde_json::{Value, json};

    pub fn location() -> Value {
        super::LOCATION.json_schema()
    }

    pub fn address() -> Value {
        super::ADDRESS.json_schema()
    }

    pub fn file_id() -> Value {
        json!({"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"})
    }

    pub fn record() -> Value {
        json!({"type": "object"})
    }

    pub fn repeater() -> Value {
        json!({"type": "array", "items": {"type": "object"}})
    }
}
