//! Wasm bodies end to end: the hook pipeline over REST, actions and functions, hostile guests, load-time
//! refusals, the compile cache and `artifact build`. Every component here is a real one, built from plugins/.

use crate::on_both_servers;
use crate::support::{Db, Server, start_server, start_server_with};
use objectos_guest_artifacts as guests;
use objectos_host::artifact::{Artifact, build};
use objectos_host::data::error::DataError;
use objectos_host::kernel::{DataOp, Kernel, OpResult, Principal};
use objectos_host::sandbox::{BodyKind, EngineConfig, Sandbox, SandboxConfig, SandboxError};
use serde_json::{Value, json};
use std::time::Duration;

fn component_path(name: &str) -> Result<&'static str, String> {
    Ok(match name {
        "sample_hooks.wasm" => guests::SAMPLE_HOOKS,
        "sample_functions.wasm" => guests::SAMPLE_FUNCTIONS,
        "hostile.wasm" => guests::HOSTILE,
        "hostile_fs.wasm" => guests::HOSTILE_FS,
        other => return Err(format!("no component {other}")),
    })
}

/// tests/fixtures/sandbox/definition.json with its components inlined.
pub fn sandbox_app() -> Value {
    let mut def: Value =
        serde_json::from_str(include_str!("../fixtures/sandbox/definition.json")).expect("JSON");
    build::inline_components(&mut def, &|name| {
        component_path(name).and_then(|p| std::fs::read(p).map_err(|e| e.to_string()))
    })
    .expect("components inline");
    def
}

async fn admin(s: &Server) -> String {
    s.sign_up("admin@example.com", "correct horse battery")
        .await
}

