//! Artifact sources and forms: bare, envelope, wrapped envelope; file paths, file:// and http:// URLs; pins.

use crate::support::{fixture_json, repo_path, upstream_fixtures};
use objectos_host::artifact::checksum::{metadata_checksum, sha256_hex};
use objectos_host::artifact::{Artifact, ArtifactError, ArtifactForm, ArtifactSource, FetchPolicy};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const EXPENSE: &str = "tests/fixtures/expense/objectstack.json";
const EXPENSE_SHA256: &str = "e275b30788d32490bd6649a182ca31d406ab54f5d5064b3123085e2bff15059b";

fn envelope(metadata: &Value) -> Value {
    json!({"schemaVersion": "0.1", "environmentId": "env_1", "commitId": "c1", "checksum": metadata_checksum(metadata).unwrap(),
           "builtAt": "2026-11-22T00:00:00Z", "builtWith": "objectos-test", "metadata": metadata})
}

#[tokio::test]
async fn bare_definition_from_a_path() {
    let path = repo_path(EXPENSE);
    let a = Artifact::load(&ArtifactSource::parse(path.to_str().unwrap()).unwrap())
        .await
        .unwrap();
    assert_eq!(a.form, ArtifactForm::Bare);
    assert_eq!(
        a.file_sha256, EXPENSE_SHA256,
        "the README of the fixture names this digest"
    );
    assert_eq!(a.definition.objects.len(), 3);
    assert_eq!(a.definition.hooks.len(), 3);
    assert_eq!(a.definition.data[0].records.len(), 4);
    assert_eq!(
        a.definition.manifest.as_ref().unwrap().id.as_deref(),
        Some("com.fixture.expense-approval")
    );
}

#[tokio::test]
async fn envelope_and_wrapped_envelope() {
    let def = fixture_json(EXPENSE);
    let env = envelope(&def);
    let a = Artifact::from_value(env.clone()).unwrap();
    assert!(
        matches!(&a.form, ArtifactForm::Envelope { commit_id, environment_id: Some(e), .. } if commit_id == "c1" && e == "env_1")
    );
    assert_eq!(a.canonical_sha256, env["checksum"].as_str().unwrap());
    let wrapped = Artifact::from_value(json!({"success": true, "data": env.clone()})).unwrap();
    assert_eq!(wrapped.definition.objects.len(), 3);
    // The legacy `projectId` spelling is accepted.
    let mut legacy = env.clone();
    let m = legacy.as_object_mut().unwrap();
    m.remove("environmentId");
    m.insert("projectId".into(), json!("proj_1"));
    assert!(
        matches!(Artifact::from_value(legacy).unwrap().form, ArtifactForm::Envelope { environment_id: Some(p), .. } if p == "proj_1")
    );
}

#[tokio::test]
async fn envelope_checksum_is_verified() {
    let def = fixture_json(EXPENSE);
    let mut env = envelope(&def);
    env["metadata"]["objects"][0]["label"] = json!("Tampered");
    let e = Artifact::from_value(env).unwrap_err();
    assert_eq!(e.code(), "ARTIFACT_CHECKSUM_MISMATCH");
    assert!(matches!(e, ArtifactError::ChecksumMismatch { .. }));
    // Key order and whitespace do not matter to the canonical form.
    let reordered: Value =
        serde_json::from_str(&serde_json::to_string_pretty(&def).unwrap()).unwrap();
    let mut env = envelope(&def);
    env["metadata"] = reordered;
    assert!(Artifact::from_value(env).is_ok());
    assert_eq!(
        metadata_checksum(&json!({"b": 1, "a": [1.0, "x", {"d": null, "c": true}]})).unwrap(),
        sha256_hex(br#"{"a":[1,"x",{"c":true,"d":null}],"b":1}"#),
        "RFC 8785: sorted keys, no whitespace, 1.0 written as 1"
    );
}

#[tokio::test]
async fn bad_envelopes_are_refused_with_paths() {
    let def = fixture_json(EXPENSE);
    let mut env = envelope(&def);
    env["schemaVersion"] = json!("0.2");
    env["checksum"] = json!("XYZ");
    env["functions"] = json!([]);
    let e = Artifact::from_value(env).unwrap_err();
    let paths: Vec<&str> = e.problems().iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["schemaVersion", "functions", "checksum"], "{e}");
    let e = Artifact::from_value(json!({"success": false, "data": {"x": 1}})).unwrap_err();
    assert!(e.to_string().contains("success: false"), "{e}");
    let e = Artifact::from_bytes(b"{\"objects\": [").unwrap_err();
    assert!(e.problems()[0].path.starts_with("$ (line 1"), "{e}");
    let e = Artifact::from_value(json!([1, 2])).unwrap_err();
    assert!(e.to_string().contains("must be a JSON object"), "{e}");
}

