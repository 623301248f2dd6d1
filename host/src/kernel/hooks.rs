//! The hook pipeline: which hooks fire for an object and event, in `priority` order, with their `condition`,
//! `onError`, `async` + `retryPolicy` and `runAs`. Bodies are Wasm components (run in the sandbox) or CEL
//! expressions. A guest's `data` calls are served here, inside the transaction of the write that fired it.

use super::{DataOp, Kernel, OpResult, Principal};
use crate::artifact::Artifact;
use crate::artifact::model::{BodyDef, RetryPolicy};
use crate::data::driver::{Record, Transaction};
use crate::data::error::{DataError, ErrorKind, FieldError};
use crate::expr::Compiled;
use crate::sandbox::{
    BodyKind, Caller, DataBridge, DataRequest, GuestCall, GuestError, HookEvent, HookOutcome,
    Limits, LoadedComponent, Sandbox,
};
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Where the JS runtime component sits among the loaded components.
pub const JS_RUNTIME: &str = "js-runtime";

/// The protocol's hook events (their order gives each its bit).
pub use crate::artifact::validate::HOOK_EVENTS as EVENTS;

fn event_bit(event: &str) -> u8 {
    EVENTS
        .iter()
        .position(|e| *e == event)
        .map_or(0, |i| 1u8 << i)
}

/// Code that runs for a hook, an action or a function.
pub enum Body {
    Wasm {
        component: Arc<LoadedComponent>,
        limits: Limits,
    },
    Cel(Compiled),
    /// A JavaScript body, run by the JS runtime component.
    Js {
        runtime: Arc<LoadedComponent>,
        source: String,
        capabilities: Vec<String>,
        limits: Limits,
    },
    /// A hooks plugin's hook: runs in the plugin's instance, as the plugin's principal.
    Plugin(Arc<crate::plugins::runtime::RunningPlugin>),
    /// Cannot run here (yet): a JavaScript body, a `runtimeModule` handler. Says why.
    Unavailable(String),
}

impl Body {
    /// Compiles a body: a Wasm component is checked and pre-instantiated, CEL parsed.
    pub fn compile(
        name: &str,
        def: &BodyDef,
        kind: BodyKind,
        sandbox: Option<&Sandbox>,
        components: &mut HashMap<(String, BodyKind), Arc<LoadedComponent>>,
    ) -> Result<Body, DataError> {
        match def.language.as_str() {
            "wasm" => {
                let sandbox = sandbox
                    .ok_or_else(|| DataError::Internal("no sandbox for a wasm body".into()))?;
                let sha = def.sha256.clone().unwrap_or_default().to_ascii_lowercase();
                let component = match components.get(&(sha.clone(), kind)) {
                    Some(c) => c.clone(),
                    None => {
                        use base64::Engine as _;
                        let bytes = base64::engine::general_purpose::STANDARD
                            .decode(def.component.as_deref().unwrap_or(""))
                            .map_err(|e| {
                                DataError::Schema(format!("{name}: component is not base64: {e}"))
                            })?;
                        let loaded = Arc::new(
                            sandbox
                                .load(name, kind, &bytes)
                                .map_err(DataError::Sandbox)?,
                        );
                        if loaded.sha256 != sha {
                            return Err(DataError::Schema(format!(
                                "{name}: the component's SHA-256 is {}, not the declared {sha}",
                                loaded.sha256
                            )));
                        }
                        components.insert((sha, kind), loaded.clone());
                        loaded
                    }
                };
                Ok(Body::Wasm {
                    component,
                    limits: sandbox.config.limits(kind, def.timeout_ms, def.memory_mb),
                })
            }
            "expression" => crate::expr::compile(def.source.as_deref().unwrap_or(""))
                .map(Body::Cel)
                .map_err(|e| DataError::Schema(format!("{name}: {e}"))),
            "js" => match components.get(&(JS_RUNTIME.to_string(), BodyKind::Script)) {
                Some(runtime) => {
                    let sandbox = sandbox.ok_or_else(|| {
                        DataError::Internal("no sandbox for a js body".into())
                    })?;
                    let mut limits = sandbox.config.limits(kind, def.timeout_ms, def.memory_mb);
                    // The engine itself (context, parser) needs more fuel than a native body.
                    limits.fuel = limits.fuel.max(sandbox.config.function.fuel);
                    Ok(Body::Js {
                        runtime: runtime.clone(),
                        source: def.source.clone().unwrap_or_default(),
                        capabilities: def.capabilities.clone(),
                        limits,
                    })
                }
                None => Ok(Body::Unavailable(
                    "JavaScript bodies need the JS runtime component (--js-runtime), which this server was not given".into(),
                )),
            },
            other => Ok(Body::Unavailable(format!("unknown body language {other}"))),
        }
    }
}

