//! What running third-party plugins costs, every pair measured in the same run:
//!
//! - `plugin_call/long_lived`: one `echo` call of the sample service plugin on its long-lived instance (fuel
//!   and deadline set per call), as objectos runs plugins;
//! - `plugin_call/fresh_instance`: the same call on a fresh instance each time (instantiate, `init`, call);
//! - `driver_find/sqlite` vs `driver_find/kv_plugin`: one filtered, sorted, paged `find` through
//!   `Kernel::execute` on the same object and rows, stored by SQLite or by the KV driver plugin.
//!
//! Run: `cargo bench --bench plugins` (the guest components build first).

use criterion::{Criterion, criterion_group, criterion_main};
use objectos_host::artifact::Artifact;
use objectos_host::config::{RuntimeConfig, SeedEnvironment};
use objectos_host::kernel::{DataOp, Kernel, Principal};
use objectos_host::plugins::loader::{AdmittedPlugin, PluginStatus};
use objectos_host::plugins::manifest::MANIFEST_SECTION;
use objectos_host::plugins::signature::{self, SecretKey};
use objectos_host::plugins::trust::TrustPolicy;
use objectos_host::sandbox::plugin::PluginLinks;
use objectos_host::sandbox::plugin::PluginWorld;
use objectos_host::sandbox::{Caller, EngineConfig, Sandbox, SandboxConfig};
use serde_json::{Value, json};
use std::time::Duration;

/// Signs `component` with `manifest` and admits it under a policy granting `grant` (TOML lines).
fn admitted(component: &str, manifest: Value, grant: &str) -> AdmittedPlugin {
    let bytes = std::fs::read(component).expect("component");
    let bytes =
        signature::with_custom_section(&bytes, MANIFEST_SECTION, manifest.to_string().as_bytes())
            .expect("manifest");
    let key = SecretKey::generate().expect("key");
    let signed = signature::sign(&bytes, &key).expect("sign");
    let public = key.public_key();
    let policy = TrustPolicy::parse(&format!(
        "[[keys]]\nkey_id = \"{}\"\npublic_key = \"{}\"\nplugins = [\"com.example.*\"]\n{grant}\n",
        public.key_id(),
        hex::encode(public.0)
    ))
    .expect("policy");
    let a = policy
        .admit("bench.wasm", &signed, chrono::Utc::now(), false)
        .expect("admitted");
    let status = PluginStatus {
        id: a.manifest.id.clone(),
        version: a.manifest.version.clone(),
        kind: format!("{:?}", a.manifest.kind).to_ascii_lowercase(),
        file: "bench.wasm".into(),
        content_sha256: a.content_sha256.clone(),
        signed_by: a.signed_by.clone(),
        capabilities: Vec::new(),
        status: "admitted".into(),
        restarts: 0,
        last_error: None,
    };
    AdmittedPlugin {
        admitted: a,
        status,
        bytes: std::sync::Arc::new(signed),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

fn bench_plugin_call(c: &mut Criterion) {
    let rt = runtime();
    let sandbox = Sandbox::new(
        EngineConfig {
            pool_instances: 16,
            ..EngineConfig::default()
        },
        SandboxConfig::default(),
    )
    .expect("engine");
    let bytes = std::fs::read(objectos_guest_artifacts::SAMPLE_SERVICE).expect("component");
    let links = PluginLinks {
        data: true,
        log: true,
        http: Vec::new(),
    };
    let component = sandbox
        .load_plugin("bench", PluginWorld::Service, &bytes, links)
        .expect("plugin");
    let limits = sandbox.config.function;
    let caller = Caller {
        user_id: Some("u1".into()),
        organization_id: Some("o1".into()),
        positions: vec![],
        is_system: false,
    };
    let payload = json!({"title": "Buy milk", "amount": 12}).to_string();
    let mut instance = rt
        .block_on(sandbox.start_plugin(&component, &limits, "{}", None))
        .expect("started");
    let mut g = c.benchmark_group("plugin_call");
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("long_lived", |b| {
        b.iter(|| {
            rt.block_on(sandbox.call_plugin_service(
                &component,
                &mut instance,
                &limits,
                &caller,
                "echo",
                &payload,
                None,
            ))
            .expect("echo")
        })
    });
    g.bench_function("fresh_instance", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut fresh = sandbox
                    .start_plugin(&component, &limits, "{}", None)
                    .await
                    .expect("started");
                sandbox
                    .call_plugin_service(
                        &component, &mut fresh, &limits, &caller, "echo", &payload, None,
                    )
                    .await
                    .expect("echo")
            })
        })
    });
    g.finish();
}