#[tokio::test]
async fn sha256_pin_over_raw_bytes() {
    let path = repo_path(EXPENSE).to_str().unwrap().to_string();
    let ok = ArtifactSource::parse(&format!("{path}#sha256={EXPENSE_SHA256}")).unwrap();
    assert!(Artifact::load(&ok).await.is_ok());
    let upper =
        ArtifactSource::parse(&format!("{path}#sha256={}", EXPENSE_SHA256.to_uppercase())).unwrap();
    assert!(Artifact::load(&upper).await.is_ok());
    let wrong = ArtifactSource::parse(&format!("{path}#sha256={}", "0".repeat(64))).unwrap();
    let e = Artifact::load(&wrong).await.unwrap_err();
    assert_eq!(e.code(), "ARTIFACT_INTEGRITY_MISMATCH");
    assert!(e.to_string().contains(EXPENSE_SHA256), "{e}");
    for bad in ["x.json#sha256=abc", "x.json#md5=00", "ftp://host/x.json"] {
        assert!(ArtifactSource::parse(bad).is_err(), "{bad}");
    }
    let missing = ArtifactSource::parse("/nonexistent/app.json").unwrap();
    assert!(
        Artifact::load(&missing)
            .await
            .unwrap_err()
            .to_string()
            .contains("cannot read artifact /nonexistent/app.json")
    );
}

#[tokio::test]
async fn file_url() {
    let path = repo_path(EXPENSE);
    let src = ArtifactSource::parse(&format!(
        "file://{}#sha256={EXPENSE_SHA256}",
        path.display()
    ))
    .unwrap();
    assert_eq!(
        Artifact::load(&src).await.unwrap().definition.objects.len(),
        3
    );
}

/// A real HTTP server on 127.0.0.1 that answers every request with `status` and `body`.
async fn serve_once(status: &'static str, body: Vec<u8>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for _ in 0..2 {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let mut buf = vec![0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let head = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.write_all(&body).await;
        }
    });
    format!("http://{addr}/app.json")
}

#[tokio::test]
async fn http_url_with_pin() {
    let bytes = std::fs::read(repo_path(EXPENSE)).unwrap();
    let url = serve_once("200 OK", bytes).await;
    let a =
        Artifact::load(&ArtifactSource::parse(&format!("{url}#sha256={EXPENSE_SHA256}")).unwrap())
            .await
            .unwrap();
    assert_eq!(a.file_sha256, EXPENSE_SHA256);
    let e = Artifact::load(
        &ArtifactSource::parse(&format!("{url}#sha256={}", "1".repeat(64))).unwrap(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "ARTIFACT_INTEGRITY_MISMATCH");
    let missing = serve_once("404 Not Found", b"{}".to_vec()).await;
    let e = Artifact::load(&ArtifactSource::parse(&missing).unwrap())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("HTTP 404"), "{e}");
}

