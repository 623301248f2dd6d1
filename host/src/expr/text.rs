//! CEL's string extension functions, and the functions cel-interpreter lacks or answers differently, as
//! cel-js (the real server's evaluator) defines them: `matches`, `lowerAscii`, `upperAscii`, `trim`,
//! `indexOf`, `lastIndexOf`, `substring`, `split`, `join`, `size` counted in characters, `string` (numbers
//! written as JavaScript writes them, booleans), `min` / `max` of two values, `dyn`, `bool`, and indexing
//! (`list[i]` out of range, `map[k]` without the key: errors, not null).
//!
//! cel-js's `lowerAscii` / `upperAscii` change every letter, not only ASCII ones, and it has no `charAt` or
//! `replace`; objectos follows it. Indices count Unicode code points, not bytes, and an index out of range is an evaluation error (as in
//! cel-js), never a panic. A `matches` pattern longer than [`MAX_REGEX_LEN`] characters, or one whose
//! compiled program would pass [`MAX_REGEX_PROGRAM_BYTES`], is an evaluation error.

use std::sync::Arc;

use cel_interpreter::extractors::{Arguments, This};
use cel_interpreter::{Context, ExecutionError, FunctionContext, Value as CelValue};

/// Longest `matches` pattern accepted, in characters.
pub const MAX_REGEX_LEN: usize = 1024;

/// Largest compiled `matches` program accepted (the regex crate's size limit), in bytes.
pub const MAX_REGEX_PROGRAM_BYTES: usize = 1 << 20;

type Result<T> = std::result::Result<T, ExecutionError>;

fn fail(function: &str, message: impl Into<String>) -> ExecutionError {
    ExecutionError::function_error(function, message.into())
}

fn text(s: String) -> CelValue {
    CelValue::String(Arc::new(s))
}

fn chars(s: &str) -> Vec<char> {
    s.chars().collect()
}

/// A code-point index argument, checked against `0..=len`.
fn index(function: &str, n: i64, len: usize) -> Result<usize> {
    usize::try_from(n)
        .ok()
        .filter(|i| *i <= len)
        .ok_or_else(|| fail(function, format!("index out of range: {n}")))
}

/// Where `needle` starts in `hay` at or after code point `from`, in code points.
fn find_from(hay: &[char], needle: &[char], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return Some(from);
    }
    (from..=hay.len().saturating_sub(needle.len())).find(|&i| hay[i..].starts_with(needle))
}

/// Where `needle` last starts in `hay` at or before code point `until`, in code points.
fn rfind_until(hay: &[char], needle: &[char], until: usize) -> Option<usize> {
    if needle.len() > hay.len() {
        return None;
    }
    let last = until.min(hay.len() - needle.len());
    (0..=last).rev().find(|&i| hay[i..].starts_with(needle))
}

/// The arguments after the target: `s.f(a)` passes `[a]`, `f(s, a)` passes `[s, a]`.
fn rest<'a>(ftx: &FunctionContext, args: &'a [CelValue]) -> &'a [CelValue] {
    if ftx.this.is_some() {
        args
    } else {
        args.get(1..).unwrap_or(&[])
    }
}

fn string_arg(function: &str, v: &CelValue) -> Result<Arc<String>> {
    match v {
        CelValue::String(s) => Ok(s.clone()),
        other => Err(fail(
            function,
            format!("expected a string, got {:?}", other.type_of()),
        )),
    }
}

fn int_arg(function: &str, v: &CelValue) -> Result<i64> {
    match v {
        CelValue::Int(n) => Ok(*n),
        CelValue::UInt(n) => i64::try_from(*n).map_err(|_| fail(function, "index out of range")),
        other => Err(fail(
            function,
            format!("expected an int, got {:?}", other.type_of()),
        )),
    }
}

fn matches(This(this): This<Arc<String>>, pattern: Arc<String>) -> Result<bool> {
    if pattern.chars().count() > MAX_REGEX_LEN {
        return Err(fail(
            "matches",
            format!("the pattern is longer than {MAX_REGEX_LEN} characters"),
        ));
    }
    regex::RegexBuilder::new(&pattern)
        .size_limit(MAX_REGEX_PROGRAM_BYTES)
        .build()
        .map(|re| re.is_match(&this))
        .map_err(|e| fail("matches", format!("'{pattern}' is not a valid regex: {e}")))
}

