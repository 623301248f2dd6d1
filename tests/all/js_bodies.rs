//! JavaScript bodies (`{language: "js"}`, what `os compile` emits) run by the JS runtime component
//! (plugins/js-runtime, Boa compiled to wasm32-wasip2) inside the sandbox.

use crate::support::{Db, Server, start_server_with};
use serde_json::{Value, json};

fn expense() -> Value {
    serde_json::from_str(include_str!("../fixtures/expense/objectstack.json")).expect("JSON")
}

async fn server(artifact: Value) -> (Server, String) {
    let s = start_server_with(Db::Sqlite, "", artifact, Default::default(), |cfg| {
        cfg.js_runtime = Some(crate::support::js_runtime());
    })
    .await;
    let t = s
        .sign_up("admin@example.com", "correct horse battery")
        .await;
    (s, t)
}

#[tokio::test]
async fn expense_hooks_and_action_run() {
    let (s, t) = server(expense()).await;
    let t = Some(t.as_str());
    // beforeInsert: status forced to submitted, title trimmed.
    let r = s
        .call("POST", "/api/v1/data/exp_report", json!({"title": "  Taxi  ", "amount": 64.5, "status": "approved", "category": "travel"}), t)
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["record"]["status"], "submitted");
    assert_eq!(r.body["record"]["title"], "Taxi");
    assert_eq!(r.body["record"]["approved_at"], Value::Null);
    let id = r.body["id"].as_str().expect("id").to_string();
    // beforeUpdate stamps approved_at; afterUpdate books a ledger entry through ctx.api (api.write).
    let r = s
        .call(
            "PATCH",
            &format!("/api/v1/data/exp_report/{id}"),
            json!({"status": "approved"}),
            t,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let stamped = r.body["record"]["approved_at"].as_str().unwrap_or("");
    assert!(
        stamped.starts_with("20") && stamped.ends_with('Z'),
        "{stamped}"
    );
    let r = s
        .call("GET", "/api/v1/data/exp_ledger_entry", Value::Null, t)
        .await;
    let entries = r.body["records"].as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 1, "{:?}", r.body);
    assert_eq!(entries[0]["report"], json!(id));
    assert_eq!(entries[0]["amount"], json!(64.5));
    assert_eq!(entries[0]["memo"], "Approved expense: Taxi");
    // A second approval books nothing more (the hook compares with ctx.previous).
    let r = s
        .call(
            "PATCH",
            &format!("/api/v1/data/exp_report/{id}"),
            json!({"notes": "again"}),
            t,
        )
        .await;
    assert_eq!(r.status, 200);
    let r = s
        .call("GET", "/api/v1/data/exp_ledger_entry", Value::Null, t)
        .await;
    assert_eq!(r.body["records"].as_array().map(Vec::len), Some(1));
    // The escalate action (api.read + api.write) answers what the real server answered.
    let r = s
        .call(
            "POST",
            "/api/v1/data/exp_report",
            json!({"title": "Conference", "amount": 1800, "category": "travel"}),
            t,
        )
        .await;
    let other = r.body["id"].as_str().expect("id").to_string();
    let r = s
        .call(
            "POST",
            &format!("/api/v1/actions/exp_report/exp_escalate/{other}"),
            json!({}),
            t,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"success": true, "data": {"escalated": true, "id": other, "from": "submitted", "to": "pending_director"}})
    );
    let r = s
        .call(
            "GET",
            &format!("/api/v1/data/exp_report/{other}"),
            Value::Null,
            t,
        )
        .await;
    assert_eq!(r.body["record"]["status"], "pending_director");
}

fn probe_app(source: &str, capabilities: Value) -> Value {
    json!({
        "manifest": {"id": "com.objectos.jsprobe", "namespace": "jp", "version": "1.0.0", "type": "app", "name": "js probe"},
        "objects": [
            {"name": "probe", "label": "Probe", "fields": {"mode": {"type": "text", "label": "Mode"}, "note": {"type": "text", "label": "Note"}}},
            {"name": "secret", "label": "Secret", "fields": {"value": {"type": "text", "label": "Value"}}}
        ],
        "hooks": [{"name": "probe_js", "object": "probe", "events": ["beforeInsert"],
                   "body": {"language": "js", "source": source, "capabilities": capabilities}}]
    })
}

