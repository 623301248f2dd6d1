//! Actions (`POST /api/v1/actions/:object/:action[/:id]`) and the artifact's `functions`: parameters checked,
//! `visible` / `disabled` (CEL) and `requiredPermissions` enforced here, on the server, then the body runs as
//! the caller (its `data` calls go through `Kernel::execute`).

use super::hooks::{Body, WriteCx, caller_of};
use super::{DataOp, Kernel, Principal};
use crate::artifact::Artifact;
use crate::artifact::model::{ActionDef, BodyDef};
use crate::data::driver::Transaction;
use crate::data::error::{DataError, ErrorKind, FieldError};
use crate::expr::Compiled;
use crate::sandbox::{
    BodyKind, DataRequest, GuestCall, GuestError, GuestFailure, LoadedComponent, Sandbox,
    SandboxError,
};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;

pub struct CompiledAction {
    pub def: ActionDef,
    visible: Option<Compiled>,
    disabled: Option<Compiled>,
    body: Option<Body>,
}

#[derive(Default)]
pub struct Actions {
    /// (object, action name) → action.
    actions: HashMap<(String, String), Arc<CompiledAction>>,
    /// The artifact's `functions` that carry a body.
    functions: HashMap<String, Arc<Body>>,
}

fn compile_expr(owner: &str, what: &str, source: &str) -> Result<Compiled, DataError> {
    crate::expr::compile(source).map_err(|e| DataError::Schema(format!("{owner}.{what}: {e}")))
}

impl Actions {
    pub fn compile(
        artifact: &Artifact,
        sandbox: Option<&Sandbox>,
        components: &mut HashMap<(String, BodyKind), Arc<LoadedComponent>>,
    ) -> Result<Actions, DataError> {
        let mut functions = HashMap::new();
        if let Some(Value::Object(map)) = &artifact.definition.functions {
            for (name, entry) in map {
                let Some(body) = entry.get("body") else {
                    continue;
                };
                let def: BodyDef = serde_json::from_value(body.clone())
                    .map_err(|e| DataError::Schema(format!("functions.{name}.body: {e}")))?;
                let body = Body::compile(name, &def, BodyKind::Function, sandbox, components)?;
                functions.insert(name.clone(), Arc::new(body));
            }
        }
        let mut actions = HashMap::new();
        for def in &artifact.definition.actions {
            let Some(object) = def.object_name.clone() else {
                continue;
            };
            let body = match &def.body {
                Some(b) => Some(Body::compile(
                    &def.name,
                    b,
                    BodyKind::Function,
                    sandbox,
                    components,
                )?),
                None => None,
            };
            let compiled = CompiledAction {
                visible: def
                    .visible
                    .as_ref()
                    .map(|e| compile_expr(&def.name, "visible", &e.source))
                    .transpose()?,
                disabled: def
                    .disabled
                    .as_ref()
                    .map(|e| compile_expr(&def.name, "disabled", &e.source))
                    .transpose()?,
                body,
                def: def.clone(),
            };
            actions.insert((object, def.name.clone()), Arc::new(compiled));
        }
        Ok(Actions { actions, functions })
    }

    pub fn get(&self, object: &str, action: &str) -> Option<&Arc<CompiledAction>> {
        self.actions.get(&(object.to_string(), action.to_string()))
    }
}

/// The action route's refusal (the real server's `{code, message, httpStatus}`).
fn refusal(
    object: &str,
    action: &str,
    kind: ErrorKind,
    code: &'static str,
    message: String,
) -> DataError {
    DataError::ActionRefused {
        object: object.to_string(),
        action: action.to_string(),
        kind,
        code,
        message,
        details: None,
    }
}

/// 404 for an action the artifact does not declare on this object (or an object that does not exist), in the
/// real server's words.
fn undeclared(object: &str, action: &str) -> DataError {
    refusal(
        object,
        action,
        ErrorKind::NotFound,
        "RESOURCE_NOT_FOUND",
        format!(
            "Action '{action}' on '{object}' has no declaration \u{2014} add `defineAction({{ name: '{action}', \u{2026} }})`, \
             or register the handler under a declared action's `target`. Undeclared handlers cannot be \
             permission-gated (ADR-0110 D3); startup logs every one of them under [action-governance]."
        ),
    )
}

/// Keys the route itself puts in the params: never declared, always allowed.
pub(crate) const BUILTIN_PARAMS: [&str; 3] = ["recordId", "objectName", "_selectedIds"];

