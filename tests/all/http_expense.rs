//! Replays calls 1–53 of the expense fixture's transcript (recorded from the real ObjectStack 17.4 server) against
//! objectos and compares status codes and JSON shapes. Ids in recorded paths and bodies are mapped to the ids
//! objectos handed out for the same records.
//!
//! The JS hooks and the action run in the JS runtime component; the validation rules (state machine, script)
//! run in the kernel. Calls that differ on purpose are listed in `NEEDS_LATER_ISSUES`; the test fails if any other call differs,
//! and also if one of those starts to match (so the list stays true).

use crate::support::{Db, Server, start_server_with};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

/// Call number → why it cannot match yet (or, for the last ones, why it never will).
const NEEDS_LATER_ISSUES: &[(usize, &str)] = &[
    (
        31,
        "visible is enforced on the server here (403 ACTION_NOT_AVAILABLE); the real server runs the body, which throws (400)",
    ),
    // Deliberate differences (README "Differences from ObjectStack 17.4"):
    (
        35,
        "seed rows belong to the first administrator's organization here; the real server leaves organization_id null",
    ),
    (
        37,
        "seed rows belong to the first administrator's organization here; the real server leaves organization_id null",
    ),
    (
        45,
        "selecting a formula field keeps the projection here; the real server turns projection off",
    ),
];

struct Call {
    n: usize,
    label: String,
    method: String,
    path: String,
    body: Value,
    authorized: bool,
}

fn transcript_dir() -> PathBuf {
    crate::support::repo_path("tests/fixtures/expense/transcript")
}

fn calls() -> Vec<Call> {
    let dir = transcript_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("transcript")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "request"))
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let stem = p.file_stem()?.to_str()?.to_string();
            let (n, label) = stem.split_once('-')?;
            let n: usize = n.parse().ok()?;
            let text = std::fs::read_to_string(&p).ok()?;
            let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
            let mut lines = head.lines();
            let (method, path) = lines.next()?.split_once(' ')?;
            let authorized = lines.any(|l| l.to_ascii_lowercase().starts_with("authorization:"));
            let body = if body.trim().is_empty() {
                Value::Null
            } else {
                serde_json::from_str(body.trim()).unwrap_or(Value::String(body.to_string()))
            };
            Some(Call {
                n,
                label: label.to_string(),
                method: method.into(),
                path: path.into(),
                body,
                authorized,
            })
        })
        .filter(|c| c.n <= 53)
        .collect()
}

/// Pairs ids at the same places of the real and our answers.
fn learn_ids(real: &Value, ours: &Value, map: &mut HashMap<String, String>) {
    match (real, ours) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                if let Some(w) = b.get(k) {
                    if k == "id"
                        && let (Some(x), Some(y)) = (v.as_str(), w.as_str())
                    {
                        map.insert(x.to_string(), y.to_string());
                    }
                    learn_ids(v, w, map);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (x, y) in a.iter().zip(b) {
                learn_ids(x, y, map);
            }
        }
        _ => {}
    }
}

fn substitute(text: &str, map: &HashMap<String, String>) -> String {
    let mut out = text.to_string();
    for (real, ours) in map {
        out = out.replace(real.as_str(), ours);
    }
    out
}

async fn replay(server: &Server) -> BTreeMap<usize, String> {
    let dir = transcript_dir();
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut token: Option<String> = None;
    let mut mismatches = BTreeMap::new();
    for call in calls() {
        let path = substitute(&call.path, &ids);
        let body: Value =
            serde_json::from_str(&substitute(&call.body.to_string(), &ids)).unwrap_or(Value::Null);
        let ours = server
            .call(
                &call.method,
                &path,
                body,
                if call.authorized {
                    token.as_deref()
                } else {
                    None
                },
            )
            .await;
        if call.label == "sign-up" {
            token = ours
                .headers
                .get("set-auth-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
        }
        let base = dir.join(format!("{:02}-{}", call.n, call.label));
        let status: u16 = std::fs::read_to_string(base.with_extension("status"))
            .expect("status")
            .trim()
            .parse()
            .expect("code");
        let real: Value = std::fs::read_to_string(base.with_extension("json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        learn_ids(&real, &ours.body, &mut ids);
        let mut diffs = Vec::new();
        if status != ours.status {
            diffs.push(format!("status {status} vs {}", ours.status));
        }
        crate::http_conformance::shape_diff("$", &real, &ours.body, &mut diffs);
        if !diffs.is_empty() {
            mismatches.insert(
                call.n,
                format!("{:02} {}: {}", call.n, call.label, diffs.join("; ")),
            );
        }
    }
    mismatches
}

#[tokio::test]
async fn expense_transcript_calls_1_to_53() {
    let artifact: Value = serde_json::from_str(
        &std::fs::read_to_string(crate::support::repo_path(
            "tests/fixtures/expense/objectstack.json",
        ))
        .expect("artifact"),
    )
    .expect("json");
    for db in [Db::Sqlite, Db::Postgres] {
        let server = start_server_with(
            db,
            "conformance_expense",
            artifact.clone(),
            Default::default(),
            |cfg| cfg.js_runtime = Some(crate::support::js_runtime()),
        )
        .await;
        let mismatches = replay(&server).await;
        let total = calls().len();
        eprintln!(
            "expense transcript on {db:?}: {} of {total} calls match",
            total - mismatches.len()
        );
        for line in mismatches.values() {
            eprintln!("  {line}");
        }
        let expected: Vec<usize> = NEEDS_LATER_ISSUES.iter().map(|(n, _)| *n).collect();
        let unexpected: Vec<&String> = mismatches
            .iter()
            .filter(|(n, _)| !expected.contains(n))
            .map(|(_, l)| l)
            .collect();
        assert!(
            unexpected.is_empty(),
            "calls that differ without a known reason:\n{unexpected:#?}"
        );
        let now_matching: Vec<usize> = expected
            .iter()
            .copied()
            .filter(|n| !mismatches.contains_key(n))
            .collect();
        assert!(
            now_matching.is_empty(),
            "calls {now_matching:?} now match: remove them from NEEDS_LATER_ISSUES"
        );
    }
}