pub struct CompiledHook {
    pub name: String,
    /// `None`: every object (`"*"`).
    objects: Option<Vec<String>>,
    events: u8,
    priority: i64,
    condition: Option<Compiled>,
    abort_on_error: bool,
    pub is_async: bool,
    retry: RetryPolicy,
    run_as_system: bool,
    body: Body,
}

impl CompiledHook {
    fn applies_to(&self, object: &str, bit: u8) -> bool {
        self.events & bit != 0
            && self
                .objects
                .as_ref()
                .is_none_or(|names| names.iter().any(|n| n == object))
    }
}

/// Every runnable hook of the artifact, by priority (lower first), then declaration order.
#[derive(Default)]
pub struct Hooks {
    list: Vec<Arc<CompiledHook>>,
    /// Events some hook listens to, per object ("*" hooks under the empty name): a write with no hooks
    /// pays one map lookup.
    listening: HashMap<String, u8>,
}

impl Hooks {
    pub fn compile(
        artifact: &Artifact,
        sandbox: Option<&Sandbox>,
        components: &mut HashMap<(String, BodyKind), Arc<LoadedComponent>>,
    ) -> Result<Hooks, DataError> {
        let mut list = Vec::new();
        for def in &artifact.definition.hooks {
            let body = match &def.body {
                Some(b) => Body::compile(&def.name, b, BodyKind::Hook, sandbox, components)?,
                None => Body::Unavailable(format!(
                    "handler {} lives in the runtimeModule, which objectos cannot run",
                    def.handler.as_deref().unwrap_or(&def.name)
                )),
            };
            if let Body::Unavailable(why) = &body {
                tracing::warn!(hook = %def.name, "hook will not run: {why}");
                continue;
            }
            let objects = match &def.object {
                Value::String(s) if s == "*" => None,
                Value::String(s) => Some(vec![s.clone()]),
                Value::Array(items) if items.iter().any(|i| i == "*") => None,
                Value::Array(items) => Some(
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect(),
                ),
                _ => Some(vec![]),
            };
            let condition = match &def.condition {
                Some(expr) => Some(
                    crate::expr::compile(&expr.source)
                        .map_err(|e| DataError::Schema(format!("hook {}: {e}", def.name)))?,
                ),
                None => None,
            };
            list.push(Arc::new(CompiledHook {
                name: def.name.clone(),
                objects,
                events: def
                    .events
                    .iter()
                    .map(|e| event_bit(e))
                    .fold(0, |a, b| a | b),
                priority: def.priority.unwrap_or(100),
                condition,
                abort_on_error: def.on_error.as_deref() != Some("log"),
                is_async: def.is_async,
                retry: def.retry_policy.clone().unwrap_or(RetryPolicy {
                    max_retries: 3,
                    backoff_ms: 1000,
                }),
                run_as_system: def.run_as.as_deref() == Some("system"),
                body,
            }));
        }
        Ok(Hooks::from_list(list))
    }

    /// Adds the hooks of hooks plugins (after the artifact's hooks of the same priority).
    pub fn with_plugins(self, plugins: &[Arc<crate::plugins::runtime::RunningPlugin>]) -> Hooks {
        let mut list = self.list;
        for plugin in plugins {
            for h in &plugin.hooks {
                list.push(Arc::new(CompiledHook {
                    name: format!("plugin:{}", plugin.id),
                    objects: (h.object != "*").then(|| vec![h.object.clone()]),
                    events: h.events.iter().map(|e| event_bit(e)).fold(0, |a, b| a | b),
                    priority: h.priority.unwrap_or(100),
                    condition: None,
                    abort_on_error: h.on_error.as_deref() != Some("log"),
                    is_async: h.is_async,
                    retry: RetryPolicy {
                        max_retries: if h.is_async { 3 } else { 0 },
                        backoff_ms: 1000,
                    },
                    run_as_system: false,
                    body: Body::Plugin(plugin.clone()),
                }));
            }
        }
        Hooks::from_list(list)
    }

