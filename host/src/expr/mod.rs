//! CEL expressions (cel-interpreter) with the ObjectStack stdlib.
//!
//! Scope-free expressions (seed values, defaults such as `daysAgo(3) + duration("6h20m")`) and
//! record-scoped ones (formulas, validation rules, action conditions) share one stdlib. Row-level security
//! does not evaluate here: its policies are lowered to SQL (`security::rls`).
//!
//! Evaluation is bounded: text length and nesting at compile time; at run time every comprehension
//! (`map`, `filter`, `all`, `exists`, `exists_one`) iterates at most [`MAX_COMPREHENSION_ITEMS`] items and
//! one evaluation takes at most [`MAX_EVALUATION_STEPS`] comprehension steps in all. Date and number
//! functions use checked arithmetic (out of range is an error), and a panic inside the interpreter is caught
//! and reported as an evaluation error.

mod text;

use cel_interpreter::{Context, ExecutionError, Value as CelValue};
use chrono::{DateTime, Duration, FixedOffset, Utc};
use serde_json::Value;

/// Longest expression accepted (a bound on parse work).
pub const MAX_EXPRESSION_LEN: usize = 4096;

/// Deepest nesting of an expression's syntax tree accepted (a bound on evaluation's recursion).
pub const MAX_EXPRESSION_DEPTH: usize = 32;

/// Most items one comprehension (`list.map(x, …)`, `filter`, `all`, `exists`, `exists_one`) iterates.
pub const MAX_COMPREHENSION_ITEMS: usize = 10_000;

/// Most comprehension steps one evaluation takes, nested comprehensions counted in full.
pub const MAX_EVALUATION_STEPS: u64 = 100_000;

/// Wraps a comprehension's range: refuses one too long, or not a list or map.
const ITEMS: &str = "__objectos_items";
/// Wraps a comprehension's step: counts it against [`MAX_EVALUATION_STEPS`].
const STEP: &str = "__objectos_step";

/// The direct subexpressions of an expression.
fn children_mut(e: &mut cel_parser::Expression) -> Vec<&mut cel_parser::Expression> {
    use cel_parser::ast::{EntryExpr, Expr};
    fn entries(entries: &mut [cel_parser::ast::IdedEntryExpr]) -> Vec<&mut cel_parser::Expression> {
        entries
            .iter_mut()
            .flat_map(|en| match &mut en.expr {
                EntryExpr::MapEntry(me) => vec![&mut me.key, &mut me.value],
                EntryExpr::StructField(sf) => vec![&mut sf.value],
            })
            .collect()
    }
    match &mut e.expr {
        Expr::Call(c) => c
            .target
            .as_deref_mut()
            .into_iter()
            .chain(c.args.iter_mut())
            .collect(),
        Expr::List(l) => l.elements.iter_mut().collect(),
        Expr::Select(s) => vec![&mut *s.operand],
        Expr::Map(m) => entries(&mut m.entries),
        Expr::Struct(st) => entries(&mut st.entries),
        Expr::Comprehension(c) => vec![
            &mut *c.iter_range,
            &mut *c.accu_init,
            &mut *c.loop_cond,
            &mut *c.loop_step,
            &mut *c.result,
        ],
        _ => Vec::new(),
    }
}

/// Refuses an expression nested deeper than [`MAX_EXPRESSION_DEPTH`].
pub fn check_depth(e: &cel_parser::Expression) -> Result<(), String> {
    fn depth(e: &mut cel_parser::Expression) -> usize {
        1 + children_mut(e).into_iter().map(depth).max().unwrap_or(0)
    }
    // The walk borrows mutably only to share one traversal with the rewriting below; nothing is changed.
    let d = depth(&mut e.clone());
    if d > MAX_EXPRESSION_DEPTH {
        return Err(format!(
            "the expression nests {d} levels deep; at most {MAX_EXPRESSION_DEPTH} are allowed"
        ));
    }
    Ok(())
}

fn at_offset(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.fixed_offset()
}

fn out_of_range(function: &str, n: i64) -> ExecutionError {
    ExecutionError::function_error(function, format!("{n} days is out of the range of dates"))
}