async fn list(s: &Server, object: &str, t: &str) -> Vec<Value> {
    let r = s
        .call(
            "GET",
            &format!("/api/v1/data/{object}"),
            Value::Null,
            Some(t),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["records"].as_array().cloned().unwrap_or_default()
}

fn error_code(body: &Value) -> &str {
    body["code"]
        .as_str()
        .or_else(|| body["error"]["code"].as_str())
        .unwrap_or("")
}

on_both_servers!(before_hook_rewrites_after_hook_writes, sandbox_app(), |s| {
    let t = &admin(&s).await;
    let r = s
        .call(
            "POST",
            "/api/v1/data/task",
            json!({"title": "   Buy milk  "}),
            Some(t),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let record = &r.body["record"];
    // The before-hook trimmed the title and set the missing status.
    assert_eq!(record["title"], "Buy milk");
    assert_eq!(record["status"], "draft");
    let id = record["id"].as_str().expect("id").to_string();
    // The after-hook wrote an activity through `data`, in the same transaction, as the caller.
    let activities = list(&s, "activity", t).await;
    assert_eq!(activities.len(), 1, "{activities:?}");
    assert_eq!(activities[0]["subject"], "task");
    assert_eq!(activities[0]["record_id"], json!(id));
    assert_eq!(activities[0]["event"], "afterInsert");
    assert_eq!(activities[0]["title"], "Buy milk");
    assert_eq!(activities[0]["created_by"], record["created_by"]);
    // beforeUpdate trims too.
    let r = s
        .call(
            "PATCH",
            &format!("/api/v1/data/task/{id}"),
            json!({"title": " Buy oat milk ", "status": "open"}),
            Some(t),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["record"]["title"], "Buy oat milk");
    // The async after-update hook runs after the commit: its activity shows up shortly after.
    let mut seen = false;
    for _ in 0..100 {
        if list(&s, "activity", t)
            .await
            .iter()
            .any(|a| a["event"] == "afterUpdate")
        {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen, "the async afterUpdate hook wrote nothing");
});

on_both_servers!(hook_abort_writes_nothing, sandbox_app(), |s| {
    let t = &admin(&s).await;
    let r = s
        .call(
            "POST",
            "/api/v1/data/task",
            json!({"title": "Refund", "amount": -5}),
            Some(t),
        )
        .await;
    // The real server's refusal: `{error, object}`, no code.
    assert_eq!(
        r.body,
        json!({"error": "amount must not be negative", "object": "task"}),
        "{:?}",
        r.body
    );
    assert_eq!(r.status, 400);
    assert!(list(&s, "task", t).await.is_empty());
    assert!(list(&s, "activity", t).await.is_empty());
});

on_both_servers!(cel_hooks_condition_and_on_error, sandbox_app(), |s| {
    let t = &admin(&s).await;
    let r = s
        .call(
            "POST",
            "/api/v1/data/note",
            json!({"body": "forbidden"}),
            Some(t),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["error"], "notes may not say forbidden");
    // The condition holds: the expression's map is merged into the record.
    let r = s
        .call(
            "POST",
            "/api/v1/data/note",
            json!({"body": "urgent: call back"}),
            Some(t),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["record"]["priority"], "high");
    // The condition does not hold: untouched. (note_lenient fails on every note; onError: log lets it pass.)
    let r = s
        .call(
            "POST",
            "/api/v1/data/note",
            json!({"body": "later"}),
            Some(t),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["record"]["priority"], Value::Null);
});

on_both_servers!(actions_and_functions, sandbox_app(), |s| {
    let t = &admin(&s).await;
    let r = s
        .call(
            "POST",
            "/api/v1/data/task",
            json!({"title": "Ship", "status": "open"}),
            Some(t),
        )
        .await;
    let id = r.body["record"]["id"].as_str().expect("id").to_string();
    let act = |name: &str, rec: Option<&str>| match rec {
        Some(rec) => format!("/api/v1/actions/task/{name}/{rec}"),
        None => format!("/api/v1/actions/task/{name}"),
    };
    // A param outside its declared options is refused before any code runs.
    let r = s
        .call(
            "POST",
            &act("escalate", Some(&id)),
            json!({"params": {"priority": "urgent"}}),
            Some(t),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["error"]["code"], "VALIDATION_ERROR");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(
                "Invalid action params: Action param \"priority\" (text): Invalid option"
            )),
        "{:?}",
        r.body
    );
    // Keys outside `params` are not params (as on the real server); undeclared params are refused.
    let r = s
        .call(
            "POST",
            &act("escalate", Some(&id)),
            json!({"params": {"colour": "red"}}),
            Some(t),
        )
        .await;
    assert_eq!(
        r.body["error"]["message"],
        "Invalid action params: Unknown action param \"colour\" \u{2014} not declared on this action",
        "{:?}",
        r.body
    );
    // The Wasm function escalates through `data`, elevated within the caller's organization.
    let r = s
        .call(
            "POST",
            &act("escalate", Some(&id)),
            json!({"params": {"priority": "high"}}),
            Some(t),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"success": true, "data": {"escalated": true, "id": id, "from": "open", "to": "escalated"}})
    );
    let r = s
        .call(
            "GET",
            &format!("/api/v1/data/task/{id}"),
            Value::Null,
            Some(t),
        )
        .await;
    assert_eq!(
        (
            r.body["record"]["status"].clone(),
            r.body["record"]["priority"].clone()
        ),
        (json!("escalated"), json!("high"))
    );
    // The function's own refusal is a 400 with its message, in the real server's action envelope.
    let r = s
        .call("POST", &act("escalate", Some(&id)), json!({}), Some(t))
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["success"], false);
    assert_eq!(r.body["error"]["code"], "VALIDATION_ERROR");
    assert_eq!(r.body["error"]["httpStatus"], 400);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("Only an open record can be escalated (this one is escalated)"),
        "{:?}",
        r.body
    );
    // An action whose target is an artifact function.
    let r = s
        .call(
            "POST",
            "/api/v1/data/task",
            json!({"title": "Second", "status": "open"}),
            Some(t),
        )
        .await;
    let id2 = r.body["record"]["id"].as_str().expect("id").to_string();
    let r = s
        .call(
            "POST",
            &act("escalate_by_target", Some(&id2)),
            Value::Null,
            Some(t),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["data"]["to"], "escalated");
    // CEL bodies; required params.
    let r = s
        .call("POST", &act("summary", Some(&id)), json!({}), Some(t))
        .await;
    assert_eq!(
        (r.status, error_code(&r.body)),
        (400, "VALIDATION_ERROR"),
        "{:?}",
        r.body
    );
    assert_eq!(
        r.body["error"]["message"],
        "Invalid action params: Action param \"loud\" is required"
    );
    let r = s
        .call(
            "POST",
            &act("summary", Some(&id)),
            json!({"params": {"loud": true}}),
            Some(t),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"success": true, "data": {"title": "Ship", "loud": true}})
    );
    // visible / disabled / requiredPermissions are enforced on the server.
    let r = s
        .call(
            "PATCH",
            &format!("/api/v1/data/task/{id}"),
            json!({"status": "done"}),
            Some(t),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = s
        .call("POST", &act("escalate", Some(&id)), json!({}), Some(t))
        .await;
    assert_eq!(
        (r.status, error_code(&r.body)),
        (403, "ACTION_NOT_AVAILABLE"),
        "{:?}",
        r.body
    );
    let r = s
        .call(
            "POST",
            "/api/v1/data/task",
            json!({"title": "Draft one"}),
            Some(t),
        )
        .await;
    let draft = r.body["record"]["id"].as_str().expect("id").to_string();
    let r = s
        .call("POST", &act("frozen", Some(&draft)), json!({}), Some(t))
        .await;
    assert_eq!(
        (r.status, error_code(&r.body)),
        (400, "ACTION_DISABLED"),
        "{:?}",
        r.body
    );
    let r = s
        .call("POST", &act("managers_only", None), json!({}), Some(t))
        .await;
    assert_eq!(
        (r.status, error_code(&r.body)),
        (403, "PERMISSION_DENIED"),
        "{:?}",
        r.body
    );
    let r = s.call("POST", &act("nope", None), json!({}), Some(t)).await;
    assert_eq!(
        (r.status, error_code(&r.body)),
        (404, "RESOURCE_NOT_FOUND"),
        "{:?}",
        r.body
    );
    let r = s
        .call(
            "POST",
            &act("escalate", Some("missing-id")),
            json!({}),
            Some(t),
        )
        .await;
    assert_eq!(
        (r.status, error_code(&r.body)),
        (404, "RECORD_NOT_FOUND"),
        "{:?}",
        r.body
    );
    let r = s
        .call("POST", &act("escalate", Some(&id)), json!({}), None)
        .await;
    assert_eq!(r.status, 401);
});