fn index_of(
    ftx: &FunctionContext,
    This(this): This<Arc<String>>,
    Arguments(args): Arguments,
) -> Result<i64> {
    let args = rest(ftx, &args);
    let hay = chars(&this);
    let needle = chars(&string_arg(
        "indexOf",
        args.first().unwrap_or(&CelValue::Null),
    )?);
    let from = match args.get(1) {
        Some(v) => index("indexOf", int_arg("indexOf", v)?, hay.len())?,
        None => 0,
    };
    Ok(find_from(&hay, &needle, from).map_or(-1, |i| i as i64))
}

fn last_index_of(
    ftx: &FunctionContext,
    This(this): This<Arc<String>>,
    Arguments(args): Arguments,
) -> Result<i64> {
    let args = rest(ftx, &args);
    let hay = chars(&this);
    let needle = chars(&string_arg(
        "lastIndexOf",
        args.first().unwrap_or(&CelValue::Null),
    )?);
    let until = match args.get(1) {
        Some(v) => index("lastIndexOf", int_arg("lastIndexOf", v)?, hay.len())?,
        None => hay.len(),
    };
    Ok(rfind_until(&hay, &needle, until).map_or(-1, |i| i as i64))
}

fn substring(
    ftx: &FunctionContext,
    This(this): This<Arc<String>>,
    Arguments(args): Arguments,
) -> Result<CelValue> {
    let args = rest(ftx, &args);
    let s = chars(&this);
    let start = index(
        "substring",
        int_arg("substring", args.first().unwrap_or(&CelValue::Null))?,
        s.len(),
    )?;
    let end = match args.get(1) {
        Some(v) => index("substring", int_arg("substring", v)?, s.len())?,
        None => s.len(),
    };
    if end < start {
        return Err(fail("substring", format!("invalid range: {start} > {end}")));
    }
    Ok(text(s[start..end].iter().collect()))
}

fn split(
    ftx: &FunctionContext,
    This(this): This<Arc<String>>,
    Arguments(args): Arguments,
) -> Result<CelValue> {
    let args = rest(ftx, &args);
    let sep = string_arg("split", args.first().unwrap_or(&CelValue::Null))?;
    let limit = match args.get(1) {
        Some(v) => int_arg("split", v)?,
        None => -1,
    };
    let parts: Vec<CelValue> = match limit {
        0 => Vec::new(),
        n if n < 0 => split_all(&this, &sep),
        n => {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            if sep.is_empty() {
                let mut all = split_all(&this, &sep);
                if all.len() > n {
                    let rest: String = this.chars().skip(n - 1).collect();
                    all.truncate(n - 1);
                    all.push(CelValue::String(Arc::new(rest)));
                }
                all
            } else {
                this.splitn(n, sep.as_str())
                    .map(|p| CelValue::String(Arc::new(p.to_string())))
                    .collect()
            }
        }
    };
    Ok(CelValue::List(Arc::new(parts)))
}

fn split_all(s: &str, sep: &str) -> Vec<CelValue> {
    if sep.is_empty() {
        s.chars()
            .map(|c| CelValue::String(Arc::new(c.to_string())))
            .collect()
    } else {
        s.split(sep)
            .map(|p| CelValue::String(Arc::new(p.to_string())))
            .collect()
    }
}

fn join(
    ftx: &FunctionContext,
    This(this): This<Arc<Vec<CelValue>>>,
    Arguments(args): Arguments,
) -> Result<CelValue> {
    let args = rest(ftx, &args);
    let sep = match args.first() {
        Some(v) => string_arg("join", v)?,
        None => Arc::new(String::new()),
    };
    let parts = this
        .iter()
        .map(|v| string_arg("join", v).map(|s| s.to_string()))
        .collect::<Result<Vec<_>>>()?;
    Ok(text(parts.join(sep.as_str())))
}

/// `size` as cel-js counts it: characters of a string, not bytes.
fn size(This(this): This<CelValue>) -> Result<i64> {
    let n = match &this {
        CelValue::String(s) => s.chars().count(),
        CelValue::Bytes(b) => b.len(),
        CelValue::List(l) => l.len(),
        CelValue::Map(m) => m.map.len(),
        other => {
            return Err(fail(
                "size",
                format!("cannot determine the size of a {:?}", other.type_of()),
            ));
        }
    };
    i64::try_from(n).map_err(|_| fail("size", "too large"))
}

fn to_bool(This(this): This<CelValue>) -> Result<bool> {
    match &this {
        CelValue::Bool(b) => Ok(*b),
        CelValue::String(s) => match s.as_str() {
            "true" | "TRUE" | "True" | "t" | "1" => Ok(true),
            "false" | "FALSE" | "False" | "f" | "0" => Ok(false),
            other => Err(fail("bool", format!("cannot convert \"{other}\" to bool"))),
        },
        other => Err(fail(
            "bool",
            format!("cannot convert a {:?} to bool", other.type_of()),
        )),
    }
}