/// An object of 200 rows, on SQLite or on the KV driver plugin.
fn driver_kernel(
    rt: &tokio::runtime::Runtime,
    kv: bool,
) -> (std::sync::Arc<Kernel>, std::path::PathBuf) {
    let mut app = json!({
        "manifest": {"id": "com.objectos.bench", "namespace": "b", "version": "1.0.0", "type": "app", "name": "bench"},
        "objects": [{"name": "b_item", "label": "Item", "sharingModel": "public_read_write",
                     "fields": {"name": {"type": "text", "label": "Name"}, "qty": {"type": "number", "label": "Qty"},
                                "status": {"type": "text", "label": "Status"}}}]
    });
    let mut cfg = RuntimeConfig {
        seed_environment: SeedEnvironment::Test,
        ..RuntimeConfig::default()
    };
    if kv {
        app["datasources"] = json!([{"name": "kv", "driver": "com.example.kv"}]);
        app["objects"][0]["datasource"] = json!("kv");
        cfg.plugins = vec![admitted(
            objectos_guest_artifacts::KV_DRIVER,
            json!({"id": "com.example.kv", "version": "1.0.0", "kind": "driver"}),
            "",
        )];
    }
    let dir = std::env::temp_dir().join(format!(
        "objectos-bench-plugins-{kv}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    cfg.database_url = format!("sqlite://{}", dir.join("bench.db").display());
    let (kernel, _) = rt
        .block_on(Kernel::boot(
            Artifact::from_value(app).expect("artifact"),
            &cfg,
        ))
        .expect("boot");
    let admin = Principal {
        positions: vec!["platform_admin".into()],
        ..Principal::user("seeder", Some("bench_org"))
    };
    let records: Vec<_> = (0..200)
        .map(|i| {
            json!({"name": format!("item{i:03}"), "qty": i % 50, "status": if i % 3 == 0 { "open" } else { "closed" }})
                .as_object()
                .cloned()
                .expect("object")
        })
        .collect();
    rt.block_on(kernel.execute(
        &admin,
        DataOp::CreateMany {
            object: "b_item".into(),
            records,
        },
    ))
    .expect("seed");
    (kernel, dir)
}

fn bench_driver_find(c: &mut Criterion) {
    let rt = runtime();
    let principal = Principal::user("reader", Some("bench_org"));
    let mut g = c.benchmark_group("driver_find");
    g.measurement_time(Duration::from_secs(5));
    for (name, kv) in [("sqlite", false), ("kv_plugin", true)] {
        let (kernel, dir) = driver_kernel(&rt, kv);
        let query = kernel
            .parse_query(
                &principal,
                "b_item",
                &json!({"where": {"status": "open", "qty": {"$gte": 10}}, "orderBy": [{"field": "name", "order": "desc"}], "limit": 10}),
            )
            .expect("query");
        g.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(kernel.execute(
                    &principal,
                    DataOp::Find {
                        object: "b_item".into(),
                        query: query.clone(),
                    },
                ))
                .expect("find")
            })
        });
        let _ = std::fs::remove_dir_all(&dir);
    }
    g.finish();
}

criterion_group!(benches, bench_plugin_call, bench_driver_find);
criterion_main!(benches);
