//! The JavaScript runtime component: runs ObjectStack `{language: "js"}` bodies (the statements of an async
//! function that sees `ctx`) with the Boa engine, inside the sandbox like any other body. `ctx.api` reaches
//! data through the `data` import, so every call is checked by the kernel as the caller; the body's
//! `capabilities` decide which calls it may make at all.

use boa_engine::builtins::promise::PromiseState;
use boa_engine::object::builtins::JsPromise;
use boa_engine::{
    Context, JsError, JsNativeError, JsResult, JsValue, NativeFunction, Source, js_string,
};
use objectos_sdk::hook::objectos::host::{data, log};
use objectos_sdk::script::exports::objectos::host::script::Guest;
use objectos_sdk::{Caller, Error, Value, json};
use std::cell::RefCell;
use std::collections::HashMap;

thread_local! {
    /// The capabilities of the body being run (one body per instance).
    static CAPABILITIES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn granted(capability: &str) -> bool {
    CAPABILITIES.with(|c| c.borrow().iter().any(|g| g == capability))
}

fn type_error(message: String) -> JsError {
    JsNativeError::typ().with_message(message).into()
}

fn arg(args: &[JsValue], i: usize, ctx: &mut Context) -> JsResult<String> {
    Ok(args
        .get(i)
        .cloned()
        .unwrap_or_default()
        .to_string(ctx)?
        .to_std_string_escaped())
}

fn error_text(e: &Error) -> String {
    match e {
        Error::Denied(m) => format!("permission denied: {m}"),
        Error::NotFound(m) => format!("not found: {m}"),
        Error::Invalid(m) => m.clone(),
        Error::Conflict(m) => format!("conflict: {m}"),
        Error::Internal(m) => format!("internal error: {m}"),
    }
}

/// `__objectos_host(op, object, a, b)`: one data call, as JSON text.
fn host_call(_this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let op = arg(args, 0, ctx)?;
    let object = arg(args, 1, ctx)?;
    let a = arg(args, 2, ctx)?;
    let b = arg(args, 3, ctx)?;
    let needed = match op.as_str() {
        "find" => "api.read",
        "insert" | "update" | "delete" => "api.write",
        other => return Err(type_error(format!("unknown data operation {other}"))),
    };
    if !granted(needed) {
        // A refusal (an `Error`), not a broken body: the body asked for what it did not declare.
        return Err(JsNativeError::error().with_message(format!(
            "ctx.api.object('{object}').{op} needs the {needed} capability, which this body does not declare"
        )).into());
    }
    let answer = match op.as_str() {
        "find" => data::find(&object, &a),
        "insert" => data::insert(&object, &a),
        "update" => data::update(&object, &a, &b),
        _ => data::delete(&object, &a).map(|()| "null".to_string()),
    };
    match answer {
        Ok(text) => Ok(JsValue::from(js_string!(text))),
        Err(e) => Err(JsNativeError::error().with_message(error_text(&e)).into()),
    }
}

fn host_log(_this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    // Logging is allowed to every body: the capability list is about data.
    let level = match arg(args, 0, ctx)?.as_str() {
        "debug" => log::Level::Debug,
        "warn" => log::Level::Warn,
        "error" => log::Level::Error,
        _ => log::Level::Info,
    };
    log::log(level, &arg(args, 1, ctx)?);
    Ok(JsValue::undefined())
}

fn host_uuid(_this: &JsValue, _args: &[JsValue], _ctx: &mut Context) -> JsResult<JsValue> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| type_error(format!("no randomness: {e}")))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let text = format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    );
    Ok(JsValue::from(js_string!(text)))
}

/// The message of a thrown value (`Error.message` when it has one).
fn thrown_message(value: &JsValue, ctx: &mut Context) -> String {
    if let Some(obj) = value.as_object()
        && let Ok(m) = obj.get(js_string!("message"), ctx)
        && !m.is_undefined()
        && let Ok(s) = m.to_string(ctx)
    {
        return s.to_std_string_escaped();
    }
    value
        .to_string(ctx)
        .map(|s| s.to_std_string_escaped())
        .unwrap_or_else(|_| "the body threw".into())
}

