//! Data engine CRUD path on both drivers, each next to a bare-sqlx baseline doing the same SQL work in the same run:
//! insert one record, list 20 with a filter and a sort, get by id. Then row-level security: list-20 with an RLS
//! policy vs without, same kernel and table.
//!
//! Run: `cargo bench --bench data` (PostgreSQL on 127.0.0.1:5432, trust auth, database `test`).

use criterion::{Criterion, criterion_group, criterion_main};
use objectos_host::artifact::Artifact;
use objectos_host::config::{RuntimeConfig, SeedEnvironment};
use objectos_host::kernel::{DataOp, Kernel, OpResult, Principal};
use serde_json::json;
use sqlx::{Connection, Row};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const ROWS: usize = 2000;

fn artifact() -> Artifact {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/testapp.json"
    ))
    .expect("testapp fixture");
    Artifact::from_value(serde_json::from_str(&text).expect("json")).expect("valid")
}

fn principal() -> Principal {
    Principal::user("bench_user", Some("bench_org"))
}

async fn boot(url: &str) -> std::sync::Arc<Kernel> {
    let cfg = RuntimeConfig {
        database_url: url.to_string(),
        seed_environment: SeedEnvironment::Test,
        max_connections: 4,
        ..RuntimeConfig::default()
    };
    let (k, _) = Kernel::boot(artifact(), &cfg).await.expect("boot");
    let statuses = ["open", "closed", "archived"];
    let records: Vec<_> = (0..ROWS)
        .map(|i| json!({"name": format!("seed{i}"), "qty": (i * 7) % 1000, "price": (i as f64) * 1.25, "status": statuses[i % 3]}).as_object().cloned().expect("object"))
        .collect();
    for chunk in records.chunks(500) {
        k.execute(
            &principal(),
            DataOp::CreateMany {
                object: "t_item".into(),
                records: chunk.to_vec(),
            },
        )
        .await
        .expect("seed");
    }
    k
}

fn some_id(rt: &tokio::runtime::Runtime, k: &Kernel) -> String {
    rt.block_on(async {
        let q = k
            .parse_query(
                &principal(),
                "t_item",
                &json!({"where": {"name": "seed777"}}),
            )
            .expect("query");
        match k
            .execute(
                &principal(),
                DataOp::Find {
                    object: "t_item".into(),
                    query: q,
                },
            )
            .await
            .expect("find")
        {
            OpResult::List { records, .. } => records[0]["id"].as_str().expect("id").to_string(),
            _ => unreachable!(),
        }
    })
}

fn engine_benches(c: &mut Criterion, rt: &tokio::runtime::Runtime, driver: &str, k: &Kernel) {
    let counter = AtomicU64::new(0);
    let id = some_id(rt, k);
    let list_query = k
        .parse_query(&principal(), "t_item", &json!({"where": {"status": "open", "qty": {"$gte": 100}}, "orderBy": [{"field": "qty", "order": "desc"}], "limit": 20}))
        .expect("query");
    let mut g = c.benchmark_group(format!("data/{driver}"));
    g.bench_function("objectos insert", |b| {
        b.to_async(rt).iter(|| async {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            let rec = json!({"name": format!("b{n}"), "qty": 5, "price": 9.99, "status": "open"})
                .as_object()
                .cloned()
                .expect("object");
            k.execute(
                &principal(),
                DataOp::Create {
                    object: "t_item".into(),
                    record: rec,
                },
            )
            .await
            .expect("insert")
        })
    });
    g.bench_function("objectos list-20 filter+sort", |b| {
        b.to_async(rt).iter(|| async {
            let r = k
                .execute(
                    &principal(),
                    DataOp::Find {
                        object: "t_item".into(),
                        query: list_query.clone(),
                    },
                )
                .await
                .expect("list");
            assert!(matches!(&r, OpResult::List { records, .. } if records.len() == 20));
            r
        })
    });
    g.bench_function("objectos get-by-id", |b| {
        b.to_async(rt).iter(|| async {
            k.execute(
                &principal(),
                DataOp::Get {
                    object: "t_item".into(),
                    id: id.clone(),
                    query: Default::default(),
                },
            )
            .await
            .expect("get")
        })
    });
    g.finish();
}

/// The same three operations as hand-written SQL through sqlx on one connection, with the same tenant filter:
/// the floor objectos is measured against.
mod baseline {
    use super::*;