/// `t` moved by `n` days, or an error when that leaves the range of dates (never a panic).
fn add_days(
    t: DateTime<FixedOffset>,
    n: i64,
    function: &str,
) -> Result<DateTime<FixedOffset>, ExecutionError> {
    Duration::try_days(n)
        .and_then(|d| t.checked_add_signed(d))
        .ok_or_else(|| out_of_range(function, n))
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
    ctx.add_function("daysAgo", move |n: i64| {
        let back = n.checked_neg().ok_or_else(|| out_of_range("daysAgo", n))?;
        ts(add_days(today.fixed_offset(), back, "daysAgo")?.with_timezone(&Utc))
    });
    ctx.add_function("daysFromNow", move |n: i64| {
        ts(add_days(today.fixed_offset(), n, "daysFromNow")?.with_timezone(&Utc))
    });
    // The evaluation bound: one counter per evaluation (a context is made for each).
    let steps = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    ctx.add_function(
        STEP,
        move |v: CelValue| -> Result<CelValue, ExecutionError> {
            let taken = steps.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            if taken > MAX_EVALUATION_STEPS {
                return Err(ExecutionError::function_error(
                    "evaluation",
                    format!(
                        "the expression took more than {MAX_EVALUATION_STEPS} comprehension steps"
                    ),
                ));
            }
            Ok(v)
        },
    );
    ctx.add_function(ITEMS, |v: CelValue| -> Result<CelValue, ExecutionError> {
        let n = match &v {
            CelValue::List(l) => l.len(),
            CelValue::Map(m) => m.map.len(),
            other => {
                return Err(ExecutionError::function_error(
                    "comprehension",
                    format!("cannot iterate over a {:?}", other.type_of()),
                ));
            }
        };
        if n > MAX_COMPREHENSION_ITEMS {
            return Err(ExecutionError::function_error(
                "comprehension",
                format!("iterates over {n} items; at most {MAX_COMPREHENSION_ITEMS} are allowed"),
            ));
        }
        Ok(v)
    });
    ctx.add_function("upper", |s: std::sync::Arc<String>| s.to_uppercase());
    ctx.add_function("lower", |s: std::sync::Arc<String>| s.to_lowercase());
    add_stdlib(&mut ctx);
    text::add(&mut ctx);
    ctx
}