async fn probe(source: &str, capabilities: Value) -> (u16, Value) {
    let (s, t) = server(probe_app(source, capabilities)).await;
    let r = s
        .call("POST", "/api/v1/data/probe", json!({"mode": "x"}), Some(&t))
        .await;
    // Whatever the body did, the server goes on serving.
    let next = s
        .call("GET", "/api/v1/data/probe", Value::Null, Some(&t))
        .await;
    assert_eq!(next.status, 200);
    (r.status, r.body)
}

#[tokio::test]
async fn ctx_api_needs_its_capability() {
    let (status, body) = probe(
        "await ctx.api.object('secret').insert({value: 'x'});",
        json!(["api.read"]),
    )
    .await;
    assert_eq!(status, 400, "{body:?}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .contains("needs the api.write capability"),
        "{body:?}"
    );
    let (status, body) = probe("const rows = await ctx.api.object('secret').find({}); ctx.input.note = 'seen ' + rows.length;", json!(["api.read"])).await;
    assert_eq!(
        (status, body["record"]["note"].clone()),
        (201, json!("seen 0")),
        "{body:?}"
    );
}

#[tokio::test]
async fn hostile_js_is_contained() {
    let (status, body) = probe("while (true) {}", json!([])).await;
    assert!(
        matches!(
            body["code"].as_str(),
            Some("FUNCTION_FUEL_EXHAUSTED" | "FUNCTION_TIMEOUT")
        ),
        "{status} {body:?}"
    );
    let (status, body) = probe(
        "const a = []; while (true) { a.push(new Array(100000).fill(1)); }",
        json!([]),
    )
    .await;
    assert!(
        matches!(
            body["code"].as_str(),
            Some("FUNCTION_MEMORY_LIMIT" | "FUNCTION_FUEL_EXHAUSTED" | "FUNCTION_TIMEOUT")
        ),
        "{status} {body:?}"
    );
    // The natives behind ctx are gone from the global object; eval and Function see the same realm.
    let (status, body) = probe(
        "const g = Function('return this')(); ctx.input.note = [typeof g.__objectos_host, eval('typeof __objectos_host'), typeof require, typeof process].join(',');",
        json!([]),
    )
    .await;
    assert_eq!(
        (status, body["record"]["note"].clone()),
        (201, json!("undefined,undefined,undefined,undefined")),
        "{body:?}"
    );
    // A throw refuses the write with its message, in the real server's shape `{error, object}`.
    let (status, body) = probe("throw new Error('no probes today');", json!([])).await;
    assert_eq!(
        (status, body["error"].clone(), body.get("code")),
        (400, json!("no probes today"), None),
        "{body:?}"
    );
    // The engine's own errors mean the body is broken: a server error, not a refusal.
    let (status, body) = probe("ctx.previous.nothing.here = 1;", json!([])).await;
    assert_eq!(
        (status, body["code"].clone()),
        (500, json!("INTERNAL_ERROR")),
        "{body:?}"
    );
    // A body that does not parse is a server-side error too (named in the log, not to the client).
    let (status, body) = probe("this is not javascript", json!([])).await;
    assert_eq!(
        (status, body["code"].clone()),
        (500, json!("INTERNAL_ERROR")),
        "{body:?}"
    );
}

