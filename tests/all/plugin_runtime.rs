//! Plugins running: signed service and hooks plugins started by the kernel with only what their grants allow
//! (data calls checked against `data:read|write:<object>`, an ungranted interface not linked at all, outbound
//! HTTP only to granted hosts), long-lived instances made again after a runaway call, `init` failures and
//! dependencies, and the REST route `POST /api/v1/services/:plugin/:method`.

use crate::support::{Db, PluginSpec, Server, admit_plugins as admit, start_server_with};
use objectos_host::artifact::Artifact;
use objectos_host::kernel::Kernel;
use objectos_host::plugins::loader::AdmittedPlugin;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn app() -> Value {
    json!({
        "manifest": {"id": "com.objectos.plugintest", "namespace": "p", "version": "1.0.0", "type": "app", "name": "plugin test"},
        "objects": [
            {"name": "p_note", "label": "Note", "sharingModel": "public_read_write",
             "fields": {"title": {"type": "text", "label": "Title", "required": true}}},
            {"name": "p_secret", "label": "Secret", "sharingModel": "public_read_write",
             "fields": {"title": {"type": "text", "label": "Title"}}}
        ]
    })
}

fn sample_service(capabilities: &[&str], grant_extra: &str) -> (Value, String) {
    let manifest = json!({"id": "com.example.sample", "version": "1.0.0", "kind": "service",
                          "capabilities": capabilities});
    let grant = format!(
        "[grants.\"com.example.sample\"]\ncapabilities = {}\ncallers = [\"plugin_caller\"]\nfuel = 20000000\n{grant_extra}\n[grants.\"com.example.sample\".config]\ngreeting = \"hello\"\n",
        serde_json::to_string(capabilities).unwrap()
    );
    (manifest, grant)
}

async fn call(s: &Server, token: &str, plugin: &str, method: &str, payload: Value) -> (u16, Value) {
    let r = s
        .call(
            "POST",
            &format!("/api/v1/services/{plugin}/{method}"),
            payload,
            Some(token),
        )
        .await;
    (r.status, r.body)
}

fn plugin_status(health: &Value, id: &str) -> Value {
    health["plugins"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["id"] == id))
        .cloned()
        .unwrap_or(Value::Null)
}

