//! Replays the real ObjectStack 17.4 server's my-app transcript (../shared/fixtures/upstream/transcript-my-app,
//! 58 calls) against an in-process objectos and compares status codes and JSON shapes (ids, tokens and
//! timestamps differ by nature; keys and value kinds must not).

use crate::support::{Db, Server, start_server, upstream_fixtures};
use serde_json::{Value, json};
use std::path::Path;

/// Keys below which the two servers legitimately say different things (their own service lists, metadata
/// provenance, OpenAPI paths); the key itself must still be there.
const OPAQUE: &[&str] = &[
    "services",
    "capabilities",
    "routes",
    "locale",
    "scoping",
    "entries",
    "items",
    "item",
    "paths",
    "components",
    "info",
    "servers",
    "types",
];

/// Differences in shape between `real` and `ours`, as JSON paths.
pub fn shape_diff(path: &str, real: &Value, ours: &Value, out: &mut Vec<String>) {
    match (real, ours) {
        (Value::Object(a), Value::Object(b)) => {
            for k in a.keys() {
                if !b.contains_key(k) {
                    out.push(format!("{path}.{k}: missing"));
                }
            }
            for k in b.keys() {
                if !a.contains_key(k) {
                    out.push(format!("{path}.{k}: extra"));
                }
            }
            for (k, v) in a {
                if let Some(w) = b.get(k)
                    && !OPAQUE.contains(&k.as_str())
                {
                    shape_diff(&format!("{path}.{k}"), v, w, out);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if let (Some(x), Some(y)) = (a.first(), b.first()) {
                shape_diff(&format!("{path}[0]"), x, y, out);
            } else if a.is_empty() != b.is_empty() {
                out.push(format!("{path}: {} vs {} elements", a.len(), b.len()));
            }
        }
        (a, b) => {
            let kind = |v: &Value| match v {
                Value::Null => "null",
                Value::Bool(_) => "bool",
                Value::Number(_) => "number",
                Value::String(_) => "string",
                Value::Array(_) => "array",
                Value::Object(_) => "object",
            };
            if kind(a) != kind(b) {
                out.push(format!("{path}: {} vs {}", kind(a), kind(b)));
            }
        }
    }
}

fn read(dir: &Path, n: usize, label: &str) -> (u16, Value) {
    let base = dir.join(format!("{n:02}-{label}"));
    let status = std::fs::read_to_string(base.with_extension("status"))
        .expect("status")
        .trim()
        .parse()
        .expect("number");
    let body = std::fs::read_to_string(base.with_extension("json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    (status, body)
}

/// The calls of replay-my-app.sh, in order. `$ID` is the first created note.
fn calls() -> Vec<(&'static str, &'static str, &'static str, Value)> {
    let long = "x".repeat(201);
    vec![
        ("well-known", "GET", "/.well-known/objectstack", Value::Null),
        ("api-root", "GET", "/api/v1", Value::Null),
        ("discovery", "GET", "/api/v1/discovery", Value::Null),
        (
            "anon-list-401",
            "GET",
            "/api/v1/data/my_app_note",
            Value::Null,
        ),
        ("anon-meta-401", "GET", "/api/v1/meta", Value::Null),
        (
            "sign-up",
            "POST",
            "/api/v1/auth/sign-up/email",
            json!({"email": "admin@example.com", "password": "Passw0rd!Passw0rd", "name": "Admin"}),
        ),
        (
            "sign-in-wrong-pw",
            "POST",
            "/api/v1/auth/sign-in/email",
            json!({"email": "admin@example.com", "password": "wrong-password"}),
        ),
        (
            "sign-up-second-user",
            "POST",
            "/api/v1/auth/sign-up/email",
            json!({"email": "second@example.com", "password": "Passw0rd!Passw0rd", "name": "Second"}),
        ),
        (
            "get-session",
            "GET",
            "/api/v1/auth/get-session",
            Value::Null,
        ),
        (
            "bad-token-401",
            "GET",
            "/api/v1/data/my_app_note",
            Value::Null,
        ),
        ("meta-root", "GET", "/api/v1/meta", Value::Null),
        ("meta-types", "GET", "/api/v1/meta/types", Value::Null),
        (
            "meta-object-list",
            "GET",
            "/api/v1/meta/object",
            Value::Null,
        ),
        (
            "meta-object-get",
            "GET",
            "/api/v1/meta/object/my_app_note",
            Value::Null,
        ),
        (
            "meta-object-404",
            "GET",
            "/api/v1/meta/object/no_such_object",
            Value::Null,
        ),
        (
            "create-201",
            "POST",
            "/api/v1/data/my_app_note",
            json!({"title": "First note", "body": "hello"}),
        ),
        (
            "create-missing-required-400",
            "POST",
            "/api/v1/data/my_app_note",
            json!({"body": "no title"}),
        ),
        (
            "create-unknown-field-400",
            "POST",
            "/api/v1/data/my_app_note",
            json!({"title": "x", "nosuchfield": 1}),
        ),
        (
            "create-array-body-400",
            "POST",
            "/api/v1/data/my_app_note",
            json!([1, 2]),
        ),
        (
            "create-too-long-title",
            "POST",
            "/api/v1/data/my_app_note",
            json!({"title": long}),
        ),
        (
            "create-number-into-text",
            "POST",
            "/api/v1/data/my_app_note",
            json!({"title": 123}),
        ),
        (
            "create-unknown-object-404",
            "POST",
            "/api/v1/data/no_such_object",
            json!({"title": "x"}),
        ),
        (
            "list-unknown-object-404",
            "GET",
            "/api/v1/data/no_such_object",
            Value::Null,
        ),
        (
            "get-200",
            "GET",
            "/api/v1/data/my_app_note/$ID",
            Value::Null,
        ),
        (
            "get-select-200",
            "GET",
            "/api/v1/data/my_app_note/$ID?select=title",
            Value::Null,
        ),
        (
            "get-fields-param-400",
            "GET",
            "/api/v1/data/my_app_note/$ID?fields=title",
            Value::Null,
        ),
        (
            "get-404",
            "GET",
            "/api/v1/data/my_app_note/nonexistent",
            Value::Null,
        ),
        (
            "update-200",
            "PATCH",
            "/api/v1/data/my_app_note/$ID",
            json!({"body": "updated body"}),
        ),
        (
            "update-clear-required-400",
            "PATCH",
            "/api/v1/data/my_app_note/$ID",
            json!({"title": null}),
        ),
        (
            "update-404",
            "PATCH",
            "/api/v1/data/my_app_note/nonexistent",
            json!({"body": "x"}),
        ),
        ("list-all", "GET", "/api/v1/data/my_app_note", Value::Null),
        (
            "list-limit-offset-sort-select",
            "GET",
            "/api/v1/data/my_app_note?limit=3&offset=2&sort=-title&select=title,body",
            Value::Null,
        ),
        (
            "list-top-skip-orderBy-fields",
            "GET",
            "/api/v1/data/my_app_note?top=2&skip=1&orderBy=title&fields=title",
            Value::Null,
        ),
        (
            "list-odata-dollar",
            "GET",
            "/api/v1/data/my_app_note?$top=2&$skip=0&$orderby=title%20desc&$select=title",
            Value::Null,
        ),
        (
            "list-filter-json",
            "GET",
            "/api/v1/data/my_app_note?filter=%7B%22body%22%3A%22b1%22%7D&sort=title&limit=3&select=title,body",
            Value::Null,
        ),
        (
            "list-where-in",
            "GET",
            "/api/v1/data/my_app_note?where=%7B%22title%22%3A%7B%22%24in%22%3A%5B%22Note%2001%22%2C%22Note%2002%22%5D%7D%7D&sort=title&select=title",
            Value::Null,
        ),
        (
            "list-filter-array",
            "GET",
            "/api/v1/data/my_app_note?filter=%5B%22title%22%2C%22contains%22%2C%220%22%5D&sort=title&select=title&limit=2",
            Value::Null,
        ),
        (
            "list-filter-array-nested",
            "GET",
            "/api/v1/data/my_app_note?filter=%5B%5B%22title%22%2C%22%3D%22%2C%22Note%2003%22%5D%5D&select=title",
            Value::Null,
        ),
        (
            "list-implicit-field-filter",
            "GET",
            "/api/v1/data/my_app_note?body=b2&sort=title&limit=2&select=title,body",
            Value::Null,
        ),
        (
            "list-count-false",
            "GET",
            "/api/v1/data/my_app_note?limit=2&count=false&sort=title&select=title",
            Value::Null,
        ),
        (
            "list-search",
            "GET",
            "/api/v1/data/my_app_note?search=Note%2007&select=title",
            Value::Null,
        ),
        (
            "query-post",
            "POST",
            "/api/v1/data/my_app_note/query",
            json!({"where": {"body": "b0"}, "orderBy": [{"field": "title", "order": "asc"}], "limit": 2, "offset": 1, "fields": ["title", "body"]}),
        ),
        (
            "query-post-groupby",
            "POST",
            "/api/v1/data/my_app_note/query",
            json!({"groupBy": ["body"], "aggregations": [{"function": "count", "alias": "n"}]}),
        ),
        (
            "list-bad-sort-400",
            "GET",
            "/api/v1/data/my_app_note?sort=nosuch",
            Value::Null,
        ),
        (
            "list-pagesize-400",
            "GET",
            "/api/v1/data/my_app_note?pageSize=5",
            Value::Null,
        ),
        (
            "list-bad-filter-400",
            "GET",
            "/api/v1/data/my_app_note?filter=notjson",
            Value::Null,
        ),
        (
            "list-bad-filter-field-400",
            "GET",
            "/api/v1/data/my_app_note?filter=%7B%22nosuch%22%3A1%7D",
            Value::Null,
        ),
        (
            "list-unknown-dollar-400",
            "GET",
            "/api/v1/data/my_app_note?$foo=1",
            Value::Null,
        ),
        (
            "list-limit-nan",
            "GET",
            "/api/v1/data/my_app_note?limit=abc&select=title",
            Value::Null,
        ),
        (
            "create-many-201",
            "POST",
            "/api/v1/data/my_app_note/createMany",
            json!([{"title": "many a"}, {"title": "many b"}]),
        ),
        (
            "create-many-object-400",
            "POST",
            "/api/v1/data/my_app_note/createMany",
            json!({"records": [{"title": "x"}]}),
        ),
        (
            "batch-200",
            "POST",
            "/api/v1/batch",
            json!({"operations": [{"op": "create", "object": "my_app_note", "data": {"title": "batch1"}}, {"op": "create", "object": "my_app_note", "data": {"title": "batch2"}}]}),
        ),
        (
            "client-supplied-id",
            "POST",
            "/api/v1/data/my_app_note",
            json!({"title": "own id", "id": "client-id-1", "created_by": "someone-else"}),
        ),
        (
            "export-csv-403",
            "GET",
            "/api/v1/data/my_app_note/export?format=csv",
            Value::Null,
        ),
        ("openapi", "GET", "/api/v1/openapi.json", Value::Null),
        (
            "delete-200",
            "DELETE",
            "/api/v1/data/my_app_note/$ID",
            Value::Null,
        ),
        (
            "delete-again-404",
            "DELETE",
            "/api/v1/data/my_app_note/$ID",
            Value::Null,
        ),
        (
            "get-deleted-404",
            "GET",
            "/api/v1/data/my_app_note/$ID",
            Value::Null,
        ),
    ]
}

async fn replay(server: &Server, dir: &Path) -> (usize, Vec<String>) {
    let mut token: Option<String> = None;
    let mut id = String::new();
    let (mut matched, mut report) = (0, Vec::new());
    for (i, (label, method, path, body)) in calls().into_iter().enumerate() {
        let n = i + 1;
        if label == "list-all" {
            for k in 1..=25 {
                let r = server
                    .call(
                        "POST",
                        "/api/v1/data/my_app_note",
                        json!({"title": format!("Note {k:02}"), "body": format!("b{}", k % 3)}),
                        token.as_deref(),
                    )
                    .await;
                assert_eq!(r.status, 201);
            }
        }
        let path = path.replace("$ID", &id);
        let auth = match label {
            "bad-token-401" => Some("garbage".to_string()),
            _ => token.clone(),
        };
        let ours = server.call(method, &path, body, auth.as_deref()).await;
        if label == "sign-up" {
            token = ours
                .headers
                .get("set-auth-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
        }
        if label == "create-201" {
            id = ours.body["id"].as_str().unwrap_or_default().to_string();
        }
        let (status, real) = read(dir, n, label);
        let mut diffs = Vec::new();
        if status != ours.status {
            diffs.push(format!("status {status} vs {}", ours.status));
        }
        shape_diff("$", &real, &ours.body, &mut diffs);
        if diffs.is_empty() {
            matched += 1;
        } else {
            report.push(format!("{n:02} {label}: {}", diffs.join("; ")));
        }
    }
    (matched, report)
}

#[tokio::test]
async fn my_app_transcript() {
    let Some(upstream) = upstream_fixtures() else {
        return;
    };
    let artifact: Value = serde_json::from_str(
        &std::fs::read_to_string(upstream.join("my-app.json")).expect("my-app.json"),
    )
    .expect("json");
    for db in [Db::Sqlite, Db::Postgres] {
        let server = start_server(
            db,
            "conformance_my_app",
            artifact.clone(),
            Default::default(),
        )
        .await;
        let (matched, report) = replay(&server, &upstream.join("transcript-my-app")).await;
        eprintln!("my-app transcript on {db:?}: {matched} of 58 calls match");
        for line in &report {
            eprintln!("  {line}");
        }
        assert_eq!(
            matched,
            58,
            "calls that differ from the real server:\n{}",
            report.join("\n")
        );
    }
}
