//! Schema sync: idempotent, additive, and refusing data loss unless allowed — on a SQLite file and PostgreSQL.

use crate::support::{Db, K, alice, config, database_url, testapp};
use objectos_host::artifact::Artifact;
use objectos_host::kernel::{DataOp, Kernel};
use serde_json::{Value, json};

async fn boot_with(
    url: &str,
    artifact: Value,
    allow_destructive: bool,
) -> Result<std::sync::Arc<Kernel>, objectos_host::data::DataError> {
    let mut cfg = config(url.to_string());
    cfg.allow_destructive_migrations = allow_destructive;
    Kernel::boot(Artifact::from_value(artifact).expect("valid"), &cfg)
        .await
        .map(|(k, _)| k)
}

fn item_fields(app: &mut Value) -> &mut serde_json::Map<String, Value> {
    app["objects"][1]["fields"]
        .as_object_mut()
        .expect("t_item fields")
}

async fn scenario(url: &str) {
    // First boot creates everything; a second boot changes nothing.
    let (k, report) = Kernel::boot(
        Artifact::from_value(testapp()).unwrap(),
        &config(url.to_string()),
    )
    .await
    .unwrap();
    // Seven artifact objects and nine runtime-provided ones (users, organizations, sessions, API keys, positions,
    // permission sets, position → permission-set bindings, user positions, the audit log).
    assert_eq!(report.schema.created_tables.len(), 16);
    let rec = json!({"name": "kept", "qty": 5})
        .as_object()
        .cloned()
        .unwrap();
    k.execute(
        &alice(),
        DataOp::Create {
            object: "t_item".into(),
            record: rec,
        },
    )
    .await
    .unwrap();
    drop(k);
    let (k, report) = Kernel::boot(
        Artifact::from_value(testapp()).unwrap(),
        &config(url.to_string()),
    )
    .await
    .unwrap();
    assert!(report.schema.is_noop(), "{:?}", report.schema);
    assert_eq!(report.seeds.inserted, 0);
    drop(k);

    // A new field adds a column; existing rows keep their data.
    let mut app = testapp();
    item_fields(&mut app).insert("extra".into(), json!({"type": "text", "label": "Extra"}));
    let (k, report) = Kernel::boot(
        Artifact::from_value(app.clone()).unwrap(),
        &config(url.to_string()),
    )
    .await
    .unwrap();
    assert_eq!(report.schema.added_columns, ["t_item.extra"]);
    let (records, _, _) = K(&k)
        .query("t_item", json!({"where": {"name": "kept"}}))
        .await
        .unwrap();
    assert_eq!(
        (records[0]["qty"].clone(), records[0]["extra"].clone()),
        (json!(5), Value::Null)
    );
    drop(k);

    // Changing the type of a column that holds data is refused, with the field named, and nothing changes.
    let mut retyped = app.clone();
    item_fields(&mut retyped).insert("qty".into(), json!({"type": "text", "label": "Quantity"}));
    let e = boot_with(url, retyped.clone(), false)
        .await
        .err()
        .expect("refused");
    let msg = e.to_string();
    assert!(
        msg.contains("t_item.qty")
            && msg.contains("--allow-destructive-migrations")
            && msg.contains("1 row(s)"),
        "{msg}"
    );
    // Dropping a field whose column holds data is refused too.
    let mut dropped = app.clone();
    item_fields(&mut dropped).shift_remove("qty");
    let e = boot_with(url, dropped.clone(), false)
        .await
        .err()
        .expect("refused");
    assert!(
        e.to_string()
            .contains("t_item.qty: the field is no longer declared"),
        "{e}"
    );
    // An empty column may go without the flag.
    let mut no_extra = app.clone();
    item_fields(&mut no_extra).shift_remove("extra");
    let (_, report) = Kernel::boot(
        Artifact::from_value(no_extra).unwrap(),
        &config(url.to_string()),
    )
    .await
    .unwrap();
    assert_eq!(report.schema.dropped_columns, ["t_item.extra"]);
    // With the flag, the retype is applied (and the column's data is gone, as the operator asked).
    let k = boot_with(url, retyped, true).await.unwrap();
    let (records, _, _) = K(&k)
        .query("t_item", json!({"where": {"name": "kept"}}))
        .await
        .unwrap();
    assert_eq!(records[0]["qty"], Value::Null);
}

#[tokio::test]
async fn sqlite_file() {
    let dir = std::env::temp_dir().join(format!("objectos-schema-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let url = format!("sqlite://{}", dir.join("app.db").display());
    scenario(&url).await;
    assert!(
        dir.join("app.db").exists(),
        "the database file and its folder are created on first run"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn postgres() {
    let url = database_url(Db::Postgres, "schema_sync_scenario").await;
    scenario(&url).await;
}

#[tokio::test]
async fn unreachable_database_is_a_clear_error() {
    let e = boot_with("postgres://postgres@127.0.0.1:1/test", testapp(), false)
        .await
        .err()
        .expect("refused");
    assert_eq!(e.code(), "ERR_DATASOURCE_UNAVAILABLE");
    assert!(
        e.to_string()
            .contains("cannot connect to PostgreSQL at postgres://postgres@127.0.0.1:1/test"),
        "{e}"
    );
    let e = boot_with("mysql://x", testapp(), false)
        .await
        .err()
        .expect("refused");
    assert!(e.to_string().contains("unsupported database URL"), "{e}");
}