async fn count(s: &Server, token: &str, object: &str) -> usize {
    let r = s
        .call(
            "GET",
            &format!("/api/v1/data/{object}"),
            Value::Null,
            Some(token),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["records"].as_array().map_or(0, Vec::len)
}

/// A service plugin answers over REST with its config and a long-lived instance; its data calls reach only
/// the objects its grants name; a runaway call is stopped by fuel and the next call gets a new instance.
async fn service_plugin_case(db: Db) {
    let (manifest, grant) = sample_service(&["data:read:p_note", "data:write:p_note", "log"], "");
    let admitted = admit(
        &format!("svc-{db:?}"),
        &[PluginSpec {
            file: "sample.wasm",
            component: objectos_guest_artifacts::SAMPLE_SERVICE,
            manifest,
            grant: &grant,
        }],
    );
    let http = objectos_host::http::HttpConfig {
        open_signup: true,
        ..Default::default()
    };
    let s = start_server_with(db, "plugin_service", app(), http, |cfg| {
        cfg.plugins = admitted
    })
    .await;
    let admin = s
        .sign_up("admin@example.com", "correct horse battery")
        .await;
    // Plugin details are for a platform administrator; anyone else reads only the headline.
    let health = s.call("GET", "/api/v1/health", Value::Null, None).await;
    assert_eq!(health.body, json!({"status": "ok"}));
    let health = s
        .call("GET", "/api/v1/health", Value::Null, Some(&admin))
        .await;
    let status = plugin_status(&health.body, "com.example.sample");
    assert_eq!(status["status"], "running", "{:?}", health.body);
    let (code, body) = call(&s, &admin, "com.example.sample", "echo", json!({"x": 1})).await;
    assert_eq!(code, 200, "{body:?}");
    assert_eq!(body["data"]["payload"], json!({"x": 1}));
    assert_eq!(body["data"]["config"], json!({"greeting": "hello"}));
    assert_eq!(body["data"]["calls"], 1);
    let (_, body) = call(&s, &admin, "com.example.sample", "echo", json!({})).await;
    assert_eq!(body["data"]["calls"], 2, "one instance serves every call");

    // Granted: writes and reads of p_note, as the plugin (audited as such).
    let (code, body) = call(
        &s,
        &admin,
        "com.example.sample",
        "insert",
        json!({"object": "p_note", "values": {"title": "from the plugin"}}),
    )
    .await;
    assert_eq!(code, 200, "{body:?}");
    assert_eq!(body["data"]["title"], "from the plugin");
    assert_eq!(count(&s, &admin, "p_note").await, 1);
    let (code, body) = call(
        &s,
        &admin,
        "com.example.sample",
        "count",
        json!({"object": "p_note"}),
    )
    .await;
    assert_eq!(
        (code, body["data"]["count"].clone()),
        (200, json!(1)),
        "{body:?}"
    );

    // Not granted: p_secret cannot be written or read, and nothing is written.
    let (code, body) = call(
        &s,
        &admin,
        "com.example.sample",
        "insert",
        json!({"object": "p_secret", "values": {"title": "nope"}}),
    )
    .await;
    assert_eq!(code, 403, "{body:?}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("data:write:p_secret")),
        "{body:?}"
    );
    assert_eq!(count(&s, &admin, "p_secret").await, 0);
    let (code, body) = call(
        &s,
        &admin,
        "com.example.sample",
        "count",
        json!({"object": "p_secret"}),
    )
    .await;
    assert_eq!(code, 403, "{body:?}");
    // A runtime object is never reached through a wildcard-free grant either.
    let (code, _) = call(
        &s,
        &admin,
        "com.example.sample",
        "count",
        json!({"object": "sys_user"}),
    )
    .await;
    assert_eq!(code, 403);

    // A runaway call: fuel stops it, the server goes on, the next call runs in a new instance (init again).
    let (code, body) = call(&s, &admin, "com.example.sample", "spin", json!({})).await;
    assert_eq!(code, 500, "{body:?}");
    assert_eq!(body["error"]["code"], "FUNCTION_FUEL_EXHAUSTED", "{body:?}");
    let (code, body) = call(&s, &admin, "com.example.sample", "echo", json!({})).await;
    assert_eq!(code, 200, "{body:?}");
    assert_eq!(
        body["data"]["calls"], 1,
        "a new instance after the runaway call"
    );
    assert_eq!(body["data"]["config"], json!({"greeting": "hello"}));
    let health = s
        .call("GET", "/api/v1/health", Value::Null, Some(&admin))
        .await;
    let status = plugin_status(&health.body, "com.example.sample");
    assert_eq!(status["restarts"], 1, "{status:?}");
    assert!(
        status["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("fuel")),
        "{status:?}"
    );

    // The route: unknown plugin, unknown method, callers.
    let (code, body) = call(&s, &admin, "com.example.none", "echo", json!({})).await;
    assert_eq!(
        (code, body["error"]["code"].clone()),
        (404, json!("SERVICE_NOT_FOUND"))
    );
    let (code, _) = call(&s, &admin, "com.example.sample", "nothing", json!({})).await;
    assert_eq!(code, 404);
    let d = s.call("GET", "/api/v1/discovery", Value::Null, None).await;
    assert!(
        d.body["services"]["plugin:com.example.sample"].is_null(),
        "plugins are not listed to anonymous callers: {:?}",
        d.body
    );
    let d = s
        .call("GET", "/api/v1/discovery", Value::Null, Some(&admin))
        .await;
    let entry = &d.body["services"]["plugin:com.example.sample"];
    assert_eq!(
        entry["route"], "/api/v1/services/com.example.sample",
        "{:?}",
        d.body
    );
    assert_eq!(entry["status"], "available");
    let other = s
        .sign_up("other@example.com", "correct horse battery")
        .await;
    let (code, body) = call(&s, &other, "com.example.sample", "echo", json!({})).await;
    assert_eq!(
        code, 403,
        "only the grant's callers (and platform admins) may call: {body:?}"
    );
    let r = s
        .call(
            "POST",
            "/api/v1/services/com.example.sample/echo",
            json!({}),
            None,
        )
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn service_plugin_runs_with_its_grants_sqlite() {
    service_plugin_case(Db::Sqlite).await;
}

#[tokio::test]
async fn service_plugin_runs_with_its_grants_postgres() {
    service_plugin_case(Db::Postgres).await;
}

async fn boot_error(
    test: &str,
    admitted: Vec<AdmittedPlugin>,
    skip_bad: bool,
) -> Result<Arc<Kernel>, String> {
    boot_with(test, admitted, skip_bad).await
}

fn refusal(r: Result<Arc<Kernel>, String>) -> String {
    match r {
        Ok(_) => panic!("the boot should have been refused"),
        Err(e) => e,
    }
}

async fn boot_with(
    test: &str,
    admitted: Vec<AdmittedPlugin>,
    skip_bad: bool,
) -> Result<Arc<Kernel>, String> {
    let url = crate::support::database_url(Db::Sqlite, test).await;
    let mut cfg = crate::support::config(url);
    cfg.plugins = admitted;
    cfg.skip_bad_plugins = skip_bad;
    Kernel::boot(Artifact::from_value(app()).unwrap(), &cfg)
        .await
        .map(|(k, _)| k)
        .map_err(|e| e.to_string())
}

/// A plugin whose grants hold no data capability does not get the `data` interface at all: a component that
/// imports it is refused at load, naming the import.
#[tokio::test]
async fn an_ungranted_interface_is_not_linked() {
    let (manifest, grant) = sample_service(&[], "");
    let admitted = admit(
        "unlinked",
        &[PluginSpec {
            file: "sample.wasm",
            component: objectos_guest_artifacts::SAMPLE_SERVICE,
            manifest,
            grant: &grant,
        }],
    );
    let e = refusal(boot_error("plugin_unlinked", admitted, false).await);
    assert!(
        e.contains("com.example.sample")
            && e.contains("objectos:host/data@0.1.0")
            && e.contains("not linked"),
        "{e}"
    );
}

/// `init` failing stops the boot (named); with skip_bad the plugin is reported failed, answers 503, and a
/// plugin depending on it does not start either.
#[tokio::test]
async fn a_failing_init_stops_the_boot_or_is_reported() {
    let (manifest, grant) = sample_service(&["log"], "").clone();
    let grant = grant.replace("greeting = \"hello\"", "fail_init = true");
    let dependent = json!({"id": "com.example.after", "version": "1.0.0", "kind": "service",
                           "dependencies": {"com.example.sample": "^1"}, "capabilities": ["log"]});
    let specs = [
        PluginSpec {
            file: "sample.wasm",
            component: objectos_guest_artifacts::WEBHOOK,
            manifest: manifest.clone(),
            grant: &grant,
        },
        PluginSpec {
            file: "after.wasm",
            component: objectos_guest_artifacts::WEBHOOK,
            manifest: dependent,
            grant: "[grants.\"com.example.after\"]\ncapabilities = [\"log\"]\n",
        },
    ];
    // The webhook component imports wasi:http, which a plugin without http:outbound is not given.
    let e = refusal(
        boot_error(
            "plugin_init_unlinked",
            admit("init-unlinked", &specs),
            false,
        )
        .await,
    );
    assert!(
        e.contains("wasi:http/") && e.contains("http:outbound"),
        "{e}"
    );

    let specs = [
        PluginSpec {
            file: "sample.wasm",
            component: objectos_guest_artifacts::SAMPLE_SERVICE,
            manifest: json!({"id": "com.example.sample", "version": "1.0.0", "kind": "service",
                             "capabilities": ["log", "data:read:p_note"]}),
            grant: &grant.replace("[\"log\"]", "[\"log\", \"data:read:p_note\"]"),
        },
        PluginSpec {
            file: "after.wasm",
            component: objectos_guest_artifacts::SAMPLE_SERVICE,
            manifest: json!({"id": "com.example.after", "version": "1.0.0", "kind": "service",
                             "dependencies": {"com.example.sample": "^1"},
                             "capabilities": ["log", "data:read:p_note"]}),
            grant: "[grants.\"com.example.after\"]\ncapabilities = [\"log\", \"data:read:p_note\"]\n",
        },
    ];
    let e = refusal(boot_error("plugin_init_fails", admit("init-fails", &specs), false).await);
    assert!(
        e.contains("com.example.sample") && e.contains("init failed") && e.contains("fail_init"),
        "{e}"
    );
    let kernel = boot_error("plugin_init_skipped", admit("init-skipped", &specs), true)
        .await
        .expect("boots without the failed plugin");
    let statuses = kernel.plugins().statuses();
    assert_eq!(statuses.len(), 2);
    assert!(
        statuses.iter().all(|p| p.status == "failed"),
        "{statuses:?}"
    );
    let after = statuses
        .iter()
        .find(|p| p.id == "com.example.after")
        .unwrap();
    assert!(
        after
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("dependency com.example.sample")),
        "{after:?}"
    );
    let admin = objectos_host::kernel::Principal {
        positions: vec!["platform_admin".into()],
        ..objectos_host::kernel::Principal::user("u1", Some("o1"))
    };
    let e = kernel
        .call_service(&admin, "com.example.sample", "echo", &json!({}))
        .await
        .unwrap_err();
    assert_eq!(
        (objectos_host::http::errors::status_of(e.kind()), e.code()),
        (503, "PLUGIN_FAILED")
    );
}

/// A minimal HTTP/1.1 server on 127.0.0.1: records each request body (and counts connections), answers 200.
struct Collector {
    port: u16,
    bodies: Arc<Mutex<Vec<Value>>>,
    connections: Arc<Mutex<usize>>,
}

async fn collector() -> Collector {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let connections = Arc::new(Mutex::new(0));
    let (b, c) = (bodies.clone(), connections.clone());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            *c.lock().unwrap() += 1;
            let b = b.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Headers, then Content-Length bytes of body.
                let body = loop {
                    let Ok(n) = stream.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + length {
                        break buf[end + 4..end + 4 + length].to_vec();
                    }
                };
                b.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    Collector {
        port,
        bodies,
        connections,
    }
}

/// The webhook plugin reaches the host:port it was granted, and nothing else: a request to a second loopback
/// port is refused by the host before any connection is made.
#[tokio::test]
async fn webhook_reaches_only_granted_hosts() {
    let (granted, other) = (collector().await, collector().await);
    let manifest = json!({"id": "com.example.webhook", "version": "1.0.0", "kind": "service",
                          "capabilities": [format!("http:outbound:127.0.0.1:{}", granted.port)]});
    let grant = format!(
        "[grants.\"com.example.webhook\"]\ncapabilities = [\"http:outbound:127.0.0.1:{}\"]\n[grants.\"com.example.webhook\".config]\nurl = \"http://127.0.0.1:{}/in\"\n",
        granted.port, granted.port
    );
    let admitted = admit(
        "webhook",
        &[PluginSpec {
            file: "webhook.wasm",
            component: objectos_guest_artifacts::WEBHOOK,
            manifest,
            grant: &grant,
        }],
    );
    let s = start_server_with(
        Db::Sqlite,
        "plugin_webhook",
        app(),
        Default::default(),
        |cfg| cfg.plugins = admitted,
    )
    .await;
    let admin = s
        .sign_up("admin@example.com", "correct horse battery")
        .await;
    let (code, body) = call(
        &s,
        &admin,
        "com.example.webhook",
        "post",
        json!({"body": {"k": 1}}),
    )
    .await;
    assert_eq!(code, 200, "{body:?}");
    assert_eq!(body["data"]["status"], 200, "{body:?}");
    let received = granted.bodies.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0]["body"], json!({"k": 1}));

    let url = format!("http://127.0.0.1:{}/in", other.port);
    let (code, body) = call(
        &s,
        &admin,
        "com.example.webhook",
        "post",
        json!({"url": url, "body": {}}),
    )
    .await;
    assert_eq!(code, 403, "{body:?}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not a granted destination")),
        "{body:?}"
    );
    let url = format!("http://localhost:{}/in", granted.port);
    let (code, _) = call(
        &s,
        &admin,
        "com.example.webhook",
        "post",
        json!({"url": url, "body": {}}),
    )
    .await;
    assert_eq!(
        code, 403,
        "a grant names a host exactly (localhost is not 127.0.0.1)"
    );
    assert_eq!(
        *other.connections.lock().unwrap(),
        0,
        "no connection to an ungranted port"
    );
    assert_eq!(*granted.connections.lock().unwrap(), 1);
}

