//! The differential suite (tests/differential/README.md): each app's scenario is played against objectos, on
//! SQLite and on PostgreSQL, and every answer is compared with the real ObjectStack 17.4 server's recorded one.
//! A call that differs fails the test unless the app's `differences.json` names it (with the reason, also in the
//! README's differences table); a named call that matches fails too, so the list stays true.
//!
//! `record` (ignored; run by tests/differential/record.sh) plays a scenario against a running real server and
//! writes `recorded.json`.

mod cel;
mod compare;
mod scenario;

use crate::support::{Db, repo_path, start_server_with};
use scenario::{Player, Scenario};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The apps with a scenario, or the one named by OBJECTOS_DIFF_APP.
fn apps() -> Vec<PathBuf> {
    let only = std::env::var("OBJECTOS_DIFF_APP").ok();
    let root = repo_path("tests/differential");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/differential")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("scenario.json").is_file())
        .filter(|p| {
            only.as_deref()
                .is_none_or(|o| p.file_name().is_some_and(|n| n == o))
        })
        .collect();
    dirs.sort();
    dirs
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn scenario(dir: &Path) -> Scenario {
    let text = std::fs::read_to_string(dir.join("scenario.json")).expect("scenario.json");
    Scenario::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

/// Label -> reason, from differences.json (absent: none).
fn documented(dir: &Path) -> BTreeMap<String, String> {
    let p = dir.join("differences.json");
    if !p.is_file() {
        return BTreeMap::new();
    }
    serde_json::from_value(read_json(&p)).expect("differences.json maps labels to reasons")
}

/// One app's replay on one driver: label -> differences, for the calls that differ.
async fn replay(dir: &Path, db: Db) -> (usize, BTreeMap<String, Vec<String>>) {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("app")
        .to_string();
    let artifact = read_json(&dir.join("objectstack.json"));
    let recorded = read_json(&dir.join("recorded.json"));
    let recorded = recorded["calls"]
        .as_array()
        .expect("recorded.json has calls")
        .clone();
    let scenario = scenario(dir);
    assert_eq!(
        recorded.len(),
        scenario.calls.len(),
        "{name}: recorded.json has {} answers for {} calls; re-record it",
        recorded.len(),
        scenario.calls.len()
    );
    let server = start_server_with(
        db,
        &format!("diff_{name}"),
        artifact,
        Default::default(),
        |cfg| cfg.js_runtime = Some(crate::support::js_runtime()),
    )
    .await;
    let mut player = Player::new(&server.base);
    let mut ids = compare::Ids::default();
    let mut differing = BTreeMap::new();
    for (call, real) in scenario.calls.iter().zip(&recorded) {
        assert_eq!(
            real["label"],
            json!(call.label),
            "{name}: recorded.json is out of order; re-record it"
        );
        let ours = player.play(call).await;
        let mut diffs = Vec::new();
        let status = real["status"].as_u64().unwrap_or(0);
        if status != u64::from(ours.status) {
            diffs.push(format!(
                "status {status} vs ours {}: real {} / ours {}",
                ours.status,
                compare::brief(&real["body"], 160),
                compare::brief(&ours.body, 160)
            ));
        }
        diffs.extend(compare::diff(
            &real["body"],
            &ours.body,
            &call.ignore,
            &mut ids,
        ));
        if !diffs.is_empty() {
            differing.insert(call.label.clone(), diffs);
        }
    }
    (scenario.calls.len(), differing)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_match_the_real_server() {
    let mut failures = Vec::new();
    // OBJECTOS_DIFF_REPORT=FILE: every difference, app -> label -> lines (tests/differential/document.py reads it).
    let mut report = serde_json::Map::new();
    for dir in apps() {
        if !dir.join("recorded.json").is_file() {
            failures.push(format!(
                "{}: no recorded.json (run tests/differential/record.sh)",
                dir.display()
            ));
            continue;
        }
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("app")
            .to_string();
        let known = documented(&dir);
        for db in [Db::Sqlite, Db::Postgres] {
            let (total, differing) = replay(&dir, db).await;
            let documented_now = differing.keys().filter(|l| known.contains_key(*l)).count();
            eprintln!(
                "differential {name} on {db:?}: {} of {total} calls match the real server; {documented_now} documented differences",
                total - differing.len()
            );
            if let Some(m) = report
                .entry(name.clone())
                .or_insert_with(|| json!({}))
                .as_object_mut()
            {
                for (label, diffs) in &differing {
                    m.entry(label.clone()).or_insert_with(|| json!(diffs));
                }
            }
            for (label, diffs) in &differing {
                let tag = if known.contains_key(label) {
                    "documented"
                } else {
                    "UNDOCUMENTED"
                };
                eprintln!("  {label} [{tag}]");
                for d in diffs {
                    eprintln!("      {d}");
                }
                if !known.contains_key(label) {
                    failures.push(format!("{name} on {db:?}: {label}: {}", diffs.join("; ")));
                }
            }
            for label in known.keys() {
                if !differing.contains_key(label) {
                    failures.push(format!(
                        "{name} on {db:?}: {label} matches now; remove it from differences.json"
                    ));
                }
            }
        }
    }
    if let Ok(path) = std::env::var("OBJECTOS_DIFF_REPORT") {
        std::fs::write(&path, serde_json::to_string_pretty(&report).expect("json"))
            .expect("write the report");
    }
    assert!(
        failures.is_empty(),
        "differences from the real server:\n{}",
        failures.join("\n")
    );
}

/// Plays OBJECTOS_DIFF_APP's scenario against the real server at OBJECTOS_DIFF_RECORD and writes recorded.json.
#[tokio::test]
#[ignore = "records the real server; run by tests/differential/record.sh"]
async fn record() {
    let base =
        std::env::var("OBJECTOS_DIFF_RECORD").expect("OBJECTOS_DIFF_RECORD: the real server's URL");
    let app = std::env::var("OBJECTOS_DIFF_APP").expect("OBJECTOS_DIFF_APP: the app to record");
    let dir = repo_path("tests/differential").join(&app);
    let scenario = scenario(&dir);
    let mut player = Player::new(&base);
    let mut calls = Vec::new();
    for call in &scenario.calls {
        let (path, body) = (player.path_of(call), player.body_of(call));
        let answer = player.play(call).await;
        eprintln!(
            "{} {} {} -> {}",
            call.label, call.method, path, answer.status
        );
        let mut request = json!({"method": call.method, "path": path});
        if let Some(raw) = &call.raw {
            request["raw"] = json!(raw);
        } else if let Some(body) = body {
            request["body"] = body;
        }
        calls.push(json!({"label": call.label, "request": request, "status": answer.status, "body": answer.body}));
    }
    let out = json!({
        "server": "ObjectStack 17.4.0 (os serve, in-memory SQLite)",
        "calls": calls,
    });
    let text = serde_json::to_string_pretty(&out).expect("json") + "\n";
    std::fs::write(dir.join("recorded.json"), text).expect("write recorded.json");
    eprintln!("{app}: recorded {} calls", scenario.calls.len());
}