#[tokio::test]
async fn upstream_canonical_checksum_matches_the_real_toolchain() {
    let Some(dir) = upstream_fixtures() else {
        return;
    };
    // WIRE.md §3.4 lists the canonical (sorted-key) digest of my-app as 6dfdf0a1…2a72.
    let a =
        Artifact::load(&ArtifactSource::parse(dir.join("my-app.json").to_str().unwrap()).unwrap())
            .await
            .unwrap();
    assert!(
        a.canonical_sha256.starts_with("6dfdf0a1") && a.canonical_sha256.ends_with("2a72"),
        "{}",
        a.canonical_sha256
    );
    assert!(
        a.file_sha256.starts_with("ac727038") && a.file_sha256.ends_with("dc3d"),
        "{}",
        a.file_sha256
    );
}

#[test]
fn typed_model_of_what_the_runtime_executes() {
    use objectos_host::artifact::model::ValidationRule;
    let a = Artifact::from_value(fixture_json(EXPENSE)).unwrap();
    let d = &a.definition;
    let report = &d.objects[0];
    assert_eq!(report.fields["amount"].type_name, "currency");
    assert_eq!(
        report.fields["status"]
            .options
            .iter()
            .map(|o| o.value.as_str())
            .collect::<Vec<_>>(),
        ["submitted", "pending_director", "approved", "rejected"]
    );
    let sm = report.validations.iter().find_map(|r| match r {
        ValidationRule::StateMachine {
            field,
            transitions,
            initial_states,
            ..
        } => Some((field, transitions, initial_states)),
        _ => None,
    });
    let (field, transitions, initial) = sm.expect("a state machine rule");
    assert_eq!(field, "status");
    assert_eq!(
        transitions["submitted"],
        ["approved", "pending_director", "rejected"]
    );
    assert_eq!(initial.as_deref(), Some(&["submitted".to_string()][..]));
    let script = report
        .validations
        .iter()
        .find(|r| matches!(r, ValidationRule::Script { .. }))
        .expect("a script rule");
    assert_eq!(script.common().events, ["update"]);
    let employee = d
        .permissions
        .iter()
        .find(|p| p.name == "exp_employee_access")
        .unwrap();
    assert!(
        employee.objects["exp_report"].allow_create && !employee.objects["exp_report"].allow_edit
    );
    assert!(
        employee.fields["exp_report.approved_at"].readable
            && !employee.fields["exp_report.approved_at"].editable
    );
    let hook = &d.hooks[0];
    assert_eq!(hook.body.as_ref().unwrap().language, "js");
    let action = &d.actions[0];
    assert_eq!(
        action.visible.as_ref().map(|e| e.dialect.as_str()),
        Some("cel")
    );
}

#[tokio::test]
async fn typed_functions_and_flows_of_upstream_apps() {
    let Some(dir) = upstream_fixtures() else {
        return;
    };
    let a = Artifact::load(
        &ArtifactSource::parse(dir.join("app-showcase.json").to_str().unwrap()).unwrap(),
    )
    .await
    .unwrap();
    let functions = a.definition.function_list();
    assert_eq!(
        functions
            .iter()
            .map(|f| (f.name.as_str(), f.effect.as_deref()))
            .collect::<Vec<_>>(),
        [
            ("summarizeCompletedTask", None),
            ("sweepProjectHealth", Some("writes"))
        ]
    );
    let flow = &a.definition.flows[0];
    assert_eq!(flow.nodes[0].kind, "start");
    assert_eq!(flow.nodes[0].config["triggerType"], "record-after-update");
    assert!(
        a.definition
            .permissions
            .iter()
            .any(|p| !p.row_level_security.is_empty())
    );
}