/// The rest of ObjectStack's CEL stdlib (PROTOCOL §8); `contains`, `startsWith`, `endsWith`, `min`, `max`,
/// `int` and `double` are cel-interpreter's own, the string extensions are in [`text`].
fn add_stdlib(ctx: &mut Context<'static>) {
    use cel_interpreter::extractors::Arguments;
    fn blank(v: &CelValue) -> bool {
        match v {
            CelValue::Null => true,
            CelValue::String(s) => s.trim().is_empty(),
            CelValue::List(l) => l.is_empty(),
            CelValue::Map(m) => m.map.is_empty(),
            _ => false,
        }
    }
    fn number(v: &CelValue) -> Result<f64, ExecutionError> {
        match v {
            CelValue::Int(i) => Ok(*i as f64),
            CelValue::UInt(u) => Ok(*u as f64),
            CelValue::Float(f) => Ok(*f),
            other => Err(ExecutionError::function_error(
                "number",
                format!("expected a number, found {:?}", other.type_of()),
            )),
        }
    }
    fn instant(v: &CelValue) -> Result<DateTime<FixedOffset>, ExecutionError> {
        match v {
            CelValue::Timestamp(t) => Ok(*t),
            CelValue::String(s) => {
                crate::data::scalar::parse_datetime(&Value::String(s.to_string()))
                    .map(at_offset)
                    .ok_or_else(|| {
                        ExecutionError::function_error("date", format!("not a date: {s}"))
                    })
            }
            other => Err(ExecutionError::function_error(
                "date",
                format!("expected a date, found {:?}", other.type_of()),
            )),
        }
    }
    ctx.add_function(
        AS_NUMBER,
        |v: CelValue| -> Result<CelValue, ExecutionError> {
            Ok(match v {
                CelValue::Int(i) => CelValue::Float(i as f64),
                CelValue::UInt(u) => CelValue::Float(u as f64),
                other => other,
            })
        },
    );
    ctx.add_function("isBlank", |v: CelValue| blank(&v));
    ctx.add_function("isEmpty", |v: CelValue| blank(&v));
    ctx.add_function(
        "coalesce",
        |Arguments(args): Arguments| -> Result<CelValue, ExecutionError> {
            Ok(args
                .iter()
                .find(|v| !matches!(v, CelValue::Null))
                .cloned()
                .unwrap_or(CelValue::Null))
        },
    );
    // `joinNonEmpty(list, separator)`: the non-blank strings of the list.
    ctx.add_function(
        "joinNonEmpty",
        |items: std::sync::Arc<Vec<CelValue>>,
         sep: std::sync::Arc<String>|
         -> Result<CelValue, ExecutionError> {
            let mut parts = Vec::new();
            for v in items.iter().filter(|v| !blank(v)) {
                match v {
                    CelValue::String(s) => parts.push(s.to_string()),
                    other => {
                        return Err(ExecutionError::function_error(
                            "joinNonEmpty",
                            format!("List elements must have the same type, expected type 'string' but found '{}'", other.type_of()),
                        ));
                    }
                }
            }
            Ok(CelValue::String(std::sync::Arc::new(parts.join(sep.as_str()))))
        },
    );
    ctx.add_function("len", |v: CelValue| -> Result<i64, ExecutionError> {
        Ok(match v {
            CelValue::String(s) => s.chars().count() as i64,
            CelValue::List(l) => l.len() as i64,
            CelValue::Map(m) => m.map.len() as i64,
            CelValue::Null => 0,
            other => {
                return Err(ExecutionError::function_error(
                    "len",
                    format!("no length for {:?}", other.type_of()),
                ));
            }
        })
    });
    ctx.add_function("abs", |v: CelValue| -> Result<CelValue, ExecutionError> {
        Ok(match v {
            CelValue::Int(i) => CelValue::Int(i.checked_abs().ok_or_else(|| {
                ExecutionError::function_error("abs", format!("abs({i}) is out of range"))
            })?),
            other => CelValue::Float(number(&other)?.abs()),
        })
    });
    // `round(x)`: JavaScript's Math.round (halves go up: round(-2.5) is -2).
    ctx.add_function(
        "round",
        |Arguments(args): Arguments| -> Result<f64, ExecutionError> {
            text::arity("round", &args, 1)?;
            number(&args[0]).map(|x| (x + 0.5).floor())
        },
    );
    ctx.add_function("floor", |v: CelValue| number(&v).map(f64::floor));
    ctx.add_function("ceil", |v: CelValue| number(&v).map(f64::ceil));
    ctx.add_function(
        "daysBetween",
        |a: CelValue, b: CelValue| -> Result<i64, ExecutionError> {
            let (a, b) = (instant(&a)?, instant(&b)?);
            Ok(b.signed_duration_since(a).num_days())
        },
    );
    ctx.add_function(
        "addDays",
        |t: CelValue, n: i64| -> Result<CelValue, ExecutionError> {
            add_days(instant(&t)?, n, "addDays").map(CelValue::Timestamp)
        },
    );
    ctx.add_function(
        "addMonths",
        |t: CelValue, n: i64| -> Result<CelValue, ExecutionError> {
            let t = instant(&t)?;
            let months = chrono::Months::new(n.unsigned_abs().min(u32::MAX as u64) as u32);
            let moved = if n >= 0 {
                t.checked_add_months(months)
            } else {
                t.checked_sub_months(months)
            };
            moved
                .map(CelValue::Timestamp)
                .ok_or_else(|| ExecutionError::function_error("addMonths", "out of range"))
        },
    );
    ctx.add_function("date", |v: CelValue| -> Result<CelValue, ExecutionError> {
        let t = instant(&v)?;
        let day = t
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map(|d| d.and_utc().fixed_offset())
            .unwrap_or(t);
        Ok(CelValue::Timestamp(day))
    });
    ctx.add_function("datetime", |v: CelValue| {
        instant(&v).map(CelValue::Timestamp)
    });
}

/// Evaluates a scope-free expression to JSON (timestamps become ISO-8601 text).
pub fn evaluate_constant(source: &str, now: DateTime<Utc>) -> Result<Value, String> {
    if source.len() > MAX_EXPRESSION_LEN {
        return Err(format!(
            "expression is longer than {MAX_EXPRESSION_LEN} characters"
        ));
    }
    let compiled = compile(source)?;
    let ctx = clock_context(now);
    let value =
        resolve(&compiled.ast, &ctx).map_err(|e| format!("cannot evaluate CEL `{source}`: {e}"))?;
    to_json(&value)
}

/// Evaluates a syntax tree. The interpreter panics on a few inputs (a comprehension over something it does
/// not expect, a struct literal); a panic is caught here and is an evaluation error like any other.
/// Errors read as cel-js (the real server's evaluator) words them: `runtime: No such key: x`,
/// `runtime: no such overload: dyn<null> > double`.
fn resolve(ast: &cel_parser::Expression, ctx: &Context) -> Result<CelValue, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| CelValue::resolve(ast, ctx)))
        .unwrap_or_else(|_| {
            Err(ExecutionError::function_error(
                "evaluation",
                "the interpreter cannot evaluate this expression",
            ))
        })
        .map_err(|e| fault_text(&e, first_relational(ast)))
}