/// A granted *name* that resolves to a loopback address is refused (DNS rebinding, internal services): the host
/// resolves it, checks the address and makes no connection. The literal address, granted as such, is reached.
#[tokio::test]
async fn a_granted_name_resolving_to_loopback_is_refused() {
    let target = collector().await;
    let grant = format!(
        "[grants.\"com.example.webhook\"]\ncapabilities = [\"http:outbound:localhost:{0}\", \"http:outbound:127.0.0.1:{0}\"]\n",
        target.port
    );
    let manifest = json!({"id": "com.example.webhook", "version": "1.0.0", "kind": "service",
                          "capabilities": [format!("http:outbound:localhost:{}", target.port),
                                           format!("http:outbound:127.0.0.1:{}", target.port)]});
    let admitted = admit(
        "webhook_rebinding",
        &[PluginSpec {
            file: "webhook.wasm",
            component: objectos_guest_artifacts::WEBHOOK,
            manifest,
            grant: &grant,
        }],
    );
    let s = start_server_with(
        Db::Sqlite,
        "plugin_webhook_rebinding",
        app(),
        Default::default(),
        |cfg| cfg.plugins = admitted,
    )
    .await;
    let admin = s
        .sign_up("admin@example.com", "correct horse battery")
        .await;
    let url = format!("http://localhost:{}/in", target.port);
    let (code, body) = call(
        &s,
        &admin,
        "com.example.webhook",
        "post",
        json!({"url": url, "body": {"k": 1}}),
    )
    .await;
    assert_ne!(code, 200, "{body:?}");
    assert!(
        body.to_string().contains("DestinationIpProhibited"),
        "{body:?}"
    );
    assert_eq!(
        *target.connections.lock().unwrap(),
        0,
        "no connection to the address a granted name resolved to"
    );
    // The literal loopback address, granted as such, is reached.
    let url = format!("http://127.0.0.1:{}/in", target.port);
    let (code, body) = call(
        &s,
        &admin,
        "com.example.webhook",
        "post",
        json!({"url": url, "body": {"k": 2}}),
    )
    .await;
    assert_eq!(code, 200, "{body:?}");
    assert_eq!(*target.connections.lock().unwrap(), 1);
}

