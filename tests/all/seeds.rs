//! Seeds: applied per environment, upserted by external id, idempotent across restarts.

use crate::support::{Db, K, config, database_url, testapp};
use objectos_host::artifact::Artifact;
use objectos_host::config::SeedEnvironment;
use objectos_host::kernel::Kernel;
use serde_json::{Value, json};

async fn names(k: &Kernel, object: &str) -> Vec<String> {
    k.adopt_unowned_rows("org_one", "user_alice").await.unwrap();
    let (records, _, _) = K(k)
        .query(object, json!({"orderBy": "name"}))
        .await
        .unwrap();
    records
        .iter()
        .map(|r| r["name"].as_str().unwrap_or("").to_string())
        .collect()
}

async fn scenario(db: Db, test: &str) {
    // Restarts need a database that outlives a kernel: a SQLite file, not memory.
    let url = match db {
        Db::Sqlite => {
            let dir = std::env::temp_dir().join(format!("objectos-seeds-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            format!("sqlite://{}", dir.join("app.db").display())
        }
        Db::Postgres => database_url(db, test).await,
    };
    let mut cfg = config(url.clone());
    cfg.seed_environment = SeedEnvironment::Prod;
    let (k, report) = Kernel::boot(Artifact::from_value(testapp()).unwrap(), &cfg)
        .await
        .unwrap();
    // The dev-only set is skipped in prod.
    assert_eq!(names(&k, "t_category").await, ["Tools", "Toys"]);
    assert_eq!((report.seeds.inserted, report.seeds.skipped.len()), (3, 1));
    drop(k);
    // In dev it applies; the others are already there (unchanged).
    cfg.seed_environment = SeedEnvironment::Dev;
    let (k, report) = Kernel::boot(Artifact::from_value(testapp()).unwrap(), &cfg)
        .await
        .unwrap();
    assert_eq!(names(&k, "t_category").await, ["DevOnly", "Tools", "Toys"]);
    assert_eq!((report.seeds.inserted, report.seeds.unchanged), (1, 3));
    drop(k);
    // A changed seed value updates the row found by its external id, keeping its id.
    let mut app = testapp();
    app["data"][0]["records"][0]["rank"] = json!(7);
    let (k, report) = Kernel::boot(Artifact::from_value(app).unwrap(), &cfg)
        .await
        .unwrap();
    assert_eq!((report.seeds.inserted, report.seeds.updated), (0, 1));
    k.adopt_unowned_rows("org_one", "user_alice").await.unwrap();
    let (records, total, _) = K(&k)
        .query("t_category", json!({"where": {"name": "Tools"}}))
        .await
        .unwrap();
    assert_eq!((records[0]["rank"].clone(), total), (json!(7), Some(1)));
}

#[tokio::test]
async fn sqlite() {
    scenario(Db::Sqlite, "").await;
}

#[tokio::test]
async fn postgres() {
    scenario(Db::Postgres, "seeds_scenario").await;
}

#[tokio::test]
async fn seeds_resolve_cel_and_natural_keys() {
    // Seed values written as CEL and lookups that name their target by its natural key (as the upstream
    // fixtures do): `{"account": "Acme Corp"}` becomes Acme Corp's id.
    let mut app = testapp();
    app["data"] = json!([
        {"object": "t_category", "externalId": "name", "records": [{"name": "Acme"}]},
        {"object": "t_item", "externalId": "name", "records": [{"name": "seeded", "category": "Acme", "due": {"dialect": "cel", "source": "daysAgo(3)"},
            "at": {"dialect": "cel", "source": "daysAgo(1) + duration(\"2h\")"}}]}
    ]);
    let url = database_url(Db::Sqlite, "").await;
    let (k, _) = Kernel::boot(Artifact::from_value(app).unwrap(), &config(url))
        .await
        .unwrap();
    k.adopt_unowned_rows("org_one", "user_alice").await.unwrap();
    let (records, _, _) = K(&k)
        .query("t_item", json!({"expand": ["category"]}))
        .await
        .unwrap();
    assert_eq!(records[0]["category"]["name"], "Acme");
    let three_days_ago = (chrono::Utc::now() - chrono::Duration::days(3))
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(records[0]["due"], Value::String(three_days_ago));
    assert!(records[0]["at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn a_bad_seed_stops_boot_with_its_path() {
    let mut app = testapp();
    app["data"] =
        json!([{"object": "t_item", "records": [{"name": "ok"}, {"name": "bad", "qty": -3}]}]);
    let url = database_url(Db::Sqlite, "").await;
    let e = Kernel::boot(Artifact::from_value(app).unwrap(), &config(url))
        .await
        .err()
        .expect("refused");
    assert!(
        e.to_string()
            .contains("seed data[0].records[1] (t_item) failed: Quantity must be ≥ 0"),
        "{e}"
    );
}