/// A value's type as cel-js names it in an overload error.
fn overload_type(v: &CelValue) -> String {
    match v {
        CelValue::Null => "dyn<null>".into(),
        CelValue::Float(_) => "double".into(),
        other => other.type_of().to_string(),
    }
}

/// The first relational operator (`<`, `<=`, `>`, `>=`) of an expression, as written; cel-interpreter's
/// comparison error does not say which one failed.
fn first_relational(ast: &cel_parser::Expression) -> &'static str {
    use cel_parser::ast::{Expr, operators};
    fn walk(e: &mut cel_parser::Expression) -> Option<&'static str> {
        if let Expr::Call(c) = &e.expr {
            let op = match c.func_name.as_str() {
                operators::LESS => Some("<"),
                operators::LESS_EQUALS => Some("<="),
                operators::GREATER => Some(">"),
                operators::GREATER_EQUALS => Some(">="),
                _ => None,
            };
            if op.is_some() {
                return op;
            }
        }
        children_mut(e).into_iter().find_map(walk)
    }
    walk(&mut ast.clone()).unwrap_or("<")
}

fn fault_text(e: &ExecutionError, relational: &str) -> String {
    match e {
        ExecutionError::NoSuchKey(k) => format!("runtime: No such key: {k}"),
        ExecutionError::ValuesNotComparable(a, b) => format!(
            "runtime: no such overload: {} {relational} {}",
            overload_type(a),
            overload_type(b)
        ),
        ExecutionError::UnsupportedBinaryOperator(op, a, b) => format!(
            "runtime: no such overload: {} {op} {}",
            overload_type(a),
            overload_type(b)
        ),
        other => format!("runtime: {other}"),
    }
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
        CelValue::Float(f) => crate::data::scalar::number_value(*f),
        CelValue::String(s) => Value::String(s.to_string()),
        CelValue::Timestamp(t) => {
            Value::String(crate::data::scalar::format_datetime(t.with_timezone(&Utc)))
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
    /// The syntax tree, arithmetic made numeric-tolerant (see [`numeric_arithmetic`]).
    ast: cel_parser::Expression,
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
    let mut ast = parse_ast(source)?;
    check_depth(&ast)?;
    numeric_arithmetic(&mut ast);
    bind_and_index(&mut ast);
    bound_comprehensions(&mut ast);
    Ok(Compiled { ast })
}

/// The function the arithmetic operands are wrapped in: ints become doubles, anything else passes.
const AS_NUMBER: &str = "__objectos_number";

/// Record values are JSON numbers (JavaScript numbers on the real server), so `record.amount * 0.1` must work
/// whether the amount happens to be whole or not; CEL proper refuses int × double. Every operand of `+ - * /`
/// is passed through [`AS_NUMBER`], which makes ints doubles (so `7 / 2` is 3.5, as in JavaScript) and leaves
/// strings, lists, timestamps and durations alone.
fn numeric_arithmetic(e: &mut cel_parser::Expression) {
    use cel_parser::ast::{CallExpr, Expr, IdedExpr, operators};
    for child in children_mut(e) {
        numeric_arithmetic(child);
    }
    if let Expr::Call(call) = &mut e.expr
        && [
            operators::ADD,
            operators::SUBSTRACT,
            operators::MULTIPLY,
            operators::DIVIDE,
        ]
        .contains(&call.func_name.as_str())
    {
        for a in call.args.iter_mut() {
            let inner = std::mem::take(a);
            *a = IdedExpr {
                id: inner.id,
                expr: Expr::Call(CallExpr {
                    func_name: AS_NUMBER.to_string(),
                    target: None,
                    args: vec![inner],
                }),
            };
        }
    }
}

/// `wrapped(inner)` in place of `inner`, keeping its id.
/// The function indexing (`list[i]`, `map[k]`) is routed through: out of range and missing keys are
/// errors, as in cel-js (cel-interpreter answers null).
pub(crate) const INDEX: &str = "__objectos_index";

/// Rewrites `cel.bind(x, init, body)` into the comprehension it stands for (over no items, the accumulator
/// `x` holding `init`, answering `body`), and indexing into [`INDEX`].
fn bind_and_index(e: &mut cel_parser::Expression) {
    use cel_parser::ast::{ComprehensionExpr, Expr, IdedExpr, ListExpr, operators};
    for child in children_mut(e) {
        bind_and_index(child);
    }
    let Expr::Call(call) = &mut e.expr else {
        return;
    };
    if call.func_name == operators::INDEX {
        call.func_name = INDEX.to_string();
        return;
    }
    let is_bind = call.func_name == "bind"
        && call.args.len() == 3
        && matches!(call.target.as_deref(), Some(IdedExpr { expr: Expr::Ident(t), .. }) if t == "cel")
        && matches!(call.args[0].expr, Expr::Ident(_));
    if !is_bind {
        return;
    }
    let mut args = std::mem::take(&mut call.args).into_iter();
    let (Some(var), Some(init), Some(body)) = (args.next(), args.next(), args.next()) else {
        return;
    };
    let Expr::Ident(name) = var.expr.clone() else {
        return;
    };
    let id = e.id;
    let node = |expr: Expr| Box::new(IdedExpr { id, expr });
    e.expr = Expr::Comprehension(ComprehensionExpr {
        iter_range: node(Expr::List(ListExpr { elements: vec![] })),
        iter_var: "__objectos_unused".to_string(),
        iter_var2: None,
        accu_var: name.clone(),
        accu_init: Box::new(init),
        loop_cond: node(Expr::Literal(cel_parser::reference::Val::Boolean(false))),
        loop_step: node(Expr::Ident(name)),
        result: Box::new(body),
    });
}

fn wrap_call(e: &mut cel_parser::Expression, function: &str) {
    use cel_parser::ast::{CallExpr, Expr, IdedExpr};
    let inner = std::mem::take(e);
    *e = IdedExpr {
        id: inner.id,
        expr: Expr::Call(CallExpr {
            func_name: function.to_string(),
            target: None,
            args: vec![inner],
        }),
    };
}

/// Puts every comprehension under the evaluation bound: its range through [`ITEMS`], its step through
/// [`STEP`].
fn bound_comprehensions(e: &mut cel_parser::Expression) {
    use cel_parser::ast::Expr;
    for child in children_mut(e) {
        bound_comprehensions(child);
    }
    if let Expr::Comprehension(c) = &mut e.expr {
        wrap_call(&mut c.iter_range, ITEMS);
        wrap_call(&mut c.loop_step, STEP);
    }
}

/// The CEL parser (antlr4rust) panics on some malformed inputs instead of failing; artifact text must never
/// take the process down, so a panic is turned into a parse error.
fn guarded<T>(source: &str, parse: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(parse)).unwrap_or_else(|_| {
        Err(format!(
            "cannot parse CEL `{source}`: the parser gave up on this input"
        ))
    })
}

