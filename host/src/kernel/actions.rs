//! Actions (`POST /api/v1/actions/:object/:action[/:id]`) and the artifact's `functions`: parameters checked,
//! `visible` / `disabled` (CEL) and `requiredPermissions` enforced here, on the server, then the body runs as
//! the caller (its `data` calls go through `Kernel::execute`).

use super::hooks::{Body, WriteCx, caller_of};
use super::{DataOp, Kernel, OpResult, Principal};
use crate::artifact::Artifact;
use crate::artifact::model::{ActionDef, BodyDef};
use crate::data::driver::Transaction;
use crate::data::error::{DataError, ErrorKind, FieldError};
use crate::data::values::is_blank;
use crate::expr::Compiled;
use crate::sandbox::{
    BodyKind, DataRequest, GuestCall, GuestError, LoadedComponent, Sandbox, SandboxError,
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

/// Checks the params an action declares: required ones present, simple types right.
fn check_params(def: &ActionDef, params: &Map<String, Value>) -> Result<(), DataError> {
    let object = def.object_name.clone().unwrap_or_default();
    let mut errors = Vec::new();
    for p in &def.params {
        let label = p.label.clone().unwrap_or_else(|| p.name.clone());
        let path = format!("params.{}", p.name);
        match params.get(&p.name) {
            None => {
                if p.required {
                    errors.push(FieldError::new(
                        &path,
                        &label,
                        "required",
                        format!("{label} is required"),
                    ));
                }
            }
            Some(v) if p.required && is_blank(v) => errors.push(FieldError::new(
                &path,
                &label,
                "required",
                format!("{label} is required"),
            )),
            Some(Value::Null) => {}
            Some(v) => {
                let ok = match p.kind.as_deref() {
                    Some("number" | "currency" | "percent" | "integer") => v.is_number(),
                    Some("boolean" | "checkbox" | "toggle") => v.is_boolean(),
                    Some(
                        "text" | "textarea" | "string" | "email" | "url" | "date" | "datetime",
                    ) => v.is_string(),
                    _ => true,
                };
                if !ok {
                    errors.push(FieldError::new(
                        &path,
                        &label,
                        "invalid_type",
                        format!(
                            "{label} must be a {}, found {v}",
                            p.kind.as_deref().unwrap_or("value")
                        ),
                    ));
                }
                if let Some(Value::Array(options)) = p.extra.get("options") {
                    let allowed: Vec<&Value> = options
                        .iter()
                        .map(|o| o.get("value").unwrap_or(o))
                        .collect();
                    if !allowed.contains(&v) {
                        errors.push(FieldError::new(
                            &path,
                            &label,
                            "invalid_option",
                            format!("{label} must be one of the declared options, found {v}"),
                        ));
                    }
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DataError::validation(&object, errors))
    }
}

impl Kernel {
    /// Runs an action for `principal`; the result is the action's answer.
    pub async fn run_action(
        &self,
        principal: &Principal,
        object: &str,
        action: &str,
        record_id: Option<&str>,
        params: Value,
    ) -> Result<Value, DataError> {
        self.object_for(principal, object)?;
        let compiled =
            self.actions
                .get(object, action)
                .cloned()
                .ok_or_else(|| DataError::ActionNotFound {
                    object: object.to_string(),
                    action: action.to_string(),
                })?;
        match (&compiled.body, compiled.def.target.as_deref()) {
            (Some(Body::Unavailable(why)), _) => {
                return Err(DataError::FunctionUnavailable {
                    name: action.to_string(),
                    reason: why.clone(),
                });
            }
            (None, Some(target)) if !self.actions.functions.contains_key(target) => {
                return Err(DataError::FunctionUnavailable {
                    name: action.to_string(),
                    reason: format!(
                        "its target {target} is not a function with a body (a runtimeModule handler cannot run here)"
                    ),
                });
            }
            (None, None) => {
                return Err(DataError::FunctionUnavailable {
                    name: action.to_string(),
                    reason: "the action has no body and no target function".into(),
                });
            }
            _ => {}
        }
        let params = match params {
            Value::Object(m) => m,
            Value::Null => Map::new(),
            other => {
                return Err(DataError::invalid_query(
                    object,
                    format!("params must be an object, found {other}"),
                ));
            }
        };
        let record = match record_id {
            Some(id) => match self
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
            {
                OpResult::Record(r) => Some(r),
                _ => None,
            },
            None => None,
        };
        let refused =
            |kind: ErrorKind, code: &'static str, message: String| DataError::ActionRefused {
                object: object.to_string(),
                action: action.to_string(),
                kind,
                code,
                message,
            };
        if let Some(required) = &compiled.def.required_permissions {
            let needed: Vec<&str> = match required {
                Value::String(s) => vec![s.as_str()],
                Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            let missing: Vec<&str> = needed
                .into_iter()
                .filter(|n| !principal.is_system && !principal.positions.iter().any(|p| p == n))
                .collect();
            if !missing.is_empty() {
                return Err(refused(
                    ErrorKind::Denied,
                    "PERMISSION_DENIED",
                    format!("Action {action} requires {}", missing.join(", ")),
                ));
            }
        }
        let scope = record.clone().unwrap_or_default();
        let params_value = Value::Object(params.clone());
        let user = json!({"id": principal.user_id, "organizationId": principal.organization_id, "positions": principal.positions});
        let now = chrono::Utc::now();
        let roots = [
            ("params", &params_value),
            ("user", &user),
            ("current_user", &user),
        ];
        if let Some(visible) = &compiled.visible {
            match visible.evaluate_in(&scope, &roots, now) {
                Ok(Value::Bool(true)) => {}
                Ok(_) | Err(_) => {
                    return Err(refused(
                        ErrorKind::Denied,
                        "ACTION_NOT_AVAILABLE",
                        format!(
                            "Action {action} is not available here (its visible condition is false)"
                        ),
                    ));
                }
            }
        }
        if let Some(disabled) = &compiled.disabled
            && !matches!(
                disabled.evaluate_in(&scope, &roots, now),
                Ok(Value::Bool(false))
            )
        {
            return Err(refused(
                ErrorKind::Invalid,
                "ACTION_DISABLED",
                format!("Action {action} is disabled here (its disabled condition holds)"),
            ));
        }
        check_params(&compiled.def, &params)?;
        let input = json!({
            "params": params_value,
            "recordId": record_id,
            "object": object,
            "record": record,
            "action": action,
        });
        // An action runs as its caller (every data call checked against the caller's permission sets)
        // unless it declares `runAs: "system"`; then its writes are audited as made by the system on the
        // caller's behalf.
        let run_as_system =
            compiled.def.extra.get("runAs").and_then(Value::as_str) == Some("system");
        let acting = super::hooks::acting_as(principal, run_as_system);
        match (&compiled.body, compiled.def.target.as_deref()) {
            (Some(body), _) => self.run_body(action, body, &acting, input, &scope).await,
            (None, Some(target)) => self.call_function(&acting, target, input).await,
            (None, None) => Err(DataError::FunctionUnavailable {
                name: action.to_string(),
                reason: "the action has no body and no target function".into(),
            }),
        }
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
        self.run_body(name, &body, principal, input, &scope).await
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
                    let answer = self
                        .guest_call(current, principal, &mut cx, request.call)
                        .await;
                    let _ = request.reply.send(answer);
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
                Err(cx.failure(DataError::Sandbox(e)))
            }
        }
    }

    async fn run_body(
        &self,
        name: &str,
        body: &Body,
        principal: &Principal,
        input: Value,
        scope: &Map<String, Value>,
    ) -> Result<Value, DataError> {
        match body {
            Body::Wasm { component, limits } => {
                let (caller, text) = (caller_of(principal), input.to_string());
                let sandbox = self.sandbox_ref()?;
                let out = self
                    .serve_body(principal, |bridge| {
                        sandbox.call_function(component, limits, &caller, &text, Some(bridge))
                    })
                    .await?;
                serde_json::from_str(&out).map_err(|e| {
                    DataError::Sandbox(SandboxError::Trapped {
                        body: name.to_string(),
                        reason: format!("returned something that is not JSON: {e}"),
                    })
                })
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
                let (caller, text) = (caller_of(principal), input.to_string());
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
                Ok(serde_json::from_str(&out).unwrap_or(Value::Null))
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
