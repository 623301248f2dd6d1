//! Validation rules of every type, formulas, CEL defaults and autonumbers through `Kernel::execute`, on both
//! drivers; and the audit log: one row per committed mutation, none for a refused one.

use crate::support::{Db, K, boot};
use objectos_host::data::error::DataError;
use objectos_host::kernel::{DataOp, OpResult, Principal};
use serde_json::{Value, json};

fn artifact() -> Value {
    json!({
        "objects": [{
            "name": "r_order", "label": "Order",
            "fields": {
                "title": {"type": "text", "required": true},
                "status": {"type": "select", "label": "Status", "options": [
                    {"label": "Draft", "value": "draft", "default": true},
                    {"label": "Placed", "value": "placed"},
                    {"label": "Shipped", "value": "shipped"},
                    {"label": "Cancelled", "value": "cancelled"}]},
                "amount": {"type": "number", "scale": 2},
                "discount": {"type": "number", "scale": 2},
                "email": {"type": "text"},
                "sku": {"type": "text"},
                "config": {"type": "json"},
                "starts": {"type": "date"},
                "ends": {"type": "date", "label": "Ends"},
                "priority": {"type": "number", "defaultValue": 3},
                "due": {"type": "date", "defaultValue": {"dialect": "cel", "source": "daysFromNow(7)"}},
                "commission": {"type": "number", "defaultValue": {"dialect": "cel", "source": "record.amount * 0.1"}},
                "creator": {"type": "text", "defaultValue": {"dialect": "cel", "source": "current_user.id"}},
                "net": {"type": "formula", "returnType": "number",
                        "expression": {"dialect": "cel", "source": "(record.amount == null ? 0 : record.amount) - coalesce(record.discount, 0)"}},
                "shout": {"type": "formula", "returnType": "text",
                          "expression": {"dialect": "cel", "source": "upper(trim(record.title)) + (isBlank(record.sku) ? '' : ' ' + record.sku)"}},
                "code": {"type": "autonumber", "autonumberFormat": "ORD-{0000}"}
            },
            "validations": [
                {"name": "discount_le_amount", "type": "script", "message": "The discount exceeds the amount.",
                 "condition": {"dialect": "cel", "source": "record.discount != null && record.amount != null && record.discount > record.amount"}},
                {"name": "status_flow", "type": "state_machine", "field": "status", "message": "This status change is not allowed.",
                 "transitions": {"draft": ["placed", "cancelled"], "placed": ["shipped", "cancelled"], "shipped": [], "cancelled": []},
                 "initialStates": ["draft"]},
                {"name": "email_format", "type": "format", "field": "email", "format": "email", "message": "Not an email address."},
                {"name": "sku_format", "type": "format", "field": "sku", "regex": "^[A-Z]{3}-\\d{3}$", "message": "A SKU looks like ABC-123."},
                {"name": "dates_in_order", "type": "cross_field", "fields": ["ends"], "message": "The end comes before the start.",
                 "condition": {"dialect": "cel", "source": "record.starts != null && record.ends != null && record.ends < record.starts"}},
                {"name": "config_shape", "type": "json_schema", "field": "config", "message": "The config needs a tier (a or b).",
                 "schema": {"type": "object", "properties": {"tier": {"enum": ["a", "b"]}}, "required": ["tier"]}},
                {"name": "shipped_needs_amount", "type": "conditional", "message": "Shipping rule.",
                 "when": {"dialect": "cel", "source": "record.status == 'shipped'"},
                 "then": {"name": "amount_present", "type": "script", "message": "A shipped order needs an amount.",
                          "condition": {"dialect": "cel", "source": "record.amount == null"}}},
                {"name": "no_decrease", "type": "script", "events": ["update"], "message": "The amount cannot decrease.",
                 "condition": {"dialect": "cel", "source": "previous.amount != null && record.amount != null && record.amount < previous.amount"}},
                {"name": "big_order", "type": "script", "severity": "warning", "message": "A big order.",
                 "condition": {"dialect": "cel", "source": "record.amount != null && record.amount > 1000"}},
                {"name": "retired", "type": "script", "active": false, "message": "Never.",
                 "condition": {"dialect": "cel", "source": "true"}}
            ]
        }]
    })
}

