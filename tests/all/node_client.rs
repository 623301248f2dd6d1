//! The published `@objectstack/client` (Node) signs in and does CRUD + filtered lists against objectos.
//! Runs when `OBJECTOS_NODE22` names a Node 22 binary with the client installed beside it (scripts/test.sh
//! installs both into a cache folder); otherwise it says it is skipped.

use crate::support::{Db, repo_path, start_server};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_client_crud() {
    let Some(node) = std::env::var("OBJECTOS_NODE22")
        .ok()
        .filter(|p| std::path::Path::new(p).exists())
    else {
        eprintln!(
            "skipped: Node 22 with @objectstack/client is not installed (scripts/test.sh installs it and sets OBJECTOS_NODE22)"
        );
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