/// The JSON kind of a param's value by its declared type (`None`: any value).
pub(crate) fn param_shape(kind: Option<&str>) -> Option<&'static str> {
    match kind? {
        "number" | "currency" | "percent" | "rating" | "slider" | "autonumber" | "integer" => {
            Some("number")
        }
        "boolean" | "toggle" | "checkbox" => Some("boolean"),
        "multiselect" | "checkboxes" | "tags" => Some("array"),
        "" => None,
        _ => Some("string"),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Checks the params against the action's declared contract, as the real server does (ADR-0104): required
/// ones present, values of the declared shape and among the declared options, no undeclared keys. An action
/// that declares no params takes any. The issues are joined into one message.
fn check_params(def: &ActionDef, params: &Map<String, Value>) -> Result<(), String> {
    if def.params.is_empty() {
        return Ok(());
    }
    let mut issues = Vec::new();
    for p in &def.params {
        let present = match params.get(&p.name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(v) => Some(v),
        };
        let Some(v) = present else {
            if p.required {
                issues.push(format!("Action param \"{}\" is required", p.name));
            }
            continue;
        };
        let typed = p
            .kind
            .as_deref()
            .map(|t| format!(" ({t})"))
            .unwrap_or_default();
        let multiple = p.extra.get("multiple").and_then(Value::as_bool) == Some(true);
        let shape = if multiple {
            Some("array")
        } else {
            param_shape(p.kind.as_deref())
        };
        if let Some(shape) = shape
            && json_kind(v) != shape
        {
            issues.push(format!(
                "Action param \"{}\"{typed}: Invalid input: expected {shape}, received {}",
                p.name,
                json_kind(v)
            ));
            continue;
        }
        if let Some(Value::Array(options)) = p.extra.get("options") {
            let allowed: Vec<&Value> = options
                .iter()
                .map(|o| o.get("value").unwrap_or(o))
                .collect();
            let values: Vec<&Value> = match v {
                Value::Array(items) => items.iter().collect(),
                one => vec![one],
            };
            if values.iter().any(|x| !allowed.contains(x)) {
                let listed: Vec<String> = allowed.iter().map(|a| a.to_string()).collect();
                issues.push(format!(
                    "Action param \"{}\"{typed}: Invalid option: expected one of {}",
                    p.name,
                    listed.join("|")
                ));
            }
        }
    }
    for key in params.keys() {
        if !def.params.iter().any(|p| &p.name == key) && !BUILTIN_PARAMS.contains(&key.as_str()) {
            issues.push(format!(
                "Unknown action param \"{key}\" \u{2014} not declared on this action"
            ));
        }
    }
    if issues.is_empty() {
        Ok(())
    } else {
        Err(format!("Invalid action params: {}", issues.join("; ")))
    }
}

/// The capabilities (`systemPermissions`) an action requires.
fn required_capabilities(def: &ActionDef) -> Vec<String> {
    match &def.required_permissions {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

impl Kernel {
    /// Runs an action for `principal`; the result is the action's answer. The checks run in the real
    /// server's order: declared here, `requiredPermissions`, a type the server can run, the params, then the
    /// record (read as the caller: a record the caller cannot read is not found), `visible` / `disabled`, and
    /// the body. A body runs elevated within the caller's organization (the system acting for the caller,
    /// whose id still stamps its writes) unless the action declares `runAs: "user"`; a declarative
    /// `operation: "update"` writes as the caller. Either way its data calls go through `Kernel::execute`.
    pub async fn run_action(
        &self,
        principal: &Principal,
        object: &str,
        action: &str,
        record_id: Option<&str>,
        params: Map<String, Value>,
    ) -> Result<Value, DataError> {
        let Some(compiled) = self.actions.get(object, action).cloned() else {
            return Err(undeclared(object, action));
        };
        if self.object_for(principal, object).is_err() {
            return Err(undeclared(object, action));
        }
        let def = &compiled.def;
        let needed = required_capabilities(def);
        if !needed.is_empty() && !principal.is_system {
            let held = self.permissions.system_permissions_of(principal);
            let missing: Vec<&str> = needed
                .iter()
                .map(String::as_str)
                .filter(|n| !held.contains(*n))
                .collect();
            if !missing.is_empty() {
                return Err(refusal(
                    object,
                    action,
                    ErrorKind::Denied,
                    "PERMISSION_DENIED",
                    format!(
                        "Action '{action}' on '{object}' requires capability [{}] \u{2014} caller is missing [{}]",
                        needed.join(", "),
                        missing.join(", ")
                    ),
                ));
            }
        }
        let declarative = def.extra.get("operation").and_then(Value::as_str) == Some("update");
        let kind = def.kind.as_deref().unwrap_or("script");
        if !declarative && !matches!(kind, "script" | "flow") {
            let message = if kind == "api" {
                format!(
                    "Action '{action}' on '{object}' is `type: 'api'` \u{2014} it dispatches on `target`, not through the \
                     action registry. Call {} directly{}.",
                    def.target
                        .as_deref()
                        .map(|t| format!("`{t}`"))
                        .unwrap_or_else(|| "its `target` endpoint".into()),
                    def.extra
                        .get("method")
                        .and_then(Value::as_str)
                        .map(|m| format!(" ({m})"))
                        .unwrap_or_default()
                )
            } else {
                format!(
                    "Action '{action}' on '{object}' is `type: '{kind}'` \u{2014} a client-side action with no server \
                     dispatch. The renderer opens its `target`{}; there is nothing for the server to run.",
                    def.target
                        .as_deref()
                        .map(|t| format!(" ('{t}')"))
                        .unwrap_or_default()
                )
            };
            return Err(refusal(
                object,
                action,
                ErrorKind::Invalid,
                "VALIDATION_ERROR",
                message,
            ));
        }
        if let Err(message) = check_params(def, &params) {
            return Err(refusal(
                object,
                action,
                ErrorKind::Invalid,
                "VALIDATION_ERROR",
                message,
            ));
        }
        // The record, as the caller may read it: one the caller cannot read is not found (404, like the data
        // route), whoever the body then runs as.
        let record = match record_id {
            Some(id) => self
                .execute_at(
                    principal,
                    DataOp::Get {
                        object: object.to_string(),
                        id: id.to_string(),
                        query: Default::default(),
                    },
                    1,
                )
                .await?
                .into_record(),
            None => None,
        };
        let scope = record.clone().unwrap_or_default();
        let params_value = Value::Object(params.clone());
        let user = json!({"id": principal.user_id, "organizationId": principal.organization_id, "positions": principal.positions});
        let now = chrono::Utc::now();
        let roots = [
            ("params", &params_value),
            ("user", &user),
            ("current_user", &user),
        ];
        // Without a record, a condition about the record is not evaluated (there is nothing to judge).
        fn judged(c: &Option<Compiled>, has_record: bool) -> Option<&Compiled> {
            c.as_ref().filter(|c| has_record || !c.references("record"))
        }
        if let Some(visible) = judged(&compiled.visible, record.is_some())
            && !matches!(
                visible.evaluate_in(&scope, &roots, now),
                Ok(Value::Bool(true))
            )
        {
            return Err(refusal(
                object,
                action,
                ErrorKind::Denied,
                "ACTION_NOT_AVAILABLE",
                format!(
                    "Action '{action}' on '{object}' is not available here (its visible condition is false)"
                ),
            ));
        }
        if let Some(disabled) = judged(&compiled.disabled, record.is_some())
            && !matches!(
                disabled.evaluate_in(&scope, &roots, now),
                Ok(Value::Bool(false))
            )
        {
            return Err(refusal(
                object,
                action,
                ErrorKind::Invalid,
                "ACTION_DISABLED",
                format!(
                    "Action '{action}' on '{object}' is disabled here (its disabled condition holds)"
                ),
            ));
        }
        if declarative {
            return self
                .declarative_update(principal, def, object, action, record_id)
                .await;
        }
        // What the body sees as its params: the caller's, plus the record id and the object.
        let mut input_params = params;
        if let Some(id) = record_id {
            input_params.insert("recordId".into(), json!(id));
        }
        input_params.insert("objectName".into(), json!(object));
        let input = json!({
            "params": input_params,
            "recordId": record_id,
            "object": object,
            "record": record,
            "action": action,
        });
        // The body runs as the system acting for the caller, inside the caller's organization (every data
        // call still goes through `Kernel::execute`, as that principal), unless it declares `runAs: "user"`.
        let as_user = def.extra.get("runAs").and_then(Value::as_str) == Some("user");
        let acting = super::hooks::acting_as(principal, !as_user);
        let shown = caller_of(principal);
        let ran = match (&compiled.body, def.target.as_deref()) {
            (Some(Body::Unavailable(why)), _) => Err(DataError::FunctionUnavailable {
                name: action.to_string(),
                reason: why.clone(),
            }),
            (Some(body), _) => {
                self.run_body(action, body, &acting, shown, input, &scope)
                    .await
            }
            (None, Some(target)) => match self.actions.functions.get(target).cloned() {
                Some(body) => {
                    self.run_body(target, &body, &acting, shown, input, &scope)
                        .await
                }
                None => Err(DataError::FunctionUnavailable {
                    name: action.to_string(),
                    reason: format!(
                        "its target {target} is not a function with a body (a runtimeModule handler cannot run here)"
                    ),
                }),
            },
            (None, None) => Err(DataError::FunctionUnavailable {
                name: action.to_string(),
                reason: "the action has no body and no target function".into(),
            }),
        };
        // A body that failed on purpose (it threw): its own message, without the body's name.
        ran.map_err(|e| match e {
            DataError::Sandbox(failed @ SandboxError::Guest { .. }) => {
                let SandboxError::Guest { error, .. } = &failed else {
                    return DataError::Sandbox(failed);
                };
                DataError::ActionRefused {
                    object: object.to_string(),
                    action: action.to_string(),
                    kind: failed.kind(),
                    code: failed.code(),
                    message: error.to_string(),
                    details: None,
                }
            }
            other => other,
        })
    }

    /// A declarative `operation: "update"` action: its `patch` written to the current record through the
    /// normal write path, as the caller. Answers `{operation, object, id, record}`.
    async fn declarative_update(
        &self,
        principal: &Principal,
        def: &ActionDef,
        object: &str,
        action: &str,
        record_id: Option<&str>,
    ) -> Result<Value, DataError> {
        let Some(id) = record_id else {
            return Err(refusal(
                object,
                action,
                ErrorKind::Invalid,
                "VALIDATION_ERROR",
                format!(
                    "Action '{action}' on '{object}' declares `operation: 'update'` and writes the CURRENT record, but no \
                     `recordId` was supplied. Invoke it at `/actions/{object}/{action}/<recordId>`, or pass \
                     `{{ \"recordId\": \"\u{2026}\" }}` in the body."
                ),
            ));
        };
        let patch = match def.extra.get("patch") {
            Some(Value::Object(p)) => p.clone(),
            _ => Map::new(),
        };
        let result = self
            .execute(
                principal,
                DataOp::Update {
                    object: object.to_string(),
                    id: id.to_string(),
                    patch,
                    expected_version: None,
                },
            )
            .await?;
        let record = result.into_record().map_or(Value::Null, Value::Object);
        Ok(json!({"operation": "update", "object": object, "id": id, "record": record}))
    }

    /// Calls one of the artifact's `functions` as `principal`.
    pub async fn call_function(
        &self,
        principal: &Principal,
        name: &str,
        input: Value,
    ) -> Result<Value, DataError> {
        let Some(body) = self.actions.functions.get(name).cloned() else {
            return Err(DataError::FunctionUnavailable {
                name: name.to_string(),
                reason: "no such function with a body (a runtimeModule handler cannot run here)"
                    .into(),
            });
        };
        let scope = input
            .get("record")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        self.run_body(name, &body, principal, caller_of(principal), input, &scope)
            .await
    }

    /// Runs an action's or function's guest all or nothing: its reads run outside any transaction until its
    /// first write (or service call), which opens one; every later call runs inside it, and it commits only
    /// when the body succeeds. So a body that fails (traps, breaks a limit, returns an error) leaves nothing,
    /// and the single SQLite writer is held only from the first write to the end of the body (bounded by the
    /// body's deadline), not while it computes or reads before writing. A data call refused to its caller is
    /// the failure reported, not what the guest made of it.
    async fn serve_body<F: Future<Output = Result<String, SandboxError>>>(
        &self,
        principal: &Principal,
        start: impl FnOnce(crate::sandbox::DataBridge) -> F,
    ) -> Result<String, DataError> {
        let mut cx = WriteCx {
            in_action: true,
            ..WriteCx::default()
        };
        let mut tx: Option<Box<dyn Transaction>> = None;
        let (bridge, mut requests) = tokio::sync::mpsc::channel::<DataRequest>(4);
        let call = start(bridge);
        tokio::pin!(call);
        let out = loop {
            tokio::select! {
                biased;
                done = &mut call => break done,
                Some(request) = requests.recv() => {
                    if tx.is_none() && opens_transaction(&request.call) {
                        match self.driver.begin().await {
                            Ok(t) => tx = Some(t),
                            Err(e) => {
                                let _ = request.reply.send(Err(GuestError::Internal(e.to_string())));
                                continue;
                            }
                        }
                    }
                    // A borrow of the transaction for this call only (the trait object's lifetime shortened).
                    let current: Option<&mut dyn Transaction> = match tx.as_mut() {
                        Some(t) => Some(&mut **t),
                        None => None,
                    };
                    // The body may end while its call is served (it gave up at the host-call timeout): then
                    // the call is dropped and the transaction, whatever it holds, is rolled back below.
                    let served = {
                        let call_served = self.guest_call(current, principal, &mut cx, request.call);
                        tokio::select! {
                            biased;
                            done = &mut call => Err(done),
                            answer = call_served => Ok(answer),
                        }
                    };
                    match served {
                        Ok(answer) => {
                            let _ = request.reply.send(answer);
                        }
                        Err(done) => break done,
                    }
                }
            }
        };
        match (out, tx) {
            (Ok(text), Some(tx)) => {
                tx.commit().await?;
                self.spawn_after_commit(std::mem::take(&mut cx.after_commit));
                Ok(text)
            }
            (Ok(text), None) => Ok(text),
            (Err(e), tx) => {
                if let Some(tx) = tx
                    && let Err(undo) = tx.rollback().await
                {
                    tracing::error!("rolling back a failed action: {undo}");
                }
                // A validation the body let through (it failed with exactly that message) answers as the
                // real server answers a `ValidationError` thrown by a body: its fields in the details.
                if cx.denied.is_none()
                    && let SandboxError::Guest {
                        error: GuestFailure::Invalid(message),
                        ..
                    } = &e
                    && let Some((seen, fields)) = cx.invalid.take()
                    && *message == seen
                {
                    let fields: Vec<Value> = fields.iter().map(FieldError::to_json).collect();
                    return Err(DataError::ActionRefused {
                        object: String::new(),
                        action: String::new(),
                        kind: ErrorKind::Invalid,
                        code: "VALIDATION_FAILED",
                        message: format!("ValidationError: {message}"),
                        details: Some(Box::new(json!({ "fields": fields }))),
                    });
                }
                Err(cx.failure(None, DataError::Sandbox(e)))
            }
        }
    }

    /// Runs a body acting as `principal`; `caller` is who the body is told called it.
    async fn run_body(
        &self,
        name: &str,
        body: &Body,
        principal: &Principal,
        caller: crate::sandbox::Caller,
        input: Value,
        scope: &Map<String, Value>,
    ) -> Result<Value, DataError> {
        match body {
            Body::Wasm { component, limits } => {
                let text = input.to_string();
                let sandbox = self.sandbox_ref()?;
                let out = self
                    .serve_body(principal, |bridge| {
                        sandbox.call_function(component, limits, &caller, &text, Some(bridge))
                    })
                    .await?;
                crate::sandbox::parse_result(name, &out).map_err(DataError::Sandbox)
            }
            Body::Cel(expr) => {
                let params = input.get("params").cloned().unwrap_or(Value::Null);
                let user =
                    json!({"id": principal.user_id, "organizationId": principal.organization_id});
                expr.evaluate_in(
                    scope,
                    &[
                        ("params", &params),
                        ("user", &user),
                        ("current_user", &user),
                    ],
                    chrono::Utc::now(),
                )
                .map_err(|e| {
                    DataError::Sandbox(SandboxError::Trapped {
                        body: name.to_string(),
                        reason: format!("expression failed: {e}"),
                    })
                })
            }
            Body::Js {
                runtime,
                source,
                capabilities,
                limits,
            } => {
                let text = input.to_string();
                let sandbox = self.sandbox_ref()?;
                let out = self
                    .serve_body(principal, |bridge| {
                        sandbox.call_script(
                            runtime,
                            name,
                            limits,
                            false,
                            source,
                            capabilities,
                            &caller,
                            &text,
                            Some(bridge),
                        )
                    })
                    .await?;
                crate::sandbox::parse_result(name, &out).map_err(DataError::Sandbox)
            }
            Body::Plugin(p) => Err(DataError::FunctionUnavailable {
                name: name.to_string(),
                reason: format!("plugin {} provides hooks, not an action body", p.id),
            }),
            Body::Unavailable(why) => Err(DataError::FunctionUnavailable {
                name: name.to_string(),
                reason: why.clone(),
            }),
        }
    }
}

/// A call that makes an action's body take its transaction: a write, or a service call (whose data calls then
/// run inside it).
fn opens_transaction(call: &GuestCall) -> bool {
    !matches!(call, GuestCall::Find { .. } | GuestCall::Get { .. })
}
