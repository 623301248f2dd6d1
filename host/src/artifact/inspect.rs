//! `objectos artifact inspect`: what an artifact contains and what this build can and cannot run.

use super::model::EXECUTED_SECTIONS;
use super::{Artifact, ArtifactForm};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Why a JavaScript body cannot run without the JS runtime component.
pub const JS_NEEDS_RUNTIME: &str =
    "JavaScript bodies run only when serve is given the JS runtime component (--js-runtime)";

/// A handler this build cannot run, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unrunnable {
    pub kind: &'static str,
    pub name: String,
    pub reason: String,
}

/// Hooks, actions and functions whose code lives only in a `runtimeModule` (.mjs bundle) or in a language
/// this build does not execute yet.
pub fn unrunnable_handlers(artifact: &Artifact) -> Vec<Unrunnable> {
    let def = &artifact.definition;
    let module = def
        .runtime_module
        .clone()
        .unwrap_or_else(|| "(none)".to_string());
    let mut out = Vec::new();
    for hook in &def.hooks {
        match &hook.body {
            None => out.push(Unrunnable {
                kind: "hook",
                name: hook.name.clone(),
                reason: format!(
                    "handler {:?} exists only in the runtime module {module}",
                    hook.handler.clone().unwrap_or_default()
                ),
            }),
            Some(body) => {
                if let Some(reason) = body_not_runnable(&body.language) {
                    out.push(Unrunnable {
                        kind: "hook",
                        name: hook.name.clone(),
                        reason,
                    });
                }
            }
        }
    }
    for action in &def.actions {
        let needs_code = matches!(action.kind.as_deref(), Some("script") | None);
        match &action.body {
            None if needs_code
                && action.target.is_some()
                && !action
                    .target
                    .as_deref()
                    .is_some_and(|t| function_has_body(def, t)) =>
            {
                out.push(Unrunnable {
                    kind: "action",
                    name: action.name.clone(),
                    reason: format!(
                        "target {:?} exists only in the runtime module {module}",
                        action.target.clone().unwrap_or_default()
                    ),
                })
            }
            Some(body) => {
                if let Some(reason) = body_not_runnable(&body.language) {
                    out.push(Unrunnable {
                        kind: "action",
                        name: action.name.clone(),
                        reason,
                    });
                }
            }
            None => {}
        }
    }
    for f in def.function_list() {
        out.push(Unrunnable {
            kind: "function",
            name: f.name,
            reason: format!(
                "handler {:?} exists only in the runtime module {module}",
                f.handler
            ),
        });
    }
    out
}

/// Does the artifact's `functions` map give `name` a body (then an action can target it)?
fn function_has_body(def: &super::model::Definition, name: &str) -> bool {
    def.functions
        .as_ref()
        .and_then(|f| f.get(name))
        .is_some_and(|f| f.get("body").is_some())
}

fn body_not_runnable(language: &str) -> Option<String> {
    match language {
        "js" => Some(JS_NEEDS_RUNTIME.to_string()),
        "wasm" | "expression" => None,
        other => Some(format!("unknown body language {other}")),
    }
}

/// The human-readable inspection report.
pub fn render(artifact: &Artifact) -> String {
    let def = &artifact.definition;
    let mut out = String::new();
    let manifest = def.manifest.clone().unwrap_or_default();
    let _ = writeln!(
        out,
        "app: {} ({}) version {}",
        manifest.name.as_deref().unwrap_or("(unnamed)"),
        manifest.id.as_deref().unwrap_or("no id"),
        manifest.version.as_deref().unwrap_or("?")
    );
    match &artifact.form {
        ArtifactForm::Bare => {
            let _ = writeln!(out, "form: bare definition");
        }
        ArtifactForm::Envelope {
            environment_id,
            commit_id,
            checksum,
        } => {
            let _ = writeln!(
                out,
                "form: envelope (environment {}, commit {commit_id}, checksum {checksum} verified)",
                environment_id.as_deref().unwrap_or("?")
            );
        }
    }
    let _ = writeln!(out, "file sha256:      {}", artifact.file_sha256);
    let _ = writeln!(out, "canonical sha256: {}", artifact.canonical_sha256);
    let _ = writeln!(out, "\nobjects ({}):", def.objects.len());
    for obj in &def.objects {
        let _ = writeln!(
            out,
            "  {:<32} {:>3} fields  sharing {:<20} datasource {}",
            obj.name,
            obj.fields.len(),
            obj.sharing_model.as_deref().unwrap_or("(default)"),
            obj.datasource.as_deref().unwrap_or("default")
        );
    }
    let mut hooks_by_lang: BTreeMap<String, usize> = BTreeMap::new();
    for h in &def.hooks {
        *hooks_by_lang
            .entry(
                h.body
                    .as_ref()
                    .map(|b| b.language.clone())
                    .unwrap_or_else(|| "runtimeModule".into()),
            )
            .or_default() += 1;
    }
    let mut actions_by_lang: BTreeMap<String, usize> = BTreeMap::new();
    for a in &def.actions {
        let key = match (&a.body, a.kind.as_deref()) {
            (Some(b), _) => b.language.clone(),
            (None, Some(kind)) => format!("type {kind}, no body"),
            (None, None) => "no body".into(),
        };
        *actions_by_lang.entry(key).or_default() += 1;
    }
    let _ = writeln!(out, "\nhooks: {} {:?}", def.hooks.len(), hooks_by_lang);
    let _ = writeln!(out, "actions: {} {:?}", def.actions.len(), actions_by_lang);
    let _ = writeln!(out, "flows: {}", def.flows.len());
    let _ = writeln!(
        out,
        "positions: {}, permission sets: {}",
        def.positions.len(),
        def.permissions.len()
    );
    let seeds: usize = def.data.iter().map(|s| s.records.len()).sum();
    let _ = writeln!(out, "seeds: {} sets, {} records", def.data.len(), seeds);
    if let Some(m) = &def.runtime_module {
        let _ = writeln!(
            out,
            "runtimeModule: {m} (a .mjs bundle: cannot run in the Wasm sandbox)"
        );
    }
    let kept: Vec<&String> = def
        .other_sections
        .keys()
        .filter(|k| !EXECUTED_SECTIONS.contains(&k.as_str()))
        .collect();
    if !kept.is_empty() {
        let _ = writeln!(
            out,
            "\nkept but not executed by this build: {}",
            kept.iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let unrunnable = unrunnable_handlers(artifact);
    if !unrunnable.is_empty() {
        let _ = writeln!(out, "\ncannot run yet ({}):", unrunnable.len());
        for u in &unrunnable {
            let _ = writeln!(out, "  {} {}: {}", u.kind, u.name, u.reason);
        }
    }
    if !artifact.warnings.is_empty() {
        let _ = writeln!(out, "\nwarnings:");
        for w in &artifact.warnings {
            let _ = writeln!(out, "  {w}");
        }
    }
    out
}
