//! Fields a write leaves out, over REST on SQLite and PostgreSQL: an autonumber and a summary (roll-up) in a
//! payload are dropped (the runtime computes them), a field whose `readonlyWhen` holds on the stored record
//! is taken out of an update, and the answer names each in `droppedFields` with its reason, as the real
//! server does for readonly fields. The stored values stay what the runtime made them.

use crate::support::{Db, start_server};
use serde_json::{Value, json};

fn artifact() -> Value {
    json!({
        "manifest": {"id": "com.example.drops", "namespace": "wd", "version": "1.0.0", "type": "app", "name": "drops", "engines": {"protocol": "^17"}},
        "objects": [
            {"name": "wd_order", "label": "Order", "fields": {
                "number": {"type": "autonumber", "autonumberFormat": "ORD-{0000}"},
                "status": {"type": "select", "options": [{"label": "Open", "value": "open"}, {"label": "Closed", "value": "closed"}], "defaultValue": "open"},
                "note": {"type": "text", "readonlyWhen": {"dialect": "cel", "source": "record.status == \"closed\""}},
                "lines": {"type": "summary", "summaryOperations": {"object": "wd_line", "field": "qty", "function": "count"}}
            }},
            {"name": "wd_line", "label": "Line", "fields": {
                "order": {"type": "master_detail", "reference": "wd_order", "required": true},
                "qty": {"type": "number"}
            }}
        ]
    })
}

async fn run(db: Db) {
    let s = start_server(db, "write_drops", artifact(), Default::default()).await;
    let admin = s.sign_up("admin@example.com", "Passw0rd!Passw0rd").await;
    let r = s
        .call(
            "POST",
            "/api/v1/data/wd_order",
            json!({"number": "ORD-9999", "lines": 99, "note": "first"}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(
        r.body["droppedFields"],
        json!([{"object": "wd_order", "fields": ["number", "lines"], "reason": "readonly"}])
    );
    assert_eq!(r.body["record"]["number"], "ORD-0001");
    assert_eq!(
        r.body["record"]["lines"], 0,
        "a roll-up is never the client's value"
    );
    let id = r.body["id"].as_str().expect("id").to_string();
    let path = format!("/api/v1/data/wd_order/{id}");

    // While the predicate does not hold the field is written, and nothing is dropped.
    let r = s
        .call("PATCH", &path, json!({"note": "second"}), Some(&admin))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body.get("droppedFields").is_none(), "{:?}", r.body);
    assert_eq!(r.body["record"]["note"], "second");
    let r = s
        .call("PATCH", &path, json!({"status": "closed"}), Some(&admin))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // Closed: the note is taken out, the rest of the write goes on, and the answer says so.
    let r = s
        .call(
            "PATCH",
            &path,
            json!({"note": "third", "lines": 5}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body["droppedFields"],
        json!([
            {"object": "wd_order", "fields": ["lines"], "reason": "readonly"},
            {"object": "wd_order", "fields": ["note"], "reason": "readonly_when"}
        ])
    );
    let r = s.call("GET", &path, Value::Null, Some(&admin)).await;
    assert_eq!(r.body["record"]["note"], "second");
    assert_eq!(r.body["record"]["lines"], 0);

    // An update of a record that is not there answers 404, dropped fields or not.
    let r = s
        .call(
            "PATCH",
            "/api/v1/data/wd_order/no-such-order",
            json!({"note": "x"}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 404, "{:?}", r.body);
}

#[tokio::test]
async fn dropped_fields_sqlite() {
    run(Db::Sqlite).await;
}

#[tokio::test]
async fn dropped_fields_postgres() {
    run(Db::Postgres).await;
}