/// One misbehaving guest per mode: the request fails with the expected status and code, nothing is
/// written, and the server goes on serving.
async fn hostile_case(s: &Server, t: &str, mode: &str, status: u16, code: &str, detail: &str) {
    let before_probes = list(s, "probe", t).await.len();
    let before_activities = list(s, "activity", t).await.len();
    let r = s
        .call("POST", "/api/v1/data/probe", json!({"mode": mode}), Some(t))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (status, code),
        "mode {mode}: {:?}",
        r.body
    );
    let message = r.body["error"].as_str().unwrap_or("");
    assert!(
        message.contains("probe_hostile") && message.contains(detail),
        "mode {mode}: {message}"
    );
    assert_eq!(
        list(s, "probe", t).await.len(),
        before_probes,
        "mode {mode} left a probe"
    );
    assert_eq!(
        list(s, "activity", t).await.len(),
        before_activities,
        "mode {mode} left an activity"
    );
    // The next request is served normally, by the same hook.
    let r = s
        .call(
            "POST",
            "/api/v1/data/probe",
            json!({"mode": "calm"}),
            Some(t),
        )
        .await;
    assert_eq!(r.status, 201, "after mode {mode}: {:?}", r.body);
}

#[tokio::test]
async fn hostile_guests_cannot_hurt_the_host() {
    let s = start_server(Db::Sqlite, "", sandbox_app(), Default::default()).await;
    let t = &admin(&s).await;
    hostile_case(&s, t, "spin", 500, "FUNCTION_FUEL_EXHAUSTED", "fuel").await;
    hostile_case(&s, t, "sleep", 504, "FUNCTION_TIMEOUT", "250 ms").await;
    hostile_case(&s, t, "memory", 500, "FUNCTION_MEMORY_LIMIT", "32 MiB").await;
    hostile_case(&s, t, "recurse", 500, "FUNCTION_TRAPPED", "stack overflow").await;
    hostile_case(&s, t, "huge", 500, "FUNCTION_OUTPUT_TOO_LARGE", "allowed").await;
    hostile_case(
        &s,
        t,
        "insert-then-trap",
        500,
        "FUNCTION_TRAPPED",
        "unreachable",
    )
    .await;
}