/// The one field error of a refused write: (field, code, message).
fn refusal(r: Result<impl std::fmt::Debug, DataError>) -> (String, String, String) {
    match r {
        Err(DataError::Validation { fields, .. }) if fields.len() == 1 => (
            fields[0].field.clone(),
            fields[0].code.to_string(),
            fields[0].message.clone(),
        ),
        other => panic!("expected one validation error, got {other:?}"),
    }
}

async fn audit_rows(k: &K<'_>, record_id: Option<&str>) -> Vec<Value> {
    let mut q = json!({"where": {"object_name": "r_order"}, "orderBy": [{"field": "created_at"}]});
    if let Some(id) = record_id {
        q["where"]["record_id"] = json!(id);
    }
    let query =
        k.0.parse_query(&Principal::system(), "sys_audit_log", &q)
            .expect("query");
    match k
        .0
        .execute(
            &Principal::system(),
            DataOp::Find {
                object: "sys_audit_log".into(),
                query,
            },
        )
        .await
        .expect("audit log")
    {
        OpResult::List { records, .. } => records.into_iter().map(Value::Object).collect(),
        other => panic!("{other:?}"),
    }
}

async fn scenario(db: Db) {
    let kernel = boot(db, "rules", artifact()).await;
    let k = K(&kernel);
    let mut committed = 0;

    // Defaults (literal, CEL), autonumber, formulas.
    let o = k
        .ok(
            "r_order",
            json!({"title": " widget ", "amount": 100, "discount": 10, "sku": "ABC-123"}),
        )
        .await;
    committed += 1;
    let id = o["id"].as_str().expect("id").to_string();
    assert_eq!(o["status"], "draft");
    assert_eq!(o["priority"], json!(3));
    assert_eq!(o["commission"], json!(10));
    assert_eq!(o["creator"], "user_alice");
    assert_eq!(o["code"], "ORD-0001");
    assert_eq!(o["net"], json!(90));
    assert_eq!(o["shout"], "WIDGET ABC-123");
    let due = chrono::NaiveDate::parse_from_str(o["due"].as_str().expect("due"), "%Y-%m-%d")
        .expect("a date");
    let days = (due - chrono::Utc::now().date_naive()).num_days();
    assert!((6..=7).contains(&days), "due in {days} days");
    let second = k.ok("r_order", json!({"title": "second"})).await;
    committed += 1;
    assert_eq!(second["code"], "ORD-0002");
    // A formula in select keeps the projection.
    let listed = k
        .find(
            "r_order",
            json!({"fields": ["title", "net"], "where": {"id": id}}),
        )
        .await;
    assert_eq!(listed[0]["net"], json!(90));
    assert!(listed[0].get("amount").is_none(), "{:?}", listed[0]);

    // Insert-time rules, each alone.
    let cases = [
        (
            json!({"title": "x", "status": "placed"}),
            "status",
            "invalid_initial_state",
            "This status change is not allowed.",
        ),
        (
            json!({"title": "x", "amount": 5, "discount": 6}),
            "_record",
            "rule_violation",
            "The discount exceeds the amount.",
        ),
        (
            json!({"title": "x", "email": "not-an-email"}),
            "email",
            "invalid_format",
            "Not an email address.",
        ),
        (
            json!({"title": "x", "sku": "abc-12"}),
            "sku",
            "invalid_format",
            "A SKU looks like ABC-123.",
        ),
        (
            json!({"title": "x", "starts": "2026-05-02", "ends": "2026-05-01"}),
            "ends",
            "rule_violation",
            "The end comes before the start.",
        ),
        (
            json!({"title": "x", "config": {"tier": "z"}}),
            "config",
            "json_schema_violation",
            "The config needs a tier (a or b).",
        ),
        (
            json!({"title": "x", "config": {}}),
            "config",
            "json_schema_violation",
            "The config needs a tier (a or b).",
        ),
    ];
    for (record, field, code, message) in cases {
        let got = refusal(k.create("r_order", record.clone()).await);
        assert_eq!(
            got,
            (field.to_string(), code.to_string(), message.to_string()),
            "{record}"
        );
    }
    // Valid shapes pass; a warning-severity rule and an inactive one never block.
    k.ok("r_order", json!({"title": "ok", "email": "a@example.com", "config": {"tier": "a"}, "starts": "2026-05-01", "ends": "2026-05-02", "amount": 5000}))
        .await;
    committed += 1;

    // Update-time rules: transitions, same-state writes, the conditional branch, `previous`.
    let (field, code, _) = refusal(
        k.update("r_order", &id, json!({"status": "shipped"}), None)
            .await,
    );
    assert_eq!(
        (field.as_str(), code.as_str()),
        ("status", "invalid_transition")
    );
    match k
        .update("r_order", &id, json!({"status": "shipped"}), None)
        .await
    {
        Err(DataError::Validation { fields, .. }) => {
            assert_eq!(
                fields[0].constraint.as_deref(),
                Some(&json!({"from": "draft", "to": "shipped"}))
            );
            assert_eq!(fields[0].label.as_deref(), Some("Status"));
        }
        other => panic!("{other:?}"),
    }
    k.update("r_order", &id, json!({"status": "placed"}), None)
        .await
        .expect("draft → placed");
    k.update(
        "r_order",
        &id,
        json!({"status": "placed", "title": "same state"}),
        None,
    )
    .await
    .expect("placed → placed is not a transition");
    let (_, _, message) = refusal(k.update("r_order", &id, json!({"amount": 50}), None).await);
    assert_eq!(message, "The amount cannot decrease.");
    committed += 2;
    let second_id = second["id"].as_str().expect("id").to_string();
    k.update("r_order", &second_id, json!({"status": "placed"}), None)
        .await
        .expect("placed");
    let (field, _, message) = refusal(
        k.update("r_order", &second_id, json!({"status": "shipped"}), None)
            .await,
    );
    assert_eq!(
        (field.as_str(), message.as_str()),
        ("_record", "A shipped order needs an amount.")
    );
    k.update(
        "r_order",
        &second_id,
        json!({"status": "shipped", "amount": 1}),
        None,
    )
    .await
    .expect("shipped with an amount");
    k.delete("r_order", &second_id).await.expect("deleted");
    committed += 3;

    // The audit log: one row per committed mutation, in order, none for the refused ones.
    let rows = audit_rows(&k, None).await;
    assert_eq!(rows.len(), committed, "{rows:#?}");
    let of_first = audit_rows(&k, Some(&id)).await;
    let actions: Vec<&str> = of_first
        .iter()
        .map(|r| r["action"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(actions, ["create", "update", "update"]);
    assert_eq!(of_first[0]["user_id"], "user_alice");
    assert_eq!(of_first[0]["actor"], "user");
    assert_eq!(of_first[0]["organization_id"], "org_one");
    assert_eq!(of_first[1]["old_value"]["status"], "draft");
    assert_eq!(of_first[1]["new_value"]["status"], "placed");
    let of_second = audit_rows(&k, Some(&second_id)).await;
    assert_eq!(of_second.last().expect("rows")["action"], "delete");
    assert_eq!(of_second.last().expect("rows")["new_value"], Value::Null);

    // No API writes the log.
    let forged = kernel
        .execute(
            &Principal::system(),
            DataOp::Create {
                object: "sys_audit_log".into(),
                record: json!({"action": "delete", "object_name": "r_order", "record_id": "x"})
                    .as_object()
                    .cloned()
                    .expect("object"),
            },
        )
        .await;
    assert!(
        matches!(forged, Err(DataError::PermissionDenied { .. })),
        "{forged:?}"
    );
    assert_eq!(audit_rows(&k, None).await.len(), committed);
}

#[tokio::test]
async fn rules_formulas_defaults_autonumbers_and_audit_sqlite() {
    scenario(Db::Sqlite).await;
}

#[tokio::test]
async fn rules_formulas_defaults_autonumbers_and_audit_postgres() {
    scenario(Db::Postgres).await;
}

/// A policy that cannot become a row filter refuses the boot, naming its path.
#[tokio::test]
async fn untranslatable_rls_policy_refuses_the_boot() {
    let mut a = artifact();
    a["permissions"] = json!([{
        "name": "reader", "objects": {"r_order": {"allowRead": true}},
        "rowLevelSecurity": [
            {"name": "ok", "object": "r_order", "operation": "select", "using": "owner_id == current_user.id"},
            {"name": "bad", "object": "r_order", "operation": "select", "using": "size(record.title) > 3"}
        ]
    }]);
    let artifact = objectos_host::artifact::Artifact::from_value(a).expect("valid artifact");
    let url = crate::support::database_url(Db::Sqlite, "").await;
    let e = objectos_host::kernel::Kernel::boot(artifact, &crate::support::config(url))
        .await
        .err()
        .expect("the boot is refused");
    let text = e.to_string();
    assert!(
        text.contains("permissions[0].rowLevelSecurity[1].using"),
        "{text}"
    );
}