/// `string(x)`: strings, numbers (as JavaScript writes them: `1.0` is "1"), booleans and timestamps.
fn to_string(This(this): This<CelValue>) -> Result<CelValue> {
    Ok(text(match &this {
        CelValue::String(s) => s.to_string(),
        CelValue::Int(n) => n.to_string(),
        CelValue::UInt(n) => n.to_string(),
        CelValue::Float(f) if f.fract() == 0.0 && f.abs() < 1e21 => format!("{f:.0}"),
        CelValue::Float(f) => f.to_string(),
        CelValue::Bool(b) => b.to_string(),
        CelValue::Timestamp(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        other => {
            return Err(fail(
                "string",
                format!(
                    "found no matching overload for 'string({})'",
                    other.type_of()
                ),
            ));
        }
    }))
}

/// Refuses a call with other than `n` arguments (cel-interpreter passes extra ones silently).
pub(crate) fn arity(function: &str, args: &[CelValue], n: usize) -> Result<()> {
    if args.len() == n {
        return Ok(());
    }
    let types: Vec<String> = args.iter().map(|a| a.type_of().to_string()).collect();
    Err(fail(
        function,
        format!(
            "found no matching overload for '{function}({})'",
            types.join(", ")
        ),
    ))
}

/// `min(a, b)` / `max(a, b)`: exactly two comparable values.
fn extreme(function: &'static str, pick_greater: bool) -> impl Fn(Arguments) -> Result<CelValue> {
    move |Arguments(args): Arguments| {
        arity(function, &args, 2)?;
        let (a, b) = (&args[0], &args[1]);
        match a.partial_cmp(b) {
            Some(std::cmp::Ordering::Less) => Ok(if pick_greater { b } else { a }.clone()),
            Some(_) => Ok(if pick_greater { a } else { b }.clone()),
            None => Err(fail(
                function,
                format!("cannot compare a {} with a {}", a.type_of(), b.type_of()),
            )),
        }
    }
}

/// `list[i]` and `map[k]`: an index out of range or a missing key is an error.
fn index_into(container: CelValue, at: CelValue) -> Result<CelValue> {
    match (&container, &at) {
        (CelValue::List(items), CelValue::Int(_) | CelValue::UInt(_)) => {
            let i = int_arg("index", &at)?;
            usize::try_from(i)
                .ok()
                .and_then(|i| items.get(i).cloned())
                .ok_or_else(|| {
                    ExecutionError::NoSuchKey(Arc::new(format!(
                        "index out of bounds, index {i} >= size {}",
                        items.len()
                    )))
                })
        }
        (CelValue::Map(map), _) => {
            let key: cel_interpreter::objects::Key = at.clone().try_into().map_err(|_| {
                fail(
                    "index",
                    format!("cannot index a map with a {}", at.type_of()),
                )
            })?;
            map.map.get(&key).cloned().ok_or_else(|| {
                ExecutionError::NoSuchKey(Arc::new(match &at {
                    CelValue::String(s) => s.to_string(),
                    other => format!("{other:?}"),
                }))
            })
        }
        _ => Err(fail(
            "index",
            format!(
                "cannot index a {} with a {}",
                container.type_of(),
                at.type_of()
            ),
        )),
    }
}

/// Adds the functions to a context.
pub fn add(ctx: &mut Context<'static>) {
    ctx.add_function("matches", matches);
    ctx.add_function("lowerAscii", |This(s): This<Arc<String>>| s.to_lowercase());
    ctx.add_function("upperAscii", |This(s): This<Arc<String>>| s.to_uppercase());
    ctx.add_function("trim", |This(s): This<Arc<String>>| s.trim().to_string());
    ctx.add_function("indexOf", index_of);
    ctx.add_function("lastIndexOf", last_index_of);
    ctx.add_function("substring", substring);
    ctx.add_function("split", split);
    ctx.add_function("join", join);
    ctx.add_function("size", size);
    ctx.add_function("dyn", |This(v): This<CelValue>| -> Result<CelValue> {
        Ok(v)
    });
    ctx.add_function("bool", to_bool);
    ctx.add_function("string", to_string);
    ctx.add_function("min", extreme("min", false));
    ctx.add_function("max", extreme("max", true));
    ctx.add_function(super::INDEX, index_into);
}