on_both_servers!(trap_after_insert_persists_nothing, sandbox_app(), |s| {
    let t = &admin(&s).await;
    hostile_case(
        &s,
        t,
        "insert-then-trap",
        500,
        "FUNCTION_TRAPPED",
        "unreachable",
    )
    .await;
});

#[tokio::test]
async fn epoch_deadline_stops_a_guest_with_unlimited_fuel() {
    let s = start_server_with(Db::Sqlite, "", sandbox_app(), Default::default(), |cfg| {
        cfg.sandbox.hook.fuel = u64::MAX / 4;
        cfg.sandbox.hook.timeout = Duration::from_millis(100);
    })
    .await;
    let t = &admin(&s).await;
    hostile_case(&s, t, "spin", 504, "FUNCTION_TIMEOUT", "100 ms").await;
}

/// A guest's data calls act as the invoking principal: its organization's rows only, and no runtime objects.
mod guest_principal {
    use super::*;

    async fn run(db: Db) {
        let kernel = crate::support::boot(db, module_path!(), sandbox_app()).await;
        let alice = Principal::user("user_alice", Some("org_one"));
        let bob = Principal::user("user_bob", Some("org_two"));
        for title in ["a", "b", "c"] {
            kernel
                .execute(
                    &alice,
                    DataOp::Create {
                        object: "task".into(),
                        record: json!({"title": title})
                            .as_object()
                            .cloned()
                            .unwrap_or_default(),
                    },
                )
                .await
                .expect("task");
        }
        let peek = |target: &str| DataOp::Create {
            object: "probe".into(),
            record: json!({"mode": "peek", "target": target})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        };
        let seen = |r: OpResult| match r {
            OpResult::Record(r) => r["seen"].clone(),
            other => panic!("{other:?}"),
        };
        // Three tasks made three activities in org_one; org_two sees none of them.
        assert_eq!(
            seen(
                kernel
                    .execute(&alice, peek("activity"))
                    .await
                    .expect("alice")
            ),
            json!(3)
        );
        assert_eq!(
            seen(kernel.execute(&bob, peek("activity")).await.expect("bob")),
            json!(0)
        );
        // Runtime objects do not exist for a user's guest.
        match kernel.execute(&alice, peek("sys_user")).await {
            Err(DataError::HookRefused { message, .. }) => {
                assert!(message.contains("NotFound"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        // A hook declared `runAs: system` is elevated code, not the runtime: the runtime's own objects do not
        // exist for it either (it gets "not found", like the user's guest), so it cannot read identities.
        let probe = match kernel
            .execute(
                &alice,
                DataOp::Create {
                    object: "probe".into(),
                    record: json!({"mode": "calm"})
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                },
            )
            .await
            .expect("probe")
        {
            OpResult::Record(r) => r["id"].as_str().unwrap_or_default().to_string(),
            other => panic!("{other:?}"),
        };
        let refused = kernel
            .execute(
                &alice,
                DataOp::Update {
                    object: "probe".into(),
                    id: probe,
                    patch: json!({"mode": "peek", "target": "sys_user"})
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                    expected_version: None,
                },
            )
            .await
            .expect_err("a system hook may not read sys_user");
        assert!(refused.to_string().contains("not registered"), "{refused}");
    }

    #[tokio::test]
    async fn sqlite() {
        run(Db::Sqlite).await
    }

    #[tokio::test]
    async fn postgres() {
        run(Db::Postgres).await
    }
}

#[tokio::test]
async fn forbidden_import_is_refused_at_boot() {
    let mut app = sandbox_app();
    let fs = std::fs::read(guests::HOSTILE_FS).expect("hostile_fs");
    app["hooks"][0]["body"] = json!({"language": "wasm", "componentPath": "hostile_fs.wasm"});
    build::inline_components(&mut app, &|_| Ok(fs.clone())).expect("inline");
    let artifact = Artifact::from_value(app).expect("valid artifact");
    let cfg = crate::support::config("sqlite::memory:".into());
    match Kernel::boot(artifact, &cfg).await {
        Err(DataError::Sandbox(SandboxError::Refused { body, reason })) => {
            assert_eq!(body, "task_tidy");
            assert!(reason.contains("wasi:filesystem/"), "{reason}");
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("a component importing wasi:filesystem booted"),
    }
}

#[tokio::test]
async fn wrong_component_hash_is_refused_with_its_path() {
    let mut app = sandbox_app();
    app["hooks"][1]["body"]["sha256"] = json!("0".repeat(64));
    match Artifact::from_value(app) {
        Err(e) => assert!(e.to_string().contains("hooks[1].body.sha256"), "{e}"),
        Ok(_) => panic!("accepted a component whose SHA-256 does not match"),
    }
}

#[test]
fn a_hook_component_is_not_a_function() {
    let sandbox = crate::support::shared_sandbox();
    let bytes = std::fs::read(guests::SAMPLE_HOOKS).expect("component");
    match sandbox.load("as_function", BodyKind::Function, &bytes) {
        Err(SandboxError::Refused { reason, .. }) => {
            assert!(reason.contains("objectos:host/function"), "{reason}")
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("a hook component loaded as a function"),
    }
}

#[test]
fn compile_cache_survives_a_restart_and_rejects_tampering() {
    let dir = std::env::temp_dir().join(format!("objectos-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let bytes = std::fs::read(guests::SAMPLE_HOOKS).expect("component");
    let engine = || EngineConfig {
        pool_instances: 4,
        cache_dir: Some(dir.clone()),
        ..Default::default()
    };
    let first = Sandbox::new(engine(), SandboxConfig::default()).expect("engine");
    assert!(
        !first
            .load("h", BodyKind::Hook, &bytes)
            .expect("compiles")
            .from_cache
    );
    drop(first);
    // A new engine (as after a restart) deserializes what the first one compiled.
    let second = Sandbox::new(engine(), SandboxConfig::default()).expect("engine");
    assert!(
        second
            .load("h", BodyKind::Hook, &bytes)
            .expect("loads")
            .from_cache
    );
    // A cache file changed behind our back is not loaded: the component is compiled again.
    for entry in std::fs::read_dir(&dir).expect("cache dir").flatten() {
        if entry.path().extension().is_some_and(|e| e == "cwasm") {
            let mut data = std::fs::read(entry.path()).expect("read");
            let n = data.len() / 2;
            data[n] ^= 0xff;
            std::fs::write(entry.path(), data).expect("write");
        }
    }
    let third = Sandbox::new(engine(), SandboxConfig::default()).expect("engine");
    assert!(
        !third
            .load("h", BodyKind::Hook, &bytes)
            .expect("recompiles")
            .from_cache
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn artifact_build_is_byte_identical_and_verifies() {
    let dir = std::env::temp_dir().join(format!("objectos-build-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let components = std::path::Path::new(guests::SAMPLE_HOOKS)
        .parent()
        .expect("dir")
        .to_path_buf();
    let definition = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sandbox/definition.json"
    );
    let run = |out: &std::path::Path| {
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_objectos"))
            .args(["artifact", "build", definition, "--components"])
            .arg(&components)
            .arg("--out")
            .arg(out)
            .status()
            .expect("run objectos");
        assert!(status.success());
        std::fs::read(out).expect("envelope")
    };
    let a = run(&dir.join("a.json"));
    let b = run(&dir.join("b.json"));
    assert_eq!(a, b, "two builds of the same inputs differ");
    let envelope: Value = serde_json::from_slice(&a).expect("JSON");
    assert!(envelope.get("builtAt").is_none());
    let hook = &envelope["metadata"]["hooks"][0]["body"];
    assert_eq!(hook["sha256"].as_str().map(str::len), Some(64));
    assert!(hook.get("componentPath").is_none());
    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_objectos"))
        .args(["artifact", "verify"])
        .arg(dir.join("a.json"))
        .output()
        .expect("verify");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
