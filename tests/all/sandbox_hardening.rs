//! Guests never hurt the host: a computing guest does not hold a request worker, host-call timeouts fire,
//! every failure has its own code, CEL evaluation is bounded and never panics, and a panicking write fails
//! alone (its group-commit batch-mates commit) with the request id in the answer.

use crate::support::{self, Db, Server, start_server_with};
use objectos_guest_artifacts as guests;
use objectos_host::expr;
use objectos_host::kernel::{DataOp, Principal};
use objectos_host::sandbox::{BodyKind, EngineConfig, HookEvent, Sandbox, SandboxConfig};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

fn error_code(body: &Value) -> &str {
    body["code"]
        .as_str()
        .or_else(|| body["error"]["code"].as_str())
        .unwrap_or("")
}

fn error_text(body: &Value) -> String {
    [&body["error"], &body["error"]["message"], &body["message"]]
        .iter()
        .filter_map(|v| v.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A small app: `probe` records (a hostile hook on insert), JS actions that spin, nest their result or
/// write through `ctx.api`, and a `dated` object whose default, formula and rule do date arithmetic.
fn app() -> Value {
    let mut app = json!({
        "manifest": {"id": "com.objectos.hardening", "namespace": "hd", "version": "1.0.0", "type": "app", "name": "hardening"},
        "objects": [
            {"name": "probe", "label": "Probe", "sharingModel": "public_read_write",
             "fields": {"mode": {"type": "text", "label": "Mode"}, "note": {"type": "text", "label": "Note"}}},
            {"name": "item", "label": "Item", "sharingModel": "public_read_write",
             "fields": {"title": {"type": "text", "label": "Title"}}},
            {"name": "dated", "label": "Dated", "sharingModel": "public_read_write",
             "fields": {
                "n": {"type": "number", "label": "N"},
                "shift": {"type": "number", "label": "Shift"},
                "m": {"type": "number", "label": "M"},
                "due": {"type": "datetime", "label": "Due", "defaultValue": {"dialect": "cel", "source": "record.n == null ? now() : daysFromNow(int(record.n))"}},
                "back": {"type": "formula", "returnType": "datetime", "label": "Back",
                         "expression": {"dialect": "cel", "source": "record.m == null ? null : daysAgo(int(record.m))"}}
             },
             "validations": [
                {"name": "not_too_far", "type": "script", "message": "Too far.",
                 "condition": {"dialect": "cel", "source": "record.shift != null && addDays(now(), int(record.shift)) < now()"}}
             ]}
        ],
        "hooks": [{"name": "probe_hostile", "object": "probe", "events": ["beforeInsert"],
                   "body": {"language": "wasm", "componentPath": "hostile.wasm"}}],
        "actions": [
            {"name": "spin", "label": "Spin", "objectName": "probe", "type": "script",
             "body": {"language": "js", "source": "while (true) {}", "timeoutMs": 1500}},
            {"name": "nested", "label": "Nested", "objectName": "probe", "type": "script",
             "body": {"language": "js", "source": "let v = 1; for (let i = 0; i < 200; i++) { v = [v]; } return v;"}},
            {"name": "big_in", "label": "Big $in", "objectName": "probe", "type": "script",
             "body": {"language": "js", "capabilities": ["api.read"],
                      "source": "const values = []; for (let i = 0; i < 5000; i++) { values.push(i); } try { await ctx.api.object('item').find({where: {title: {$in: values}}}); } catch (e) { return {caught: String(e)}; } return {caught: null};"}},
            {"name": "write_through", "label": "Write through", "objectName": "probe", "type": "script",
             "body": {"language": "js", "capabilities": ["api.write", "api.read"],
                      "source": "try { await ctx.api.object('item').insert({title: 'from the action'}); } catch (e) { return {caught: String(e)}; } return {done: true};"}}
        ]
    });
    objectos_host::artifact::build::inline_components(&mut app, &|name| match name {
        "hostile.wasm" => std::fs::read(guests::HOSTILE).map_err(|e| e.to_string()),
        other => Err(format!("no component {other}")),
    })
    .expect("components inline");
    app
}

async fn server(
    db: Db,
    test: &str,
    adjust: impl FnOnce(&mut objectos_host::config::RuntimeConfig),
) -> (Server, String) {
    let s = start_server_with(db, test, app(), Default::default(), |cfg| {
        cfg.js_runtime = Some(support::js_runtime());
        adjust(cfg);
    })
    .await;
    let t = s
        .sign_up("admin@example.com", "correct horse battery")
        .await;
    (s, t)
}

// ---- 1. guests never hold a request worker ----------------------------------------------------------------

/// A test runtime has ONE worker thread: a guest spinning on it would stop everything else until its
/// deadline. The guest runs on the guest pool (and yields every tick), so health checks keep being answered
/// while the spinning action is in flight.
#[tokio::test]
async fn a_spinning_action_leaves_the_server_answering() {
    // Fuel enough that the 1.5 s deadline, not the fuel, ends the spin.
    let (s, t) = server(Db::Sqlite, "", |cfg| cfg.sandbox.function.fuel = 1 << 40).await;
    let done = Arc::new(AtomicBool::new(false));
    let spin = {
        let (http, base, t, done) = (s.http.clone(), s.base.clone(), t.clone(), done.clone());
        tokio::spawn(async move {
            let r = http
                .post(format!("{base}/api/v1/actions/probe/spin"))
                .bearer_auth(&t)
                .json(&json!({}))
                .send()
                .await
                .expect("request");
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            done.store(true, Ordering::SeqCst);
            (status, body)
        })
    };
    let mut answered_meanwhile = 0;
    while !done.load(Ordering::SeqCst) {
        let r = s.call("GET", "/api/v1/health", Value::Null, None).await;
        assert!(r.status == 200 || r.status == 503, "{:?}", r.body);
        if !done.load(Ordering::SeqCst) {
            answered_meanwhile += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, body) = spin.await.expect("spin task");
    assert_eq!(status, 504, "{body:?}");
    assert_eq!(error_code(&body), "FUNCTION_TIMEOUT", "{body:?}");
    assert!(
        answered_meanwhile >= 5,
        "only {answered_meanwhile} health checks were answered while a guest spun"
    );
}

/// Without the guest pool (guest_threads 0) a guest runs on the caller's runtime, and still yields at every
/// epoch tick: on a one-thread runtime, another task makes progress while it spins, and the hard deadline
/// still ends it.
#[tokio::test]
async fn a_spinning_guest_yields_its_worker_between_ticks() {
    let sandbox = Sandbox::new(
        EngineConfig {
            pool_instances: 2,
            guest_threads: 0,
            ..EngineConfig::default()
        },
        SandboxConfig {
            hook: objectos_host::sandbox::Limits {
                fuel: u64::MAX / 4,
                timeout: Duration::from_millis(300),
                memory_bytes: 32 << 20,
            },
            ..SandboxConfig::default()
        },
    )
    .expect("engine");
    let bytes = std::fs::read(guests::HOSTILE).expect("hostile");
    let component = Arc::new(
        sandbox
            .load("spinner", BodyKind::Hook, &bytes)
            .expect("loads"),
    );
    let event = HookEvent {
        object: "probe".into(),
        event: "beforeInsert".into(),
        input: json!({"mode": "spin"}).to_string(),
        previous: None,
        record_id: None,
        caller: objectos_host::sandbox::Caller {
            user_id: None,
            organization_id: None,
            positions: vec![],
            is_system: true,
        },
    };
    let limits = sandbox.config.hook;
    let ticks = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    let counter = {
        let (ticks, finished) = (ticks.clone(), finished.clone());
        async move {
            while !finished.load(Ordering::SeqCst) {
                ticks.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    let call = async {
        let r = sandbox.call_hook(&component, &limits, &event, None).await;
        finished.store(true, Ordering::SeqCst);
        r
    };
    let (r, ()) = tokio::join!(call, counter);
    let err = r.expect_err("a spinning guest fails");
    assert_eq!(err.code(), "FUNCTION_TIMEOUT", "{err}");
    assert!(
        ticks.load(Ordering::SeqCst) >= 5,
        "the other task ran {} times while the guest spun",
        ticks.load(Ordering::SeqCst)
    );
}

// ---- 2. host-call timeouts fire --------------------------------------------------------------------------

/// A data call blocked behind a table lock that another connection holds (released only after the answer):
/// the invocation fails with FUNCTION_HOST_CALL_TIMEOUT (504) at the host-call timeout, whatever the guest
/// made of the error, and the server goes on.
#[tokio::test]
async fn a_data_call_past_its_timeout_fails_the_invocation() {
    use sqlx::Connection;
    let test = "sandbox_hardening_host_call_timeout";
    let (s, t) = server(Db::Postgres, test, |cfg| {
        cfg.sandbox.host_call_timeout = Duration::from_millis(300);
    })
    .await;
    let schema = format!("t_{test}");
    let mut locker = sqlx::PgConnection::connect(support::PG_BASE)
        .await
        .expect("connect");
    sqlx::query("BEGIN")
        .execute(&mut locker)
        .await
        .expect("begin");
    sqlx::query(&format!(
        "LOCK TABLE \"{schema}\".\"item\" IN ACCESS EXCLUSIVE MODE"
    ))
    .execute(&mut locker)
    .await
    .expect("lock");
    let r = s
        .call(
            "POST",
            "/api/v1/actions/probe/write_through",
            json!({}),
            Some(&t),
        )
        .await;
    sqlx::query("ROLLBACK")
        .execute(&mut locker)
        .await
        .expect("unlock");
    assert_eq!(r.status, 504, "{:?}", r.body);
    assert_eq!(
        error_code(&r.body),
        "FUNCTION_HOST_CALL_TIMEOUT",
        "{:?}",
        r.body
    );
    assert!(error_text(&r.body).contains("300 ms"), "{:?}", r.body);
    // Unblocked, the same action succeeds.
    let r = s
        .call(
            "POST",
            "/api/v1/actions/probe/write_through",
            json!({}),
            Some(&t),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["data"], json!({"done": true}), "{:?}", r.body);
}

// ---- 3. every failure its own code ------------------------------------------------------------------------

#[tokio::test]
async fn invalid_results_are_named_invalid_results() {
    let (s, t) = server(Db::Sqlite, "", |_| {}).await;
    for (mode, detail) in [("garbage", "not JSON"), ("deep", "128 levels")] {
        let r = s
            .call(
                "POST",
                "/api/v1/data/probe",
                json!({"mode": mode}),
                Some(&t),
            )
            .await;
        assert_eq!(r.status, 500, "{mode}: {:?}", r.body);
        assert_eq!(
            error_code(&r.body),
            "FUNCTION_INVALID_RESULT",
            "{mode}: {:?}",
            r.body
        );
        let text = error_text(&r.body);
        assert!(
            text.contains("probe_hostile") && text.contains(detail),
            "{mode}: {:?}",
            r.body
        );
    }
    // Nothing was written, and the server goes on.
    let r = s
        .call("GET", "/api/v1/data/probe", Value::Null, Some(&t))
        .await;
    assert_eq!(r.body["records"], json!([]), "{:?}", r.body);
    // An action whose result nests deeper than the reader allows.
    let r = s
        .call("POST", "/api/v1/actions/probe/nested", json!({}), Some(&t))
        .await;
    assert_eq!(r.status, 500, "{:?}", r.body);
    assert_eq!(
        error_code(&r.body),
        "FUNCTION_INVALID_RESULT",
        "{:?}",
        r.body
    );
}

/// A guest query past the filter limits (a `$in` of 5,000 values): refused with the limit named (and, were it one the
/// database could not run, the guest's error would name the request id under which the server logged it).
#[tokio::test]
async fn a_failed_guest_query_names_the_logged_request() {
    let (s, t) = server(Db::Sqlite, "", |cfg| {
        cfg.sandbox.function.fuel = 1 << 40;
        cfg.sandbox.function.memory_bytes = 256 << 20;
    })
    .await;
    let r = s
        .call("POST", "/api/v1/actions/probe/big_in", json!({}), Some(&t))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let caught = r.body["data"]["caught"].as_str().unwrap_or("").to_string();
    let request_id = r
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("?")
        .to_string();
    assert!(
        caught.contains(&format!("request id {request_id}"))
            || caught.contains("at most")
            || caught.contains("limit MAX_IN_VALUES"),
        "{caught:?} (request {request_id})"
    );
}

// ---- 4. CEL: checked date arithmetic, bounded evaluation --------------------------------------------------

#[test]
fn cel_date_functions_refuse_out_of_range_numbers() {
    let now = chrono::Utc::now();
    for source in [
        "daysAgo(9223372036854775807)",
        "daysAgo(-9223372036854775807)",
        "daysAgo(100000000000)",
        "daysFromNow(9223372036854775807)",
        "daysFromNow(-100000000000)",
        "addDays(now(), 9223372036854775807)",
        "addDays('2024-01-01', -9223372036854775807)",
        "addMonths(now(), 9223372036854775807)",
        "addMonths(now(), -9223372036854775807)",
        "daysAgo(100000000000) < now()",
    ] {
        let err = expr::evaluate_constant(source, now).expect_err(source);
        assert!(err.contains("out of"), "{source}: {err}");
    }
    // In range, they work.
    assert!(expr::evaluate_constant("addDays('2024-01-31', 1)", now).is_ok());
    assert!(expr::evaluate_constant("daysBetween('0001-01-01', '9999-12-31')", now).is_ok());
}

#[test]
fn cel_evaluation_is_bounded() {
    let now = chrono::Utc::now();
    let many: Vec<i64> = (0..(expr::MAX_COMPREHENSION_ITEMS as i64 + 1)).collect();
    let record = |items: &[i64]| {
        json!({"items": items})
            .as_object()
            .cloned()
            .unwrap_or_default()
    };
    let map = expr::compile("record.items.map(x, x * 2)").expect("compiles");
    let err = map
        .evaluate_on(&record(&many), now)
        .expect_err("too many items");
    assert!(err.contains("at most 10000"), "{err}");
    // Within the bound it runs.
    let ok = map
        .evaluate_on(&record(&many[..1000]), now)
        .expect("1000 items");
    assert_eq!(ok.as_array().map(Vec::len), Some(1000));
    // Nested comprehensions count every step: 1000 × 1000 is more than the evaluation may take.
    let nested = expr::compile("record.items.all(x, record.items.exists(y, y == -1) == false)")
        .expect("compiles");
    let err = nested
        .evaluate_on(&record(&many[..1000]), now)
        .expect_err("too many steps");
    assert!(err.contains("comprehension steps"), "{err}");
    // Inputs the interpreter used to panic on are errors.
    for source in [
        "'abc'.all(x, x == 'a')",
        "(1).exists(x, x == 1)",
        "Foo{a: 1}",
    ] {
        let result = expr::compile(source).and_then(|c| c.evaluate_on(&record(&[]), now));
        assert!(result.is_err(), "{source}: {result:?}");
    }
}

/// Huge numbers reach the date functions through a default, a formula and a validation rule: never a panic
/// (which took the request down with a 500 before). The evaluation error is then handled by each one's
/// documented rule: a default that cannot be evaluated leaves its field empty, a formula reads as null, a
/// script rule that cannot be evaluated rejects the write (fails closed, as on the real server) and says why.
#[tokio::test]
async fn cel_date_overflow_in_defaults_formulas_and_rules_is_an_error() {
    let (s, t) = server(Db::Sqlite, "", |_| {}).await;
    let huge = 9.0e15;
    let r = s
        .call("POST", "/api/v1/data/dated", json!({ "n": huge }), Some(&t))
        .await;
    assert_eq!(
        (r.status, &r.body["record"]["due"]),
        (201, &Value::Null),
        "{:?}",
        r.body
    );
    let r = s
        .call("POST", "/api/v1/data/dated", json!({ "m": huge }), Some(&t))
        .await;
    assert_eq!(
        (r.status, &r.body["record"]["back"]),
        (201, &Value::Null),
        "{:?}",
        r.body
    );
    let r = s
        .call(
            "POST",
            "/api/v1/data/dated",
            json!({ "shift": huge }),
            Some(&t),
        )
        .await;
    assert_eq!(
        (
            r.status,
            r.code(),
            &r.body["fields"][0]["constraint"]["reason"]
        ),
        (400, "VALIDATION_FAILED", &json!("unevaluable")),
        "{:?}",
        r.body
    );
    assert!(
        r.body["fields"][0]["constraint"]["fault"]
            .as_str()
            .is_some_and(|f| f.contains("out of the range of dates")),
        "{:?}",
        r.body
    );
    // In range, all three work.
    let r = s
        .call(
            "POST",
            "/api/v1/data/dated",
            json!({"n": 3, "shift": 1, "m": 2}),
            Some(&t),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert!(r.body["record"]["due"].is_string(), "{:?}", r.body);
    assert!(r.body["record"]["back"].is_string(), "{:?}", r.body);
}

// ---- panics are contained -----------------------------------------------------------------------------------

const MARKER: &str = "__objectos_test_panic__";

/// Concurrent inserts (SQLite: group commit gathers them into shared transactions), one of which panics:
/// that one answers 500 INTERNAL_ERROR with a request id; every other one commits.
async fn panicking_write_fails_alone(db: Db, test: &str) {
    let (s, t) = server(db, test, |cfg| {
        cfg.sandbox.panic_on_marker = Some(MARKER.into());
    })
    .await;
    let mut calls = Vec::new();
    for i in 0..24 {
        let title = if i == 11 {
            MARKER.to_string()
        } else {
            format!("item {i}")
        };
        let (http, base, t) = (s.http.clone(), s.base.clone(), t.clone());
        calls.push(tokio::spawn(async move {
            let r = http
                .post(format!("{base}/api/v1/data/item"))
                .bearer_auth(&t)
                .json(&json!({ "title": title }))
                .send()
                .await
                .expect("request");
            let status = r.status().as_u16();
            let id = r
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (title, status, id, body)
        }));
    }
    let mut created = 0;
    for call in calls {
        let (title, status, request_id, body) = call.await.expect("task");
        if title == MARKER {
            assert_eq!(status, 500, "{body:?}");
            assert_eq!(error_code(&body), "INTERNAL_ERROR", "{body:?}");
            assert!(request_id.is_some_and(|id| !id.is_empty()), "no request id");
        } else {
            assert_eq!(status, 201, "{title}: {body:?}");
            created += 1;
        }
    }
    assert_eq!(created, 23);
    let r = s
        .call("GET", "/api/v1/data/item?top=100", Value::Null, Some(&t))
        .await;
    let records = r.body["records"].as_array().cloned().unwrap_or_default();
    assert_eq!(records.len(), 23, "{:?}", r.body);
    assert!(records.iter().all(|r| r["title"] != MARKER));
    // The server goes on.
    let r = s
        .call(
            "POST",
            "/api/v1/data/item",
            json!({"title": "after"}),
            Some(&t),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
}

#[tokio::test]
async fn a_panicking_write_does_not_fail_its_batch_mates_sqlite() {
    panicking_write_fails_alone(Db::Sqlite, "").await;
}

#[tokio::test]
async fn a_panicking_request_is_contained_postgres() {
    panicking_write_fails_alone(Db::Postgres, "sandbox_hardening_panic").await;
}

/// The fault knob is off by default: the marker is an ordinary value.
#[tokio::test]
async fn the_panic_marker_is_inert_by_default() {
    let kernel = support::boot(Db::Sqlite, "", app()).await;
    let r = kernel
        .execute(
            &Principal::system(),
            DataOp::Create {
                object: "item".into(),
                record: json!({ "title": MARKER })
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            },
        )
        .await;
    assert!(r.is_ok(), "{r:?}");
}