/// What a thrown value means: an `Error` (or any other value) the body threw is its verdict; one of the
/// engine's own errors (`TypeError`, `RangeError`, …: reading a property of null, an invalid date) means the
/// body is broken, as the real server treats it (a server error, not a refusal).
fn failure_of(value: &JsValue, ctx: &mut Context) -> Failure {
    let message = thrown_message(value, ctx);
    let name = value
        .as_object()
        .and_then(|o| o.get(js_string!("name"), ctx).ok())
        .and_then(|n| n.as_string().map(|s| s.to_std_string_escaped()));
    match name.as_deref() {
        Some(
            n @ ("TypeError" | "RangeError" | "ReferenceError" | "SyntaxError" | "EvalError"
            | "URIError"),
        ) => Failure::Broken(format!("{n}: {message}")),
        _ => Failure::Threw(message),
    }
}

/// Why a body could not run: a thrown value (the body's own verdict) or a broken body.
enum Failure {
    Threw(String),
    Broken(String),
}

/// `ctx.input` (undefined when `ctx` is not an object).
fn input_of(ctx: &JsValue, context: &mut Context) -> Result<JsValue, Failure> {
    match ctx.as_object() {
        Some(o) => o
            .get(js_string!("input"), context)
            .map_err(|e| Failure::Broken(e.to_string())),
        None => Ok(JsValue::undefined()),
    }
}

/// A JS context with the natives registered and the prelude loaded, plus the bodies compiled so far (source →
/// the factory that closes over `input` and returns the body's async function).
struct Prepared {
    context: Context,
    bodies: HashMap<String, JsValue>,
}

thread_local! {
    /// Filled by `prepare` before the host snapshots the instance; an instance made from the snapshot takes it
    /// for its one call. Empty in an instance of the plain runtime: the call then builds its own.
    static PREPARED: RefCell<Option<Prepared>> = const { RefCell::new(None) };
}

fn new_context() -> JsResult<Context> {
    let mut context = Context::default();
    context.register_global_callable(
        js_string!("__objectos_host"),
        4,
        NativeFunction::from_fn_ptr(host_call),
    )?;
    context.register_global_callable(
        js_string!("__objectos_log"),
        2,
        NativeFunction::from_fn_ptr(host_log),
    )?;
    context.register_global_callable(
        js_string!("__objectos_uuid"),
        0,
        NativeFunction::from_fn_ptr(host_uuid),
    )?;
    context.eval(Source::from_bytes(include_str!("prelude.js")))?;
    Ok(context)
}

/// Compiles a body into its factory. ObjectStack's runner also gives bodies `input` (= ctx.input) as a
/// variable; it comes from an enclosing closure so that a body may still declare its own `const input`.
fn compile(source: &str, context: &mut Context) -> Result<JsValue, Failure> {
    let wrapped = format!("(function (input) {{ return async function (ctx) {{\n{source}\n}}; }})");
    context
        .eval(Source::from_bytes(wrapped.as_bytes()))
        .map_err(|e| Failure::Broken(format!("the body does not parse: {e}")))
}

fn prepare(sources: &[String]) -> u32 {
    let Ok(mut context) = new_context() else {
        return 0;
    };
    let mut bodies = HashMap::new();
    for source in sources {
        if let Ok(factory) = compile(source, &mut context) {
            bodies.insert(source.clone(), factory);
        }
    }
    let compiled = bodies.len() as u32;
    PREPARED.with(|p| *p.borrow_mut() = Some(Prepared { context, bodies }));
    // Collect now, so that the snapshot holds only live objects and a call does not start with the
    // allocation counter near the collector's threshold (a full collection per call otherwise).
    boa_engine::gc::force_collect();
    compiled
}