    fn from_list(mut list: Vec<Arc<CompiledHook>>) -> Hooks {
        // Stable: declaration order within a priority.
        list.sort_by_key(|h| h.priority);
        let mut listening: HashMap<String, u8> = HashMap::new();
        for h in &list {
            match &h.objects {
                None => *listening.entry(String::new()).or_default() |= h.events,
                Some(names) => {
                    for n in names {
                        *listening.entry(n.clone()).or_default() |= h.events;
                    }
                }
            }
        }
        Hooks { list, listening }
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Does any hook listen to `event` on `object`?
    pub fn listens(&self, object: &str, event: &str) -> bool {
        let bit = event_bit(event);
        self.listening.get(object).is_some_and(|m| m & bit != 0)
            || self.listening.get("").is_some_and(|m| m & bit != 0)
    }

    fn matching(&self, object: &str, event: &str) -> Vec<Arc<CompiledHook>> {
        let bit = event_bit(event);
        self.list
            .iter()
            .filter(|h| h.applies_to(object, bit))
            .cloned()
            .collect()
    }
}

/// State carried through one write (and the writes its hooks make): how deep hooks have nested, and the
/// `async` after-hooks to start once the transaction has committed.
#[derive(Default)]
pub struct WriteCx {
    pub depth: usize,
    pub after_commit: Vec<AsyncHookJob>,
    /// The first of a guest's data calls that its caller's permissions refused: if the hook then fails, the
    /// write is refused for that reason (403), not as a generic hook rejection.
    pub denied: Option<(String, Option<String>, String)>,
    /// The last of a guest's data calls that validation refused: the message the guest was given and the
    /// field errors. A body that fails with exactly that message failed because of it (an action answers
    /// `VALIDATION_FAILED` with the fields, as the real server does for a `ValidationError` a body let through).
    pub invalid: Option<(String, Vec<FieldError>)>,
    /// The transaction these calls run in belongs to an action's body (not to a write whose hooks are
    /// running): its body may call service plugins, whose data calls join the transaction.
    pub in_action: bool,
}

impl WriteCx {
    pub fn at_depth(depth: usize) -> WriteCx {
        WriteCx {
            depth,
            ..WriteCx::default()
        }
    }

    /// The failure of a body, or the permission refusal that caused it, worded as the real server words a
    /// `PermissionDeniedError` a body let through: the error's name and message, on `written` (the object
    /// whose hook ran) when there is one, else on the object the refused call wrote.
    pub(crate) fn failure(&mut self, written: Option<&str>, e: DataError) -> DataError {
        match self.denied.take() {
            Some((object, _field, message)) => DataError::PermissionDenied {
                object: written.map_or(object, str::to_string),
                field: None,
                message: format!("PermissionDeniedError: {message}"),
            },
            None => e,
        }
    }
}

/// An `async` after-hook waiting for its transaction to commit.
pub struct AsyncHookJob {
    hook: Arc<CompiledHook>,
    principal: Principal,
    event: HookEvent,
    depth: usize,
}

/// What a hook sees of one event.
pub struct EventInput<'a> {
    pub object: &'a str,
    pub event: &'static str,
    pub input: Value,
    pub previous: Option<&'a Record>,
    pub record_id: Option<&'a str>,
}

pub fn caller_of(principal: &Principal) -> Caller {
    Caller {
        user_id: principal.user_id.clone(),
        organization_id: principal.organization_id.clone(),
        positions: principal.positions.clone(),
        is_system: principal.is_system || principal.elevated,
    }
}

/// The principal a body acts as: the caller, or (`runAs: system`) the runtime within the caller's
/// organization.
pub fn acting_as(principal: &Principal, run_as_system: bool) -> Principal {
    if run_as_system {
        principal.elevated()
    } else {
        principal.clone()
    }
}

fn rejected(object: &str, event: &str, record_id: Option<&str>, message: String) -> DataError {
    DataError::HookRefused {
        object: object.to_string(),
        message,
        reading_one: event == "beforeFind" && record_id.is_some(),
    }
}

/// A hook body that broke (the JS engine's own `TypeError`, a guest's internal error) fails the operation as
/// a server error, as on the real server: the details go to the log, not to the client.
fn broken_as_internal(e: DataError) -> DataError {
    match e {
        DataError::Sandbox(crate::sandbox::SandboxError::Guest {
            body,
            error: crate::sandbox::GuestFailure::Internal(message),
        }) => DataError::Internal(format!("hook {body} failed: {message}")),
        other => other,
    }
}