/// Every JS body of the upstream crm and showcase apps (read from ../shared) runs in the runtime: it either
/// finishes or throws its own error; none fails to parse or breaks the runtime.
#[tokio::test]
async fn upstream_js_bodies_load_and_run() {
    let Some(dir) = crate::support::upstream_fixtures() else {
        eprintln!("skipped: ../shared/fixtures not present");
        return;
    };
    let sandbox = crate::support::shared_sandbox();
    let runtime = std::sync::Arc::new(
        sandbox
            .load(
                "js-runtime",
                objectos_host::sandbox::BodyKind::Script,
                &crate::support::js_runtime(),
            )
            .expect("the runtime loads"),
    );
    let limits = objectos_host::sandbox::Limits {
        fuel: sandbox.config.function.fuel,
        ..sandbox.config.function
    };
    let caller = objectos_host::sandbox::Caller {
        user_id: Some("u1".into()),
        organization_id: Some("o1".into()),
        positions: vec!["everyone".into()],
        is_system: false,
    };
    let mut ran = 0;
    for app in ["app-crm.json", "app-showcase.json"] {
        let def: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(app)).expect("fixture"))
                .expect("JSON");
        let def = def.get("metadata").cloned().unwrap_or(def);
        for (kind, list) in [("hook", "hooks"), ("action", "actions")] {
            for item in def[list].as_array().cloned().unwrap_or_default() {
                let body = &item["body"];
                if body["language"] != "js" {
                    continue;
                }
                let source = body["source"].as_str().unwrap_or("");
                let caps: Vec<String> = body["capabilities"]
                    .as_array()
                    .map(|c| {
                        c.iter()
                            .filter_map(|x| x.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                let name = item["name"].as_str().unwrap_or("?");
                let payload = if kind == "hook" {
                    json!({"object": item["object"], "event": item["events"][0], "input": {"title": " A ", "stage": "closed_won", "probability": 10}, "previous": null, "result": null})
                } else {
                    json!({"params": {}, "recordId": "r1", "object": item["objectName"], "record": {"id": "r1"}})
                };
                let out = sandbox
                    .call_script(
                        &runtime,
                        name,
                        &limits,
                        kind == "hook",
                        source,
                        &caps,
                        &caller,
                        &payload.to_string(),
                        None,
                    )
                    .await;
                match out {
                    Ok(text) => {
                        if name == "opportunity_stage_probability" {
                            let v: Value = serde_json::from_str(&text).expect("JSON");
                            assert_eq!(v["proceed"]["probability"], 100, "{text}");
                        }
                        if name == "showcase_normalize_task_title" {
                            assert!(text.contains(r#""title":"A""#), "{text}");
                        }
                    }
                    // The body's own throw (e.g. a data call this test does not serve) is a run, not a failure.
                    Err(objectos_host::sandbox::SandboxError::Guest {
                        error: objectos_host::sandbox::GuestFailure::Invalid(_),
                        ..
                    }) => {}
                    Err(e) => panic!("{app} {kind} {name}: {e}"),
                }
                ran += 1;
            }
        }
    }
    assert!(ran >= 60, "only {ran} bodies ran");
}

/// The fast path: instances made from a snapshot of the runtime taken after `prepare`. Each call must still
/// start from the pristine snapshot (nothing a call leaves behind is seen by the next), get fresh randomness,
/// and answer exactly what the plain runtime answers, for a prepared body and for one the snapshot lacks.
#[tokio::test]
async fn snapshot_instances_start_fresh_and_agree_with_the_plain_runtime() {
    use objectos_host::sandbox::{BodyKind, Caller};
    let sandbox = crate::support::shared_sandbox();
    let runtime = crate::support::js_runtime();
    let counter = "globalThis.calls = (globalThis.calls || 0) + 1; return { calls: globalThis.calls, id: ctx.crypto.randomUUID() };";
    let trim = "ctx.input.title = ctx.input.title.trim(); if (ctx.input.amount < 0) throw new Error('negative');";
    let not_prepared = "return { sum: ctx.params.a + ctx.params.b };";
    let sources = [counter.to_string(), trim.to_string()];
    let snapshot = sandbox
        .preinitialize_js(&runtime, &sources)
        .await
        .expect("the snapshot is made");
    assert_ne!(snapshot.as_ref(), runtime.as_ref());
    let prepared = std::sync::Arc::new(
        sandbox
            .load("prepared", BodyKind::Script, &snapshot)
            .expect("the snapshot loads"),
    );
    let plain = std::sync::Arc::new(
        sandbox
            .load("plain", BodyKind::Script, &runtime)
            .expect("the runtime loads"),
    );
    let caller = Caller {
        user_id: Some("u1".into()),
        organization_id: Some("o1".into()),
        positions: vec![],
        is_system: false,
    };
    let limits = sandbox.config.function;
    let run = async |component, source: &str, hook: bool, payload: Value| {
        let text = sandbox
            .call_script(
                component,
                "snapshot_test",
                &limits,
                hook,
                source,
                &[],
                &caller,
                &payload.to_string(),
                None,
            )
            .await
            .expect("the body runs");
        serde_json::from_str::<Value>(&text).expect("JSON answer")
    };
    let input = json!({"params": {}});
    let first = run(&prepared, counter, false, input.clone()).await;
    let second = run(&prepared, counter, false, input.clone()).await;
    assert_eq!(first["calls"], 1, "{first}");
    assert_eq!(
        second["calls"], 1,
        "a call saw what the previous one left: {second}"
    );
    assert_ne!(
        first["id"], second["id"],
        "randomness was baked into the snapshot"
    );
    let event = json!({"object": "exp_report", "event": "beforeInsert", "input": {"title": "  Taxi ", "amount": 3}});
    let fast = run(&prepared, trim, true, event.clone()).await;
    assert_eq!(fast, run(&plain, trim, true, event).await);
    assert_eq!(fast["proceed"]["title"], "Taxi");
    let negative = json!({"object": "exp_report", "event": "beforeInsert", "input": {"title": "x", "amount": -1}});
    assert_eq!(
        run(&prepared, trim, true, negative).await,
        json!({"abort": "negative"})
    );
    let sum = json!({"params": {"a": 2, "b": 40}});
    assert_eq!(
        run(&prepared, not_prepared, false, sum.clone()).await,
        run(&plain, not_prepared, false, sum).await
    );
}

/// A before-hook sees only what the caller may send: an undeclared key, or a value of a JSON kind its field
/// can never hold (an object for a text or a date, a boolean for an e-mail address), is the caller's 400
/// naming the field before any hook condition or body runs on it (the condition would fail to evaluate and
/// the body would throw: the app's 500). Values of the right kind still reach the hooks, which may normalize
/// them.
#[tokio::test]
async fn hooks_never_see_malformed_caller_values() {
    let app = json!({
        "manifest": {"id": "com.objectos.hookinputs", "namespace": "hi", "version": "1.0.0", "type": "app", "name": "hook inputs"},
        "objects": [{"name": "hi_note", "label": "Note", "fields": {
            "body": {"type": "text", "label": "Body"},
            "due": {"type": "date", "label": "Due"},
            "email": {"type": "email", "label": "Email"},
            "due_text": {"type": "text", "label": "Due text"}
        }}],
        "hooks": [
            {"name": "hi_no_secrets", "object": "hi_note", "events": ["beforeInsert", "beforeUpdate"],
             "condition": {"dialect": "cel", "source": "record.body != null && lower(record.body).contains(\"password:\")"},
             "body": {"language": "js", "source": "throw new Error('Notes must not contain passwords');"}},
            {"name": "hi_due_copy", "object": "hi_note", "events": ["beforeInsert"],
             "body": {"language": "js", "source": "var i = ctx.input; if (i.due) { i.due_text = new Date(String(i.due)).toISOString().slice(0, 10); } if (typeof i.email === 'string') { i.email = i.email.trim().toLowerCase(); }"}}
        ]
    });
    let (s, t) = server(app).await;
    let t = Some(t.as_str());
    for (payload, field, code) in [
        (json!({"body": {}}), "body", "invalid_type"),
        (json!({"body": ["password: x"]}), "body", "invalid_type"),
        (json!({"due": {}}), "due", "invalid_date"),
        (json!({"due": true}), "due", "invalid_date"),
        (json!({"email": false}), "email", "invalid_email"),
    ] {
        let r = s
            .call("POST", "/api/v1/data/hi_note", payload.clone(), t)
            .await;
        assert_eq!(r.status, 400, "{payload}: {:?}", r.body);
        assert_eq!(
            r.body["code"], "VALIDATION_FAILED",
            "{payload}: {:?}",
            r.body
        );
        assert_eq!(
            r.body["fields"][0]["field"], field,
            "{payload}: {:?}",
            r.body
        );
        assert_eq!(r.body["fields"][0]["code"], code, "{payload}: {:?}", r.body);
    }
    let r = s
        .call(
            "POST",
            "/api/v1/data/hi_note",
            json!({"body": "x", "severity": 3}),
            t,
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["code"], "INVALID_FIELD");
    assert_eq!(r.body["field"], "severity");

    // Values of the right kind reach the hooks: the condition holds and refuses, the body normalizes.
    let r = s
        .call(
            "POST",
            "/api/v1/data/hi_note",
            json!({"body": "PASSWORD: hunter2"}),
            t,
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(
        r.body["error"]
            .as_str()
            .is_some_and(|e| e.contains("must not contain passwords")),
        "{:?}",
        r.body
    );
    let r = s
        .call(
            "POST",
            "/api/v1/data/hi_note",
            json!({"body": "fine", "due": "2026-03-05", "email": "  Ann@Example.COM "}),
            t,
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["record"]["due_text"], "2026-03-05");
    assert_eq!(r.body["record"]["email"], "ann@example.com");
    let id = r.body["id"].as_str().expect("id").to_string();

    // An update is checked the same way before its hooks run; nothing is written.
    let path = format!("/api/v1/data/hi_note/{id}");
    let r = s.call("PATCH", &path, json!({"body": {"a": 1}}), t).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["fields"][0]["field"], "body");
    let r = s.call("GET", &path, Value::Null, t).await;
    assert_eq!(r.body["record"]["body"], "fine");
}

/// A hook condition that cannot be evaluated on a record (here it calls a method on a missing value) fails
/// closed, as a validation rule does: 400 naming the hook, nothing written, the hook's body not run.
#[tokio::test]
async fn unevaluable_hook_conditions_refuse_the_write() {
    let app = json!({
        "manifest": {"id": "com.objectos.hookcond", "namespace": "hc", "version": "1.0.0", "type": "app", "name": "hook conditions"},
        "objects": [
            {"name": "hc_agent", "label": "Agent", "fields": {
                "name": {"type": "text", "label": "Name"},
                "email": {"type": "email", "label": "Email"}}},
            {"name": "hc_log", "label": "Log", "fields": {"line": {"type": "text", "label": "Line"}}}
        ],
        "hooks": [
            {"name": "hc_outside_domain", "object": "hc_agent", "events": ["beforeInsert"],
             "condition": {"dialect": "cel", "source": "!record.email.endsWith(\"@desk.test\")"},
             "body": {"language": "js", "capabilities": ["api.write"],
                      "source": "await ctx.api.object('hc_log').insert({line: 'outside'});"}}
        ]
    });
    let (s, t) = server(app).await;
    let t = Some(t.as_str());
    let r = s
        .call(
            "POST",
            "/api/v1/data/hc_agent",
            json!({"name": "No mail"}),
            t,
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["code"], "VALIDATION_FAILED", "{:?}", r.body);
    let f = &r.body["fields"][0];
    assert_eq!(f["code"], "hook_condition_unevaluable", "{:?}", r.body);
    assert_eq!(f["constraint"]["hook"], "hc_outside_domain", "{:?}", r.body);
    // The evaluator's fault stays in the log (it may quote values the caller may not read).
    assert!(f["constraint"].get("fault").is_none(), "{:?}", r.body);
    assert!(!r.body.to_string().contains("runtime"), "{:?}", r.body);
    assert!(
        f["message"]
            .as_str()
            .is_some_and(|m| m.contains("hc_outside_domain")),
        "{:?}",
        r.body
    );
    for object in ["hc_agent", "hc_log"] {
        let r = s
            .call("GET", &format!("/api/v1/data/{object}"), Value::Null, t)
            .await;
        assert_eq!(r.body["total"], 0, "{object}: {:?}", r.body);
    }
    // With the value present the condition evaluates: outside the domain the body runs, inside it does not.
    for (email, logs) in [("a@desk.test", 0), ("b@else.test", 1)] {
        let r = s
            .call(
                "POST",
                "/api/v1/data/hc_agent",
                json!({"name": "x", "email": email}),
                t,
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let r = s.call("GET", "/api/v1/data/hc_log", Value::Null, t).await;
        assert_eq!(r.body["total"], logs, "{email}: {:?}", r.body);
    }
}