/// Runs `source` as the body of `async function(ctx)`; returns its value and `ctx.input` afterwards.
fn run(source: &str, ctx_value: &Value) -> Result<(Value, Value), Failure> {
    let broken = |e: JsError| Failure::Broken(e.to_string());
    let prepared = PREPARED.with(|p| p.borrow_mut().take());
    let (mut context, function) = match prepared {
        Some(mut p) => match p.bodies.remove(source) {
            Some(f) => (p.context, f),
            None => {
                let f = compile(source, &mut p.context)?;
                (p.context, f)
            }
        },
        None => {
            let mut context = new_context().map_err(broken)?;
            let f = compile(source, &mut context)?;
            (context, f)
        }
    };
    let make_ctx = context
        .global_object()
        .get(js_string!("__objectos_ctx"), &mut context)
        .map_err(broken)?;
    let raw = JsValue::from_json(ctx_value, &mut context).map_err(broken)?;
    let ctx = make_ctx
        .as_callable()
        .ok_or_else(|| Failure::Broken("the prelude did not load".into()))?
        .call(&JsValue::undefined(), &[raw], &mut context)
        .map_err(broken)?;
    let factory = function
        .as_callable()
        .ok_or_else(|| Failure::Broken("the body is not a function".into()))?;
    let input = input_of(&ctx, &mut context)?;
    let body = factory
        .call(&JsValue::undefined(), &[input], &mut context)
        .map_err(broken)?;
    let callable = body
        .as_callable()
        .ok_or_else(|| Failure::Broken("the body is not a function".into()))?;
    let promise = match callable.call(&JsValue::undefined(), &[ctx.clone()], &mut context) {
        Ok(p) => p,
        Err(e) => {
            let v = e.into_opaque(&mut context).unwrap_or_default();
            return Err(failure_of(&v, &mut context));
        }
    };
    context.run_jobs().map_err(broken)?;
    let promise = promise
        .as_object()
        .and_then(|o| JsPromise::from_object(o).ok())
        .ok_or_else(|| Failure::Broken("the body did not return a promise".into()))?;
    let result = match promise.state() {
        PromiseState::Fulfilled(v) => v,
        PromiseState::Rejected(e) => return Err(failure_of(&e, &mut context)),
        PromiseState::Pending => {
            return Err(Failure::Broken(
                "the body awaited something that never settles".into(),
            ));
        }
    };
    let to_json = |v: &JsValue, context: &mut Context| -> Result<Value, Failure> {
        Ok(v.to_json(context).map_err(broken)?.unwrap_or(Value::Null))
    };
    let result = to_json(&result, &mut context)?;
    // Read again: the body may have replaced `ctx.input` as well as changed it.
    let input = input_of(&ctx, &mut context)?;
    let input = to_json(&input, &mut context)?;
    Ok((result, input))
}

fn user_of(caller: &Caller) -> Value {
    json!({
        "userId": caller.user_id,
        "id": caller.user_id,
        "organizationId": caller.organization_id,
        "positions": caller.positions,
        "isSystem": caller.is_system,
    })
}

fn parse(text: &str, what: &str) -> Result<Value, Error> {
    objectos_sdk::serde_json::from_str(text)
        .map_err(|e| Error::Invalid(format!("{what} is not JSON: {e}")))
}

struct Runtime;

impl Guest for Runtime {
    fn run_hook(
        source: String,
        capabilities: Vec<String>,
        c: Caller,
        event: String,
    ) -> Result<String, Error> {
        CAPABILITIES.with(|cell| *cell.borrow_mut() = capabilities);
        let mut ctx = parse(&event, "the event")?;
        let user = user_of(&c);
        ctx["user"] = user.clone();
        ctx["session"] = user;
        match run(&source, &ctx) {
            Ok((_, input)) => Ok(json!({ "proceed": input }).to_string()),
            Err(Failure::Threw(message)) => Ok(json!({ "abort": message }).to_string()),
            Err(Failure::Broken(message)) => Err(Error::Internal(message)),
        }
    }

    fn prepare(sources: Vec<String>) -> u32 {
        prepare(&sources)
    }

    fn run_function(
        source: String,
        capabilities: Vec<String>,
        c: Caller,
        input: String,
    ) -> Result<String, Error> {
        CAPABILITIES.with(|cell| *cell.borrow_mut() = capabilities);
        let input = parse(&input, "the input")?;
        let user = user_of(&c);
        let ctx = json!({
            "input": input.get("params").cloned().unwrap_or(Value::Null),
            "params": input.get("params").cloned().unwrap_or(Value::Null),
            "recordId": input.get("recordId").cloned().unwrap_or(Value::Null),
            "record": input.get("record").cloned().unwrap_or(Value::Null),
            "object": input.get("object").cloned().unwrap_or(Value::Null),
            "user": user.clone(),
            "session": user,
        });
        match run(&source, &ctx) {
            Ok((result, _)) => Ok(result.to_string()),
            Err(Failure::Threw(message)) => Err(Error::Invalid(message)),
            Err(Failure::Broken(message)) => Err(Error::Internal(message)),
        }
    }
}

objectos_sdk::export_script!(Runtime);