/// How a kernel error looks to a guest.
pub fn guest_error(e: DataError) -> GuestError {
    let message = e.to_string();
    match e {
        DataError::ObjectNotFound(_) | DataError::RecordNotFound { .. } => {
            GuestError::NotFound(message)
        }
        DataError::InvalidField { .. }
        | DataError::InvalidSort { .. }
        | DataError::InvalidFilter { .. }
        | DataError::InvalidQuery { .. }
        | DataError::QueryShape { .. }
        | DataError::Validation { .. } => GuestError::Invalid(message),
        DataError::Unique { .. }
        | DataError::DeleteRestricted { .. }
        | DataError::ConcurrentUpdate { .. } => GuestError::Conflict(message),
        DataError::ActionRefused { .. } | DataError::PermissionDenied { .. } => {
            GuestError::Denied(message)
        }
        DataError::Service {
            kind: ErrorKind::Denied,
            ..
        } => GuestError::Denied(message),
        DataError::Service {
            kind: ErrorKind::NotFound,
            ..
        } => GuestError::NotFound(message),
        DataError::Internal(_) => {
            GuestError::Internal("internal error (see the server log)".into())
        }
        _ => GuestError::Internal(message),
    }
}

/// A guest's data call failed: the guest gets the error; a server-side failure (the database refused
/// the query, a datasource outage) is also logged with the request id, which the guest's error names.
fn server_failure(principal: &Principal, e: DataError) -> GuestError {
    if !matches!(
        e.kind(),
        ErrorKind::Internal
            | ErrorKind::Unavailable
            | ErrorKind::Timeout
            | ErrorKind::NotImplemented
    ) {
        return guest_error(e);
    }
    let request = principal.request_id.as_deref().unwrap_or("-");
    tracing::error!(
        request_id = request,
        code = e.code(),
        "a guest's data call failed: {e}"
    );
    match guest_error(e) {
        GuestError::Internal(_) => GuestError::Internal(format!(
            "internal error (see the server log, request id {request})"
        )),
        other => other,
    }
}

/// Whether one of the record's top-level values is the string `marker` (see `SandboxConfig::panic_on_marker`).
fn holds_marker(record: &Value, marker: &str) -> bool {
    record
        .as_object()
        .is_some_and(|m| m.values().any(|v| v.as_str() == Some(marker)))
}

/// A shorter borrow of an optional transaction (`as_deref_mut` cannot shorten the trait object's lifetime).
fn reborrow<'b>(tx: &'b mut Option<&mut dyn Transaction>) -> Option<&'b mut dyn Transaction> {
    match tx {
        Some(t) => Some(&mut **t),
        None => None,
    }
}

fn parse_object(text: &str, what: &str) -> Result<Record, GuestError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(GuestError::Invalid(format!(
            "{what} must be a JSON object, found {other}"
        ))),
        Err(e) => Err(GuestError::Invalid(format!("{what} is not JSON: {e}"))),
    }
}

impl Kernel {
    /// A record as JSON text without the fields `principal` may not read.
    fn readable_json(&self, principal: &Principal, object: &str, record: &Record) -> String {
        let mut r = record.clone();
        if let Some(schema) = self.catalog.object(object) {
            let access = self.permissions.access(principal, schema);
            super::enforce::mask(&access, std::slice::from_mut(&mut r));
        }
        Value::Object(r).to_string()
    }

