//! The published `@objectstack/client` (Node) against objectos: CRUD + filtered lists on a one-object app
//! (tests/client/crud.mjs), and the differential suite's apps driven step by step (tests/client/apps.mjs),
//! every step's outcome compared with the real ObjectStack 17.4 server's (tests/client/<app>.expected.jsonl,
//! recorded by tests/client/record.sh).
//! Runs when `OBJECTOS_NODE22` names a Node 22 binary with the client installed beside it (scripts/test.sh
//! installs both into a cache folder); otherwise it says it is skipped.

use crate::support::{Db, js_runtime, repo_path, start_server, start_server_with};
use serde_json::{Value, json};

/// The Node 22 binary named by OBJECTOS_NODE22, or None (and a note that the test is skipped).
fn node22() -> Option<String> {
    let node = std::env::var("OBJECTOS_NODE22")
        .ok()
        .filter(|p| std::path::Path::new(p).exists());
    if node.is_none() {
        eprintln!(
            "skipped: Node 22 with @objectstack/client is not installed (scripts/test.sh installs it and sets OBJECTOS_NODE22)"
        );
    }
    node
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_client_crud() {
    let Some(node) = node22() else {
        return;
    };
    // Our own one-object app, shaped like the scaffold the client's users start from.
    let artifact = json!({
        "manifest": {"id": "node-client-test", "namespace": "my_app", "version": "0.1.0", "type": "app", "name": "Node client test"},
        "objects": [{"name": "my_app_note", "label": "Note", "sharingModel": "private", "fields": {
            "title": {"type": "text", "label": "Title", "required": true, "searchable": true, "maxLength": 200},
            "body": {"type": "textarea", "label": "Body"}}}]
    });
    let server = start_server(Db::Sqlite, "", artifact, Default::default()).await;
    let script = repo_path("tests/client/crud.mjs");
    let base = server.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(node)
            .arg(script)
            .env("OBJECTOS_URL", base)
            .output()
    })
    .await
    .expect("join")
    .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "node client failed:\n{stdout}\n{stderr}"
    );
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(
        summary.starts_with("node client: ") && summary.ends_with(" passed, 0 failed"),
        "{stdout}"
    );
    eprintln!("{summary}");
}

/// Steps of tests/client/apps.mjs whose outcome on objectos still differs from the real server's:
/// (app, step, why). The test fails when one of them starts matching, so the list stays true.
const KNOWN_DIFFERENCES: &[(&str, &str, &str)] = &[
    (
        "hr_leave",
        "erin: actions.invoke hr_submit again (refused by the body)",
        "actions: `visible` is enforced on the server (deliberate; the real server never evaluates it), and it is false here, so the action is refused",
    ),
    (
        "hr_leave",
        "mark: actions.invoke hr_approve again (refused by the body)",
        "actions: `visible` is enforced on the server (deliberate; the real server never evaluates it), and it is false here, so the action is refused",
    ),
    (
        "hr_leave",
        "erin: actions.invoke hr_hidden (visible: false)",
        "actions: `visible` is enforced on the server (deliberate; the real server never evaluates it), and it is false here, so the action is refused",
    ),
    (
        "hr_leave",
        "erin: actions.invoke hr_probe",
        "actions: `visible` is enforced on the server (deliberate; the real server never evaluates it), and it is false here, so the action is refused",
    ),
];

/// One JSON line per step, as apps.mjs prints them (other lines are ignored).
fn step_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a step line ({e}): {l}")))
        .collect()
}

/// The differential apps (tests/differential/hr_leave, helpdesk) driven through the published client: every
/// step's normalized outcome must equal the real server's recorded one, except the known differences.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_client_drives_the_differential_apps() {
    let Some(node) = node22() else {
        return;
    };
    let mut failures = Vec::new();
    for app in ["hr_leave", "helpdesk"] {
        let expected_path = repo_path(&format!("tests/client/{app}.expected.jsonl"));
        let expected = step_lines(
            &std::fs::read_to_string(&expected_path)
                .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display())),
        );
        let artifact_path = repo_path(&format!("tests/differential/{app}/objectstack.json"));
        let artifact: Value = serde_json::from_str(
            &std::fs::read_to_string(&artifact_path)
                .unwrap_or_else(|e| panic!("{}: {e}", artifact_path.display())),
        )
        .expect("the app's artifact is JSON");
        let server = start_server_with(
            Db::Sqlite,
            &format!("client_{app}"),
            artifact,
            Default::default(),
            |cfg| cfg.js_runtime = Some(js_runtime()),
        )
        .await;
        let (node, script, base) = (
            node.clone(),
            repo_path("tests/client/apps.mjs"),
            server.base.clone(),
        );
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(node)
                .arg(script)
                .env("OBJECTOS_URL", base)
                .env("APP", app)
                .output()
        })
        .await
        .expect("join")
        .expect("run node");
        drop(server);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            failures.push(format!(
                "{app}: apps.mjs stopped ({}):\n{stderr}",
                out.status
            ));
        }
        let ours = step_lines(&stdout);
        let mut matching = 0;
        for (i, real) in expected.iter().enumerate() {
            let name = real["step"].as_str().unwrap_or_default();
            let known = KNOWN_DIFFERENCES
                .iter()
                .find(|(a, s, _)| *a == app && *s == name);
            let mine = ours.get(i);
            if mine == Some(real) {
                matching += 1;
                if known.is_some() {
                    failures.push(format!(
                        "{app}: step '{name}' matches the real server now; remove it from KNOWN_DIFFERENCES"
                    ));
                }
                continue;
            }
            let mine = mine.map_or(
                "(no line: the script stopped)".to_string(),
                Value::to_string,
            );
            match known {
                Some((_, _, why)) => eprintln!("  {app}: '{name}' [known: {why}]"),
                None => failures.push(format!(
                    "{app}: step '{name}'\n  real:  {real}\n  ours:  {mine}"
                )),
            }
        }
        for (_, step, _) in KNOWN_DIFFERENCES.iter().filter(|(a, _, _)| *a == app) {
            if !expected.iter().any(|real| real["step"] == *step) {
                failures.push(format!(
                    "{app}: KNOWN_DIFFERENCES names '{step}', which is not a recorded step"
                ));
            }
        }
        if ours.len() > expected.len() {
            failures.push(format!(
                "{app}: {} steps, the recording has {}; re-record it (tests/client/record.sh)",
                ours.len(),
                expected.len()
            ));
        }
        eprintln!(
            "node client {app}: {matching} of {} steps match the real server",
            expected.len()
        );
    }
    assert!(
        failures.is_empty(),
        "the official client's steps differ from the real server's:\n{}",
        failures.join("\n")
    );
}