/// Nesting the parser is allowed to see: it recurses about ten rules deep per bracket, and a stack overflow
/// cannot be caught, so deeper text is refused before it is parsed.
pub const MAX_BRACKET_DEPTH: usize = 12;

/// The deepest nesting of brackets and prefix operators in `source`, outside string literals.
fn bracket_depth(source: &str) -> usize {
    let (mut depth, mut max, mut prefix_run) = (0usize, 0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in source.chars() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        prefix_run = if matches!(c, '!' | '-') {
            prefix_run + 1
        } else if c.is_whitespace() {
            prefix_run
        } else {
            0
        };
        max = max.max(depth + prefix_run);
    }
    max
}

/// Refuses text too long or too deeply nested to be handed to the parser.
fn check_size(source: &str) -> Result<(), String> {
    if source.len() > MAX_EXPRESSION_LEN {
        return Err(format!(
            "expression is longer than {MAX_EXPRESSION_LEN} characters"
        ));
    }
    let depth = bracket_depth(source);
    if depth > MAX_BRACKET_DEPTH {
        return Err(format!(
            "the expression nests {depth} levels deep; at most {MAX_BRACKET_DEPTH} are allowed"
        ));
    }
    Ok(())
}

/// The syntax tree of an expression (RLS lowering, the nesting bound).
pub fn parse_ast(source: &str) -> Result<cel_parser::Expression, String> {
    check_size(source)?;
    guarded(source, || {
        cel_parser::Parser::default()
            .parse(source)
            .map_err(|e| format!("cannot parse CEL `{source}`: {e}"))
    })
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

    /// Whether the expression names `ident` anywhere (a root such as `record`).
    pub fn references(&self, ident: &str) -> bool {
        fn walk(e: &mut cel_parser::Expression, ident: &str) -> bool {
            matches!(&e.expr, cel_parser::ast::Expr::Ident(n) if n == ident)
                || children_mut(e).into_iter().any(|c| walk(c, ident))
        }
        // The walk borrows mutably only to share the traversal with the rewriting passes; a copy is walked.
        walk(&mut self.ast.clone(), ident)
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
        let value = resolve(&self.ast, &ctx)?;
        to_json(&value)
    }
}