    pub fn sqlite(c: &mut Criterion, rt: &tokio::runtime::Runtime, url: &str, id: &str) {
        let conn = rt
            .block_on(sqlx::SqliteConnection::connect(url))
            .expect("connect");
        let conn = tokio::sync::Mutex::new(conn);
        let counter = AtomicU64::new(0);
        let mut g = c.benchmark_group("data/sqlite");
        g.bench_function("bare sqlx insert", |b| {
            b.to_async(rt).iter(|| async {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let mut c = conn.lock().await;
                let mut tx = c.begin().await.expect("begin");
                sqlx::query("INSERT INTO t_item (id, name, qty, price, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
                    .bind(format!("raw{n}"))
                    .bind(format!("raw{n}"))
                    .bind(5.0)
                    .bind(9.99)
                    .bind("open")
                    .bind("2026-11-22T00:00:00.000Z")
                    .bind("2026-11-22T00:00:00.000Z")
                    .execute(&mut *tx)
                    .await
                    .expect("insert");
                tx.commit().await.expect("commit");
            })
        });
        g.bench_function("bare sqlx list-20 filter+sort", |b| {
            b.to_async(rt).iter(|| async {
                let mut c = conn.lock().await;
                let rows = sqlx::query("SELECT * FROM t_item WHERE organization_id = ? AND status = ? AND qty >= ? ORDER BY qty DESC, id ASC LIMIT 20")
                    .bind("bench_org")
                    .bind("open")
                    .bind(100.0)
                    .fetch_all(&mut *c)
                    .await
                    .expect("list");
                let count: i64 = sqlx::query("SELECT COUNT(*) FROM t_item WHERE organization_id = ? AND status = ? AND qty >= ?")
                    .bind("bench_org")
                    .bind("open")
                    .bind(100.0)
                    .fetch_one(&mut *c)
                    .await
                    .expect("count")
                    .get(0);
                (rows.iter().map(|r| r.get::<String, _>("name")).collect::<Vec<_>>(), count)
            })
        });
        g.bench_function("bare sqlx get-by-id", |b| {
            b.to_async(rt).iter(|| async {
                let mut c = conn.lock().await;
                let row = sqlx::query("SELECT * FROM t_item WHERE organization_id = ? AND id = ?")
                    .bind("bench_org")
                    .bind(id)
                    .fetch_one(&mut *c)
                    .await
                    .expect("get");
                row.get::<String, _>("name")
            })
        });
        g.finish();
    }

    pub fn postgres(
        c: &mut Criterion,
        rt: &tokio::runtime::Runtime,
        url: &str,
        schema: &str,
        id: &str,
    ) {
        let conn = rt
            .block_on(async {
                let mut c = sqlx::PgConnection::connect(url).await?;
                sqlx::query(&format!("SET search_path TO {schema}"))
                    .execute(&mut c)
                    .await?;
                Ok::<_, sqlx::Error>(c)
            })
            .expect("connect");
        let conn = tokio::sync::Mutex::new(conn);
        let counter = AtomicU64::new(0);
        let mut g = c.benchmark_group("data/postgres");
        g.bench_function("bare sqlx insert", |b| {
            b.to_async(rt).iter(|| async {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let mut c = conn.lock().await;
                let mut tx = c.begin().await.expect("begin");
                sqlx::query("INSERT INTO t_item (id, name, qty, price, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, now(), now())")
                    .bind(format!("raw{n}"))
                    .bind(format!("raw{n}"))
                    .bind(5.0)
                    .bind(9.99)
                    .bind("open")
                    .execute(&mut *tx)
                    .await
                    .expect("insert");
                tx.commit().await.expect("commit");
            })
        });
        g.bench_function("bare sqlx list-20 filter+sort", |b| {
            b.to_async(rt).iter(|| async {
                let mut c = conn.lock().await;
                let rows = sqlx::query("SELECT id, name, qty, price::float8 AS price, status FROM t_item WHERE organization_id = $1 AND status = $2 AND qty >= $3 ORDER BY qty DESC, id ASC LIMIT 20")
                    .bind("bench_org")
                    .bind("open")
                    .bind(100.0)
                    .fetch_all(&mut *c)
                    .await
                    .expect("list");
                let count: i64 = sqlx::query("SELECT COUNT(*) FROM t_item WHERE organization_id = $1 AND status = $2 AND qty >= $3")
                    .bind("bench_org")
                    .bind("open")
                    .bind(100.0)
                    .fetch_one(&mut *c)
                    .await
                    .expect("count")
                    .get(0);
                (rows.iter().map(|r| r.get::<String, _>("name")).collect::<Vec<_>>(), count)
            })
        });
        g.bench_function("bare sqlx get-by-id", |b| {
            b.to_async(rt).iter(|| async {
                let mut c = conn.lock().await;
                let row = sqlx::query("SELECT id, name, qty, price::float8 AS price, status FROM t_item WHERE organization_id = $1 AND id = $2").bind("bench_org").bind(id).fetch_one(&mut *c).await.expect("get");
                row.get::<String, _>("name")
            })
        });
        g.finish();
    }
}

/// Row-level security's cost: the same list-20 for a reader whose permission set carries the RLS policy
/// `assignee == current_user.email` (lowered into the WHERE clause, an index on `assignee`) and for a reader
/// whose set has no policy, on one kernel and one table.
fn rls_benches(c: &mut Criterion, rt: &tokio::runtime::Runtime, url: &str) {
    let artifact = Artifact::from_value(json!({
        "objects": [{"name": "b_task", "sharingModel": "public_read_write",
            "fields": {"title": {"type": "text"}, "assignee": {"type": "text"}, "rank": {"type": "number"}},
            "indexes": [{"fields": ["assignee"]}]}],
        "permissions": [
            {"name": "open_reader", "objects": {"b_task": {"allowRead": true}}},
            {"name": "rls_reader", "objects": {"b_task": {"allowRead": true}},
             "rowLevelSecurity": [{"name": "own", "object": "b_task", "operation": "select", "using": "assignee == current_user.email"}]}
        ]
    }))
    .expect("valid");
    let cfg = RuntimeConfig {
        database_url: url.to_string(),
        seed_environment: SeedEnvironment::Test,
        max_connections: 4,
        ..RuntimeConfig::default()
    };
    let reader = |position: &str| Principal {
        positions: vec![position.to_string()],
        email: Some("user3@example.com".into()),
        ..Principal::user("reader", Some("bench_org"))
    };
    let (open, rls) = (reader("open"), reader("rls"));
    let k = rt.block_on(async {
        let (k, _) = Kernel::boot(artifact, &cfg).await.expect("boot");
        for (position, set) in [("open", "open_reader"), ("rls", "rls_reader")] {
            k.bind_permission_sets(&Principal::system(), position, &[set.to_string()])
                .await
                .expect("bind");
        }
        let admin = Principal {
            positions: vec!["platform_admin".into()],
            ..Principal::user("seeder", Some("bench_org"))
        };
        let records: Vec<_> = (0..ROWS)
            .map(|i| json!({"title": format!("t{i}"), "assignee": format!("user{}@example.com", i % 10), "rank": i}).as_object().cloned().expect("object"))
            .collect();
        for chunk in records.chunks(500) {
            k.execute(&admin, DataOp::CreateMany { object: "b_task".into(), records: chunk.to_vec() })
                .await
                .expect("seed");
        }
        k
    });
    let q = k
        .parse_query(
            &open,
            "b_task",
            &json!({"orderBy": [{"field": "rank", "order": "desc"}], "limit": 20}),
        )
        .expect("query");
    // The same rows as the policy selects, asked for by the caller itself: the policy's own overhead.
    let explicit = k
        .parse_query(&open, "b_task", &json!({"where": {"assignee": "user3@example.com"}, "orderBy": [{"field": "rank", "order": "desc"}], "limit": 20}))
        .expect("query");
    let mut g = c.benchmark_group("rls/sqlite");
    for (name, who, query) in [
        ("list-20 without RLS", &open, &q),
        (
            "list-20 same filter written by the caller",
            &open,
            &explicit,
        ),
        ("list-20 with RLS policy", &rls, &q),
    ] {
        g.bench_function(name, |b| {
            b.to_async(rt).iter(|| async {
                let r = k
                    .execute(
                        who,
                        DataOp::Find {
                            object: "b_task".into(),
                            query: query.clone(),
                        },
                    )
                    .await
                    .expect("list");
                assert!(matches!(&r, OpResult::List { records, .. } if records.len() == 20));
                r
            })
        });
    }
    g.finish();
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    let dir = std::env::temp_dir().join(format!("objectos-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let sqlite_url = format!("sqlite://{}", dir.join("bench.db").display());
    let k = rt.block_on(boot(&sqlite_url));
    let id = some_id(&rt, &k);
    engine_benches(c, &rt, "sqlite", &k);
    baseline::sqlite(c, &rt, &sqlite_url, &id);
    drop(k);
    rls_benches(
        c,
        &rt,
        &format!("sqlite://{}", dir.join("rls.db").display()),
    );

    let schema = "bench_data";
    let base = "postgres://postgres@127.0.0.1:5432/test";
    rt.block_on(async {
        let mut conn = sqlx::PgConnection::connect(base)
            .await
            .expect("PostgreSQL on 127.0.0.1:5432");
        sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(&mut conn)
            .await
            .expect("drop");
    });
    let k = rt.block_on(boot(&format!("{base}?schema={schema}")));
    let id = some_id(&rt, &k);
    engine_benches(c, &rt, "postgres", &k);
    baseline::postgres(c, &rt, base, schema, &id);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group! {
    name = data;
    config = Criterion::default().sample_size(30).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(data);