    /// Runs the hooks of `event` on `input.object`; returns the input as the before-hooks left it.
    /// `tx` is the write's transaction (none for reads and for async hooks).
    pub(crate) async fn run_hooks(
        &self,
        mut tx: Option<&mut dyn Transaction>,
        principal: &Principal,
        cx: &mut WriteCx,
        ev: EventInput<'_>,
    ) -> Result<Value, DataError> {
        if let Some(marker) = &self.sandbox_config.panic_on_marker
            && ev.event.starts_with("before")
            && holds_marker(&ev.input, marker)
        {
            // Fault injection for the tests of the panic boundaries; off unless a test sets it.
            panic!("fault injection: a record holds the panic marker");
        }
        // One map lookup for a write whose object and event no hook listens to.
        if !self.hooks.listens(ev.object, ev.event) {
            return Ok(ev.input);
        }
        let mut input = ev.input;
        // The stored record as the hooks may see it, serialized at most once per view: a guest running as
        // the user sees it as the user may (unreadable fields masked); one running as system sees all of it.
        let (mut previous_as_system, mut previous_as_user) = (None, None);
        for hook in self.hooks.matching(ev.object, ev.event) {
            // A plugin's own writes do not fire its own hooks (its instance is busy serving the first one).
            if let (Body::Plugin(p), Some(acting)) = (&hook.body, &principal.plugin)
                && p.id == acting.id
            {
                continue;
            }
            if let Some(condition) = &hook.condition {
                let record = self.condition_scope(ev.object, ev.previous, &input);
                let previous = ev
                    .previous
                    .cloned()
                    .map(Value::Object)
                    .unwrap_or(Value::Null);
                let user =
                    json!({"id": principal.user_id, "organizationId": principal.organization_id});
                match condition.evaluate_in(
                    &record,
                    &[
                        ("previous", &previous),
                        ("user", &user),
                        ("current_user", &user),
                    ],
                    chrono::Utc::now(),
                ) {
                    Ok(Value::Bool(true)) => {}
                    Ok(_) => continue,
                    // A condition that cannot be evaluated on this record fails closed, as a validation rule
                    // does: the operation is refused, naming the hook (the real server answers 500).
                    // The fault stays in the log: it may quote values of the record the caller may not read.
                    Err(e) => {
                        tracing::warn!(hook = %hook.name, "hook condition could not be evaluated: {e}");
                        let mut f = crate::data::error::FieldError::new(
                            "_record",
                            "",
                            "hook_condition_unevaluable",
                            format!(
                                "The condition of hook '{}' could not be evaluated on this record \u{2014} operation rejected.",
                                hook.name
                            ),
                        )
                        .with_constraint(json!({"hook": hook.name, "reason": "unevaluable"}));
                        f.label = None;
                        return Err(DataError::validation(ev.object, vec![f]));
                    }
                }
            }
            // A plugin granted to read the object sees all of the stored record, as a system body does.
            let full_view = hook.run_as_system || matches!(hook.body, Body::Plugin(_));
            let previous = if full_view {
                previous_as_system
                    .get_or_insert_with(|| {
                        ev.previous.map(|p| Value::Object(p.clone()).to_string())
                    })
                    .clone()
            } else {
                previous_as_user
                    .get_or_insert_with(|| {
                        ev.previous
                            .map(|p| self.readable_json(principal, ev.object, p))
                    })
                    .clone()
            };
            let event = HookEvent {
                object: ev.object.to_string(),
                event: ev.event.to_string(),
                input: input.to_string(),
                previous,
                record_id: ev.record_id.map(str::to_string),
                caller: caller_of(&acting_as(principal, hook.run_as_system)),
            };
            if hook.is_async && ev.event.starts_with("after") {
                let job = AsyncHookJob {
                    hook: hook.clone(),
                    principal: principal.clone(),
                    event,
                    depth: cx.depth,
                };
                if tx.is_some() {
                    cx.after_commit.push(job);
                } else {
                    self.spawn_after_commit(vec![job]);
                }
                continue;
            }
            let outcome = self
                .invoke_hook(reborrow(&mut tx), &hook, principal, cx, &event)
                .await
                .and_then(|outcome| match outcome {
                    // A replacement that is not JSON at all is the body's fault (one that is JSON but not a
                    // record for this event is ignored below).
                    HookOutcome::Proceed(Some(text)) => {
                        crate::sandbox::parse_result(&hook.name, &text)
                            .map(|_| HookOutcome::Proceed(Some(text)))
                            .map_err(DataError::Sandbox)
                    }
                    other => Ok(other),
                });
            match outcome {
                Ok(HookOutcome::Proceed(Some(replacement))) => {
                    match serde_json::from_str::<Value>(&replacement) {
                        Ok(v @ Value::Object(_)) if ev.event.starts_with("before") => input = v,
                        Ok(Value::Object(m))
                            if ev.event == "afterFind"
                                && m.get("records").is_some_and(Value::is_array) =>
                        {
                            input = Value::Object(m)
                        }
                        _ => {
                            tracing::debug!(hook = %hook.name, event = ev.event, "replacement ignored: not a record for this event")
                        }
                    }
                }
                Ok(HookOutcome::Proceed(None)) => {}
                Ok(HookOutcome::Abort(message)) => {
                    return Err(cx.failure(
                        Some(ev.object),
                        rejected(ev.object, ev.event, ev.record_id, message),
                    ));
                }
                Err(e) if hook.abort_on_error => {
                    return Err(cx.failure(Some(ev.object), broken_as_internal(e)));
                }
                Err(e) => {
                    tracing::warn!(hook = %hook.name, code = e.code(), "hook failed (onError: log): {e}")
                }
            }
        }
        Ok(input)
    }