#[test]
fn plain_http_needs_a_pin_loopback_or_the_operators_leave() {
    let e = ArtifactSource::parse("http://artifacts.example/app.json").unwrap_err();
    assert_eq!(e.code(), "ARTIFACT_UNREADABLE");
    assert!(
        e.to_string().contains("--allow-insecure-artifact-url"),
        "{e}"
    );
    let pinned = format!(
        "http://artifacts.example/app.json#sha256={}",
        "a".repeat(64)
    );
    assert!(ArtifactSource::parse(&pinned).is_ok());
    assert!(ArtifactSource::parse("https://artifacts.example/app.json").is_ok());
    assert!(ArtifactSource::parse("http://127.0.0.1:8080/app.json").is_ok());
    assert!(ArtifactSource::parse("http://localhost:8080/app.json").is_ok());
    assert!(ArtifactSource::parse("http://[::1]:8080/app.json").is_ok());
    let allowed = FetchPolicy {
        allow_insecure_http: true,
        ..FetchPolicy::default()
    };
    assert!(ArtifactSource::parse_with("http://artifacts.example/app.json", allowed).is_ok());
}

/// A server on 127.0.0.1 answering each path with its canned response (`None`: accept, read, never answer),
/// counting connections.
async fn serve_routes(
    routes: Vec<(&'static str, Option<String>)>,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let routes = routes.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                match routes.iter().find(|(p, _)| *p == path) {
                    Some((_, Some(answer))) => {
                        let _ = sock.write_all(answer.as_bytes()).await;
                    }
                    Some((_, None)) => {
                        tokio::time::sleep(std::time::Duration::from_secs(120)).await;
                    }
                    None => {
                        let _ = sock
                            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                            .await;
                    }
                }
            });
        }
    });
    (format!("http://{addr}"), connections)
}

fn ok_json(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn redirect(to: &str) -> String {
    format!(
        "HTTP/1.1 302 Found\r\nlocation: {to}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    )
}

async fn fetch_err(url: &str, policy: FetchPolicy) -> String {
    Artifact::load(&ArtifactSource::parse_with(url, policy).unwrap())
        .await
        .unwrap_err()
        .to_string()
}

#[tokio::test]
async fn artifact_fetch_limits() {
    let expense = String::from_utf8(std::fs::read(repo_path(EXPENSE)).unwrap()).unwrap();
    // A body past the cap, announced or not (close-delimited, counted as it streams in).
    let big = "x".repeat(300_000);
    let unannounced = format!("HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n{big}");
    let (base, _) = serve_routes(vec![
        ("/announced.json", Some(ok_json(&big))),
        ("/unannounced.json", Some(unannounced)),
        ("/silent.json", None),
        ("/app.json", Some(ok_json(&expense))),
        ("/moved.json", Some(redirect("/app.json"))),
    ])
    .await;
    let small = FetchPolicy {
        max_bytes: 100_000,
        ..FetchPolicy::default()
    };
    for path in ["/announced.json", "/unannounced.json"] {
        let e = fetch_err(&format!("{base}{path}"), small.clone()).await;
        assert!(e.contains("100000-byte limit"), "{path}: {e}");
    }
    // A server that never answers: the total timeout ends the fetch.
    let quick = FetchPolicy {
        timeout: std::time::Duration::from_secs(1),
        ..FetchPolicy::default()
    };
    let e = fetch_err(&format!("{base}/silent.json"), quick).await;
    assert!(e.contains("timed out"), "{e}");
    // A same-origin redirect is followed.
    let a = Artifact::load(&ArtifactSource::parse(&format!("{base}/moved.json")).unwrap())
        .await
        .unwrap();
    assert_eq!(a.file_sha256, EXPENSE_SHA256);
    // One to another origin (another port) is not, and the other server sees no connection.
    let (elsewhere, reached) = serve_routes(vec![("/app.json", Some(ok_json(&expense)))]).await;
    let (hop, _) = serve_routes(vec![(
        "/app.json",
        Some(redirect(&format!("{elsewhere}/app.json"))),
    )])
    .await;
    let e = fetch_err(&format!("{hop}/app.json"), FetchPolicy::default()).await;
    assert!(e.contains("another origin"), "{e}");
    assert_eq!(reached.load(std::sync::atomic::Ordering::SeqCst), 0);
}