/// The audit-forward hooks plugin, subscribed to p_note writes in its manifest, forwards each to the collector
/// in its config; it sees the record as its grant allows; a failing forward fails the write (onError abort).
#[tokio::test]
async fn hooks_plugin_forwards_writes() {
    let sink = collector().await;
    let manifest = json!({"id": "com.example.audit-forward", "version": "1.0.0", "kind": "hooks",
                          "capabilities": ["data:read:p_note", format!("http:outbound:127.0.0.1:{}", sink.port)],
                          "hooks": [{"object": "p_note", "events": ["afterInsert", "afterUpdate", "afterDelete"]}]});
    let grant = format!(
        "[grants.\"com.example.audit-forward\"]\ncapabilities = [\"data:read:p_note\", \"http:outbound:127.0.0.1:{0}\"]\n[grants.\"com.example.audit-forward\".config]\nurl = \"http://127.0.0.1:{0}/audit\"\n",
        sink.port
    );
    let admitted = admit(
        "audit-forward",
        &[PluginSpec {
            file: "audit.wasm",
            component: objectos_guest_artifacts::AUDIT_FORWARD,
            manifest,
            grant: &grant,
        }],
    );
    let s = start_server_with(
        Db::Sqlite,
        "plugin_audit_forward",
        app(),
        Default::default(),
        |cfg| cfg.plugins = admitted,
    )
    .await;
    let admin = s
        .sign_up("admin@example.com", "correct horse battery")
        .await;
    let r = s
        .call(
            "POST",
            "/api/v1/data/p_note",
            json!({"title": "first"}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["record"]["id"].as_str().unwrap().to_string();
    let r = s
        .call(
            "PATCH",
            &format!("/api/v1/data/p_note/{id}"),
            json!({"title": "second"}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = s
        .call(
            "POST",
            "/api/v1/data/p_secret",
            json!({"title": "not subscribed"}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let got = sink.bodies.lock().unwrap().clone();
    let events: Vec<&str> = got.iter().filter_map(|d| d["event"].as_str()).collect();
    assert_eq!(events, ["afterInsert", "afterUpdate"], "{got:?}");
    assert_eq!(got[0]["object"], "p_note");
    assert_eq!(got[0]["record"]["title"], "first");
    assert_eq!(got[1]["previous"]["title"], "first");
    assert_eq!(got[1]["record"]["title"], "second");
    assert!(
        got[0]["userId"].is_string(),
        "the caller is passed on: {got:?}"
    );
}

/// The same plugin subscribed with `"async": true` forwards after the write has committed: the write answers
/// without waiting, the collector gets the document shortly after. A before-event cannot be async.
#[tokio::test]
async fn an_async_hooks_plugin_forwards_after_commit() {
    let sink = collector().await;
    let grant = format!(
        "[grants.\"com.example.audit-forward\"]\ncapabilities = [\"data:read:p_note\", \"http:outbound:127.0.0.1:{0}\"]\n[grants.\"com.example.audit-forward\".config]\nurl = \"http://127.0.0.1:{0}/audit\"\n",
        sink.port
    );
    let manifest = |events: Value| {
        json!({"id": "com.example.audit-forward", "version": "1.0.0", "kind": "hooks",
               "capabilities": ["data:read:p_note", format!("http:outbound:127.0.0.1:{}", sink.port)],
               "hooks": [{"object": "p_note", "events": events, "async": true}]})
    };
    let e = objectos_host::plugins::manifest::Manifest::parse(
        manifest(json!(["beforeInsert"])).to_string().as_bytes(),
    )
    .unwrap_err();
    assert!(
        e.contains("hooks[0].async") && e.contains("beforeInsert"),
        "{e}"
    );
    let admitted = admit(
        "audit-forward-async",
        &[PluginSpec {
            file: "audit.wasm",
            component: objectos_guest_artifacts::AUDIT_FORWARD,
            manifest: manifest(json!(["afterInsert"])),
            grant: &grant,
        }],
    );
    let s = start_server_with(
        Db::Sqlite,
        "plugin_audit_async",
        app(),
        Default::default(),
        |cfg| cfg.plugins = admitted,
    )
    .await;
    let admin = s
        .sign_up("admin@example.com", "correct horse battery")
        .await;
    let r = s
        .call(
            "POST",
            "/api/v1/data/p_note",
            json!({"title": "later"}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let mut got = Vec::new();
    for _ in 0..100 {
        got = sink.bodies.lock().unwrap().clone();
        if !got.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(got.len(), 1, "forwarded after the commit: {got:?}");
    assert_eq!(got[0]["record"]["title"], "later");
}

/// A function body (the escalate action's Wasm function) calls a service plugin through the `services`
/// import, as the action's caller: allowed for the plugin's callers, refused (403) for anyone else.
#[tokio::test]
async fn an_action_calls_a_service_plugin_as_its_caller() {
    let mut app = crate::sandbox::sandbox_app();
    let escalate = app["actions"]
        .as_array_mut()
        .and_then(|a| a.iter_mut().find(|a| a["name"] == "escalate"))
        .expect("the escalate action");
    escalate["params"]
        .as_array_mut()
        .expect("params")
        .push(json!({"name": "notify", "type": "text"}));
    let (manifest, grant) = sample_service(&["log", "data:read:task"], "");
    let admitted = admit(
        "action-service",
        &[PluginSpec {
            file: "sample.wasm",
            component: objectos_guest_artifacts::SAMPLE_SERVICE,
            manifest,
            grant: &grant,
        }],
    );
    let http = objectos_host::http::HttpConfig {
        open_signup: true,
        ..Default::default()
    };
    let s = start_server_with(Db::Sqlite, "plugin_action_service", app, http, |cfg| {
        cfg.plugins = admitted
    })
    .await;
    let admin = s
        .sign_up("admin@example.com", "correct horse battery")
        .await;
    let task = |token: String| {
        let s = &s;
        async move {
            let r = s
                .call(
                    "POST",
                    "/api/v1/data/task",
                    json!({"title": "Ship", "status": "open"}),
                    Some(&token),
                )
                .await;
            assert_eq!(r.status, 201, "{:?}", r.body);
            r.body["record"]["id"].as_str().unwrap().to_string()
        }
    };
    let id = task(admin.clone()).await;
    let r = s
        .call(
            "POST",
            &format!("/api/v1/actions/task/escalate/{id}"),
            json!({"params": {"priority": "high", "notify": "com.example.sample"}}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let notified = &r.body["data"]["notified"];
    assert_eq!(
        notified["payload"],
        json!({"escalated": id, "priority": "high"}),
        "{:?}",
        r.body
    );
    assert!(
        notified["caller"]["userId"].is_string(),
        "the service saw the action's caller: {notified:?}"
    );

    let other = s
        .sign_up("other@example.com", "correct horse battery")
        .await;
    let id = task(other.clone()).await;
    let r = s
        .call(
            "POST",
            &format!("/api/v1/actions/task/escalate/{id}"),
            json!({"params": {"notify": "com.example.sample"}}),
            Some(&other),
        )
        .await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("callers")),
        "{:?}",
        r.body
    );
}

/// A hooks plugin's before-hook replaces the record only with `data:write:<object>`: granted, the stamp is
/// written; granted only `data:read`, the write is refused (403, naming the capability) and nothing is
/// written; its abort stops the write with its message.
#[tokio::test]
async fn a_hooks_plugin_replaces_records_only_with_a_write_grant() {
    for write in [true, false] {
        let capabilities: Vec<&str> = if write {
            vec!["data:read:p_note", "data:write:p_note"]
        } else {
            vec!["data:read:p_note"]
        };
        let manifest = json!({"id": "com.example.stamp", "version": "1.0.0", "kind": "hooks",
                              "capabilities": capabilities,
                              "hooks": [{"object": "p_note", "events": ["beforeInsert"]}]});
        let grant = format!(
            "[grants.\"com.example.stamp\"]\ncapabilities = {}\n[grants.\"com.example.stamp\".config]\nprefix = \"OK: \"\n",
            serde_json::to_string(&capabilities).unwrap()
        );
        let admitted = admit(
            "stamp",
            &[PluginSpec {
                file: "stamp.wasm",
                component: objectos_guest_artifacts::STAMP_HOOKS,
                manifest,
                grant: &grant,
            }],
        );
        let s = start_server_with(
            Db::Sqlite,
            &format!("plugin_stamp_{write}"),
            app(),
            Default::default(),
            |cfg| cfg.plugins = admitted,
        )
        .await;
        let admin = s
            .sign_up("admin@example.com", "correct horse battery")
            .await;
        let r = s
            .call(
                "POST",
                "/api/v1/data/p_note",
                json!({"title": "hello"}),
                Some(&admin),
            )
            .await;
        if write {
            assert_eq!(r.status, 201, "{:?}", r.body);
            assert_eq!(r.body["record"]["title"], "OK: hello");
        } else {
            assert_eq!(r.status, 403, "{:?}", r.body);
            assert!(
                r.body["error"]
                    .as_str()
                    .is_some_and(|m| m.contains("data:write:p_note")),
                "{:?}",
                r.body
            );
            assert_eq!(count(&s, &admin, "p_note").await, 0, "nothing written");
        }
        let r = s
            .call(
                "POST",
                "/api/v1/data/p_note",
                json!({"title": "reject"}),
                Some(&admin),
            )
            .await;
        assert_eq!(r.status, 400, "{:?}", r.body);
        assert_eq!(count(&s, &admin, "p_note").await, usize::from(write));
    }
}