    /// What a hook's condition sees as `record`: every field the object declares (null when unset), then the
    /// stored record, then what this operation writes, as the real server scopes it.
    fn condition_scope(&self, object: &str, previous: Option<&Record>, input: &Value) -> Record {
        let mut scope: Record = self
            .catalog
            .object(object)
            .map(|schema| {
                schema
                    .fields
                    .iter()
                    .map(|f| (f.name.clone(), Value::Null))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(p) = previous {
            scope.extend(p.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        if let Some(m) = input.as_object() {
            scope.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        scope
    }

    /// One hook body, whatever its language.
    async fn invoke_hook(
        &self,
        tx: Option<&mut dyn Transaction>,
        hook: &CompiledHook,
        principal: &Principal,
        cx: &mut WriteCx,
        event: &HookEvent,
    ) -> Result<HookOutcome, DataError> {
        match &hook.body {
            Body::Cel(expr) => {
                let record: Record = serde_json::from_str(&event.input).unwrap_or_default();
                let previous = event
                    .previous
                    .as_deref()
                    .and_then(|p| serde_json::from_str(p).ok())
                    .unwrap_or(Value::Null);
                let user =
                    json!({"id": principal.user_id, "organizationId": principal.organization_id});
                let value = expr
                    .evaluate_in(
                        &record,
                        &[
                            ("previous", &previous),
                            ("user", &user),
                            ("current_user", &user),
                            ("event", &json!(event.event)),
                        ],
                        chrono::Utc::now(),
                    )
                    .map_err(|e| {
                        DataError::Sandbox(crate::sandbox::SandboxError::Trapped {
                            body: hook.name.clone(),
                            reason: format!("expression failed: {e}"),
                        })
                    })?;
                Ok(cel_outcome(&hook.name, record, value))
            }
            Body::Wasm { component, limits } => {
                let acting = acting_as(principal, hook.run_as_system);
                let sandbox = self.sandbox_ref()?;
                self.serve_guest(tx, &acting, cx, |bridge| {
                    sandbox.call_hook(component, limits, event, Some(bridge))
                })
                .await
                .map_err(DataError::Sandbox)
            }
            Body::Js {
                runtime,
                source,
                capabilities,
                limits,
            } => {
                let acting = acting_as(principal, hook.run_as_system);
                let input: Value = serde_json::from_str(&event.input).unwrap_or(Value::Null);
                let previous: Value = event
                    .previous
                    .as_deref()
                    .and_then(|p| serde_json::from_str(p).ok())
                    .unwrap_or(Value::Null);
                let result = if event.event.starts_with("after") {
                    input.clone()
                } else {
                    Value::Null
                };
                let payload = json!({
                    "object": event.object,
                    "event": event.event,
                    "input": input,
                    "previous": previous,
                    "result": result,
                    "recordId": event.record_id,
                })
                .to_string();
                let caller = caller_of(&acting);
                let sandbox = self.sandbox_ref()?;
                let answer = self
                    .serve_guest(tx, &acting, cx, |bridge| {
                        sandbox.call_script(
                            runtime,
                            &hook.name,
                            limits,
                            true,
                            source,
                            capabilities,
                            &caller,
                            &payload,
                            Some(bridge),
                        )
                    })
                    .await
                    .map_err(DataError::Sandbox)?;
                let answer = crate::sandbox::parse_result(&hook.name, &answer)
                    .map_err(DataError::Sandbox)?;
                Ok(match (answer.get("abort"), answer.get("proceed")) {
                    (Some(m), _) => {
                        HookOutcome::Abort(m.as_str().map_or_else(|| m.to_string(), str::to_string))
                    }
                    (None, Some(v @ Value::Object(_))) => HookOutcome::Proceed(Some(v.to_string())),
                    _ => HookOutcome::Proceed(None),
                })
            }
            Body::Plugin(plugin) => self.plugin_hook(tx, plugin, principal, cx, event).await,
            Body::Unavailable(why) => Err(DataError::FunctionUnavailable {
                name: hook.name.clone(),
                reason: why.clone(),
            }),
        }
    }

    /// Starts a guest invocation (`start` gets the bridge its data calls go through) and answers those
    /// calls as `principal` until it returns.
    pub(crate) async fn serve_guest<T, F: Future<Output = T>>(
        &self,
        mut tx: Option<&mut dyn Transaction>,
        principal: &Principal,
        cx: &mut WriteCx,
        start: impl FnOnce(DataBridge) -> F,
    ) -> T {
        let (bridge, mut requests) = mpsc::channel::<DataRequest>(4);
        let call = start(bridge);
        tokio::pin!(call);
        let kernel = if tx.is_none() {
            self.me.upgrade()
        } else {
            None
        };
        if let Some(kernel) = kernel {
            return Self::serve_detached(kernel, principal, cx, call, requests).await;
        }
        loop {
            tokio::select! {
                biased;
                done = &mut call => return done,
                Some(request) = requests.recv() => {
                    let answer = self
                        .guest_call(reborrow(&mut tx), principal, cx, request.call)
                        .await;
                    let _ = request.reply.send(answer);
                }
            }
        }
    }

    /// Serves the data calls of a guest that runs outside any transaction (actions, functions, plugins'
    /// services): each call runs as a task of its own, so the guest is never left waiting on this loop, and a
    /// call that outlives the host-call timeout fails the invocation (FUNCTION_HOST_CALL_TIMEOUT) while the
    /// call itself finishes on its own, as any client's write would (it is never cut off half-way).
    async fn serve_detached<T>(
        kernel: Arc<Kernel>,
        principal: &Principal,
        cx: &mut WriteCx,
        mut call: std::pin::Pin<&mut impl Future<Output = T>>,
        mut requests: mpsc::Receiver<DataRequest>,
    ) -> T {
        use tracing::Instrument;
        type Refusal = (String, Option<String>, String);
        let denied: Arc<std::sync::Mutex<Option<Refusal>>> = Arc::default();
        loop {
            tokio::select! {
                biased;
                done = &mut call => {
                    if cx.denied.is_none() {
                        cx.denied = denied.lock().ok().and_then(|mut d| d.take());
                    }
                    return done;
                }
                Some(request) = requests.recv() => {
                    let (kernel, principal, denied, depth) =
                        (kernel.clone(), principal.clone(), denied.clone(), cx.depth);
                    tokio::spawn(
                        async move {
                            let mut cx = WriteCx::at_depth(depth);
                            let answer = kernel.guest_call(None, &principal, &mut cx, request.call).await;
                            if let (Some(refusal), Ok(mut slot)) = (cx.denied, denied.lock()) {
                                slot.get_or_insert(refusal);
                            }
                            let _ = request.reply.send(answer);
                        }
                        .in_current_span(),
                    );
                }
            }
        }
    }

    /// One `data` call of a guest, through the same path as every other caller.
    pub(crate) fn guest_call<'a>(
        &'a self,
        tx: Option<&'a mut dyn Transaction>,
        principal: &'a Principal,
        cx: &'a mut WriteCx,
        call: GuestCall,
    ) -> BoxFuture<'a, Result<String, GuestError>> {
        Box::pin(async move {
            if cx.depth + 1 > self.sandbox_config.max_hook_depth {
                return Err(GuestError::Internal(
                    DataError::HookDepth(self.sandbox_config.max_hook_depth).to_string(),
                ));
            }
            // Plugins call no services; their data calls are checked against their grants by the kernel's
            // access decision (`Kernel::access`), like every caller's.
            if let (Some(plugin), GuestCall::Service { plugin: target, .. }) =
                (&principal.plugin, &call)
            {
                return Err(GuestError::Denied(format!(
                    "plugin {} may not call service {target}",
                    plugin.id
                )));
            }
            let op = match call {
                GuestCall::Service {
                    plugin,
                    method,
                    payload,
                } => {
                    if tx.is_some() && !(cx.in_action && cx.depth == 0) {
                        return Err(GuestError::Denied(
                            "service plugins cannot be called from inside a write (from a hook)"
                                .into(),
                        ));
                    }
                    let payload: Value = serde_json::from_str(&payload).map_err(|e| {
                        GuestError::Invalid(format!("the payload is not JSON: {e}"))
                    })?;
                    let answer = self
                        .call_service_in(tx, principal, &plugin, &method, &payload)
                        .await
                        .map_err(guest_error)?;
                    return Ok(answer.to_string());
                }
                GuestCall::Find { object, query } => {
                    let body: Value = serde_json::from_str(&query)
                        .map_err(|e| GuestError::Invalid(format!("the query is not JSON: {e}")))?;
                    let query = self
                        .parse_query(principal, &object, &body)
                        .map_err(guest_error)?;
                    DataOp::Find { object, query }
                }
                GuestCall::Get { object, id } => DataOp::Get {
                    object,
                    id,
                    query: Default::default(),
                },
                GuestCall::Insert { object, values } => DataOp::Create {
                    object,
                    record: parse_object(&values, "the values")?,
                },
                GuestCall::Update { object, id, patch } => DataOp::Update {
                    object,
                    id,
                    patch: parse_object(&patch, "the patch")?,
                    expected_version: None,
                },
                GuestCall::Delete { object, id } => DataOp::Delete {
                    object,
                    id,
                    expected_version: None,
                },
            };
            let depth = cx.depth + 1;
            let result = match tx {
                None => self.execute_at(principal, op, depth).await,
                Some(tx) => match op {
                    DataOp::Find { object, query } => {
                        self.find_in(tx, principal, &object, &query, depth).await
                    }
                    DataOp::Get { object, id, query } => self
                        .get_in(tx, principal, &object, &id, &query)
                        .await
                        .map(OpResult::Record),
                    write => {
                        // The guest's write is undone alone if it fails (the guest may carry on).
                        tx.savepoint().await.map_err(guest_error)?;
                        let mark = cx.after_commit.len();
                        cx.depth = depth;
                        let r = self.write_in(&mut *tx, principal, write, cx).await;
                        cx.depth = depth - 1;
                        if r.is_ok() {
                            tx.release_savepoint().await.map_err(guest_error)?;
                        } else {
                            cx.after_commit.truncate(mark);
                            // Rolls back to the savepoint and releases it (a second release would pop the
                            // enclosing write's savepoint, which has the same name).
                            tx.rollback_to_savepoint().await.map_err(guest_error)?;
                        }
                        r
                    }
                },
            };
            if let Err(DataError::PermissionDenied {
                object,
                field,
                message,
            }) = &result
                && cx.denied.is_none()
            {
                cx.denied = Some((object.clone(), field.clone(), message.clone()));
            }
            if let Err(e @ DataError::Validation { fields, .. }) = &result {
                cx.invalid = Some((e.to_string(), fields.clone()));
            }
            match result.map_err(|e| server_failure(principal, e))? {
                OpResult::List { records, total, .. } => {
                    Ok(json!({"records": records, "total": total}).to_string())
                }
                OpResult::Record(r) | OpResult::Updated { record: r, .. } => {
                    Ok(Value::Object(r).to_string())
                }
                OpResult::Deleted { id } => Ok(json!({"id": id, "deleted": true}).to_string()),
                other => Ok(format!("{other:?}")),
            }
        })
    }

    /// Starts `async` after-hooks (their transaction has committed). Each retries per its `retryPolicy`.
    pub(crate) fn spawn_after_commit(&self, jobs: Vec<AsyncHookJob>) {
        if jobs.is_empty() {
            return;
        }
        let Some(kernel) = self.me.upgrade() else {
            return;
        };
        tokio::spawn(async move {
            for job in jobs {
                let attempts = job.hook.retry.max_retries.saturating_add(1);
                for attempt in 0..attempts {
                    let mut cx = WriteCx::at_depth(job.depth);
                    match kernel
                        .invoke_hook(None, &job.hook, &job.principal, &mut cx, &job.event)
                        .await
                    {
                        Ok(HookOutcome::Abort(m)) => {
                            tracing::warn!(hook = %job.hook.name, "async hook aborted after the write committed (ignored): {m}");
                            break;
                        }
                        Ok(_) => break,
                        Err(e) if attempt + 1 < attempts => {
                            let wait = job
                                .hook
                                .retry
                                .backoff_ms
                                .saturating_mul(1 << attempt.min(10));
                            tracing::warn!(hook = %job.hook.name, attempt = attempt + 1, "async hook failed, retrying in {wait} ms: {e}");
                            tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
                        }
                        Err(e) => {
                            tracing::error!(hook = %job.hook.name, attempts, "async hook failed for good: {e}")
                        }
                    }
                }
            }
        });
    }
}

/// What a CEL hook body's value means: `false` aborts, a string aborts with that message, a map is merged
/// into the record, anything else goes on.
fn cel_outcome(name: &str, mut record: Record, value: Value) -> HookOutcome {
    match value {
        Value::Bool(false) => HookOutcome::Abort(format!("rejected by hook {name}")),
        Value::String(message) => HookOutcome::Abort(message),
        Value::Object(changes) => {
            for (k, v) in changes {
                record.insert(k, v);
            }
            HookOutcome::Proceed(Some(Value::Object(record).to_string()))
        }
        _ => HookOutcome::Proceed(None),
    }
}
