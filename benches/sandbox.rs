//! Per-call sandbox overhead, every row on the same component bytes (plugins/sample-hooks, its before-insert
//! path: parse the record, trim the title, default the status, check the amount, serialize):
//!
//! (a) `native`: the same work as a Rust closure;
//! (b) `bare_wasmtime`: wasmtime alone (pooling, `InstancePre`, an empty WASI context, one typed call per
//!     fresh instance; no fuel, no epochs, no objectos code);
//! (c) `objectos_hook`: objectos' hook invocation (fresh instance, fuel, epoch deadline, memory limiter,
//!     output cap, JSON event);
//! (d) `objectos_reused_instance`: the same with one instance kept across calls (not how objectos runs code);
//! (js) `objectos_js_hook_naive`: the same work as a JavaScript body, through the JS runtime component, the
//!     naive way (fresh instance, fresh JS context, parse the body per call);
//! (e) `fuel_epochs/*`: (c) with fuel and epochs switched on and off;
//! (f) `create/*`: a create through `Kernel::execute` (SQLite) on an object with that before-hook, with the
//!     same work as a CEL hook, and without, interleaved A/B on one database.
//!
//! Run: `cargo bench --bench sandbox` (the guest components build first).

use criterion::{Criterion, criterion_group, criterion_main};
use objectos_host::artifact::{Artifact, build};
use objectos_host::config::{RuntimeConfig, SeedEnvironment};
use objectos_host::kernel::{DataOp, Kernel, Principal};
use objectos_host::sandbox::{
    BodyKind, Caller, EngineConfig, HookEvent, HookOutcome, Sandbox, SandboxConfig,
};
use serde_json::{Map, Value, json};
use std::time::Duration;

const INPUT: &str = r#"{"title":"  Buy milk  ","amount":12,"priority":"normal"}"#;

/// (a) what the component does, natively.
fn native_hook(input: &str) -> String {
    let mut record: Map<String, Value> = serde_json::from_str(input).expect("object");
    if let Some(Value::String(title)) = record.get("title") {
        let trimmed = title.trim().to_string();
        record.insert("title".into(), Value::String(trimmed));
    }
    if record.get("status").is_none_or(Value::is_null) {
        record.insert("status".into(), Value::String("draft".into()));
    }
    if record
        .get("amount")
        .and_then(Value::as_f64)
        .is_some_and(|a| a < 0.0)
    {
        return "abort".into();
    }
    Value::Object(record).to_string()
}

fn event() -> HookEvent {
    HookEvent {
        object: "task".into(),
        event: "beforeInsert".into(),
        input: INPUT.into(),
        previous: None,
        record_id: None,
        caller: Caller {
            user_id: Some("u1".into()),
            organization_id: Some("o1".into()),
            positions: vec!["everyone".into()],
            is_system: false,
        },
    }
}

/// (b) wasmtime with its own bindings and nothing of objectos.
mod bare {
    use wasmtime::component::{HasSelf, Linker, ResourceTable};
    use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

    wasmtime::component::bindgen!({
        path: "wit",
        world: "hook-body",
        imports: { default: async },
        exports: { default: async },
    });

    use objectos::host::types::Error;

    pub struct State {
        wasi: WasiCtx,
        table: ResourceTable,
    }

    impl WasiView for State {
        fn ctx(&mut self) -> WasiCtxView<'_> {
            WasiCtxView {
                ctx: &mut self.wasi,
                table: &mut self.table,
            }
        }
    }

    impl objectos::host::types::Host for State {}
    impl objectos::host::log::Host for State {
        async fn log(&mut self, _: objectos::host::log::Level, _: String) {}
    }
    impl objectos::host::data::Host for State {
        async fn find(&mut self, _: String, _: String) -> Result<String, Error> {
            Err(Error::Denied("no data".into()))
        }
        async fn get(&mut self, _: String, _: String) -> Result<String, Error> {
            Err(Error::Denied("no data".into()))
        }
        async fn insert(&mut self, _: String, _: String) -> Result<String, Error> {
            Err(Error::Denied("no data".into()))
        }
        async fn update(&mut self, _: String, _: String, _: String) -> Result<String, Error> {
            Err(Error::Denied("no data".into()))
        }
        async fn delete(&mut self, _: String, _: String) -> Result<(), Error> {
            Err(Error::Denied("no data".into()))
        }
    }

    pub struct Bare {
        engine: wasmtime::Engine,
        pre: HookBodyPre<State>,
    }

    impl Bare {
        /// `tuned`: the pool settings objectos uses (slots reset in place with PAGEMAP_SCAN); otherwise
        /// wasmtime's default pooling configuration.
        pub fn new(bytes: &[u8], tuned: bool) -> Bare {
            let mut config = wasmtime::Config::new();
            config.wasm_component_model(true);
            let mut pool = wasmtime::PoolingAllocationConfig::new();
            if tuned {
                pool.pagemap_scan(wasmtime::Enabled::Auto)
                    .linear_memory_keep_resident(4 << 20)
                    .table_keep_resident(4 << 20)
                    .async_stack_keep_resident(4 << 20);
            }
            config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
            let engine = wasmtime::Engine::new(&config).expect("engine");
            let mut linker = Linker::new(&engine);
            wasmtime_wasi::p2::add_to_linker_async(&mut linker).expect("wasi");
            HookBody::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s).expect("link");
            let component = wasmtime::component::Component::new(&engine, bytes).expect("component");
            let pre =
                HookBodyPre::new(linker.instantiate_pre(&component).expect("pre")).expect("hook");
            Bare { engine, pre }
        }

        pub async fn call(&self, event: &exports::objectos::host::hook::Event) -> bool {
            let state = State {
                wasi: wasmtime_wasi::WasiCtxBuilder::new().build(),
                table: ResourceTable::new(),
            };
            let mut store = wasmtime::Store::new(&self.engine, state);
            let instance = self
                .pre
                .instantiate_async(&mut store)
                .await
                .expect("instance");
            let out = instance
                .objectos_host_hook()
                .call_handle(&mut store, event)
                .await
                .expect("call");
            matches!(
                out,
                Ok(exports::objectos::host::hook::Outcome::Proceed(Some(_)))
            )
        }
    }
}

fn sandbox(fuel: bool, epochs: bool) -> Sandbox {
    Sandbox::new(
        EngineConfig {
            fuel,
            epochs,
            pool_instances: 16,
            cache_dir: None,
            ..EngineConfig::default()
        },
        SandboxConfig::default(),
    )
    .expect("engine")
}

fn bench_calls(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let bytes = std::fs::read(objectos_guest_artifacts::SAMPLE_HOOKS).expect("component");
    let ev = event();
    let mut g = c.benchmark_group("hook_call");
    g.measurement_time(Duration::from_secs(5));

    g.bench_function("native", |b| {
        b.iter(|| std::hint::black_box(native_hook(std::hint::black_box(INPUT))))
    });

    let bare_default = bare::Bare::new(&bytes, false);
    let bare = bare::Bare::new(&bytes, true);
    let bare_event = bare::exports::objectos::host::hook::Event {
        object: ev.object.clone(),
        event: ev.event.clone(),
        input: ev.input.clone(),
        previous: None,
        record_id: None,
        caller: bare::objectos::host::types::Caller {
            user_id: ev.caller.user_id.clone(),
            organization_id: ev.caller.organization_id.clone(),
            positions: ev.caller.positions.clone(),
            is_system: false,
        },
    };
    g.bench_function("bare_wasmtime_default_pool", |b| {
        b.to_async(&rt).iter(|| async {
            assert!(bare_default.call(&bare_event).await);
        })
    });
    g.bench_function("bare_wasmtime", |b| {
        b.to_async(&rt).iter(|| async {
            assert!(bare.call(&bare_event).await);
        })
    });

    let full = sandbox(true, true);
    let component = std::sync::Arc::new(
        full.load("bench", BodyKind::Hook, &bytes)
            .expect("component"),
    );
    let limits = full.config.hook;
    g.bench_function("objectos_hook", |b| {
        b.to_async(&rt).iter(|| async {
            let out = full
                .call_hook(&component, &limits, &ev, None)
                .await
                .expect("call");
            assert!(matches!(out, HookOutcome::Proceed(Some(_))));
        })
    });

    // The same kind of work as a JS body (the expense fixture's beforeInsert hook), run by the JS runtime
    // component the naive way: fresh instance, fresh JS context, parse the body, every call.
    let js_bytes = std::fs::read(objectos_guest_artifacts::JS_RUNTIME).expect("JS runtime");
    let js = std::sync::Arc::new(
        full.load("js-runtime", BodyKind::Script, &js_bytes)
            .expect("JS runtime loads"),
    );
    let js_limits = objectos_host::sandbox::Limits {
        fuel: full.config.function.fuel,
        ..limits
    };
    let js_source = "const input = ctx.input; input.status = input.status || 'draft'; if (typeof input.title === 'string') { input.title = input.title.trim(); } if (input.amount < 0) throw new Error('amount must not be negative');";
    let js_event = json!({"object": "task", "event": "beforeInsert", "input": serde_json::from_str::<Value>(INPUT).expect("input")}).to_string();
    // The same body the way `serve` runs it: a fresh instance made from the runtime's snapshot taken after
    // `prepare` built the context and compiled this body.
    let snapshot = rt
        .block_on(full.preinitialize_js(&js_bytes, &[js_source.to_string()]))
        .expect("snapshot");
    let js_prepared = std::sync::Arc::new(
        full.load("js-runtime-prepared", BodyKind::Script, &snapshot)
            .expect("snapshot loads"),
    );
    for (name, runtime) in [
        ("objectos_js_hook_naive", &js),
        ("objectos_js_hook_snapshot", &js_prepared),
    ] {
        g.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                let out = full
                    .call_script(
                        runtime,
                        "bench_js",
                        &js_limits,
                        true,
                        js_source,
                        &[],
                        &ev.caller,
                        &js_event,
                        None,
                    )
                    .await
                    .expect("call");
                assert!(out.contains("proceed"));
            })
        });
    }

    let mut reused = rt
        .block_on(full.reusable_hook(&component, &limits))
        .expect("instance");
    g.bench_function("objectos_reused_instance", |b| {
        b.iter(|| {
            let out = rt.block_on(reused.call(&ev)).expect("call");
            assert!(matches!(out, HookOutcome::Proceed(Some(_))));
        })
    });
    g.finish();

    let mut g = c.benchmark_group("fuel_epochs");
    g.measurement_time(Duration::from_secs(4));
    for (fuel, epochs) in [(false, false), (true, false), (false, true), (true, true)] {
        let s = sandbox(fuel, epochs);
        let component =
            std::sync::Arc::new(s.load("bench", BodyKind::Hook, &bytes).expect("component"));
        let name = format!(
            "fuel_{}_epochs_{}",
            if fuel { "on" } else { "off" },
            if epochs { "on" } else { "off" }
        );
        g.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                s.call_hook(&component, &limits, &ev, None)
                    .await
                    .expect("call");
            })
        });
    }
    g.finish();
}

/// (f): objects `hooked` (the Wasm before-insert hook), `cel_hooked` (the same work as a CEL hook) and `plain`
/// (none), otherwise identical.
fn create_artifact(bytes: &[u8]) -> Artifact {
    let fields = json!({
        "title": {"type": "text", "label": "Title", "required": true},
        "status": {"type": "text", "label": "Status"},
        "priority": {"type": "text", "label": "Priority"},
        "amount": {"type": "number", "label": "Amount"}
    });
    let mut def = json!({
        "manifest": {"id": "com.objectos.bench", "namespace": "bench", "version": "1.0.0", "type": "app", "name": "bench"},
        "objects": [
            {"name": "hooked", "label": "Hooked", "fields": fields},
            {"name": "cel_hooked", "label": "CEL hooked", "fields": fields},
            {"name": "plain", "label": "Plain", "fields": fields}
        ],
        "hooks": [{"name": "tidy", "object": "hooked", "events": ["beforeInsert"],
                   "body": {"language": "wasm", "componentPath": "hook.wasm"}},
                  {"name": "tidy_cel", "object": "cel_hooked", "events": ["beforeInsert"],
                   "body": {"language": "expression", "source": "{\"title\": trim(record.title), \"status\": \"draft\"}"}}]
    });
    build::inline_components(&mut def, &|_| Ok(bytes.to_vec())).expect("inline");
    Artifact::from_value(def).expect("valid")
}

/// A kernel on a fresh SQLite file.
struct Fixture {
    kernel: std::sync::Arc<Kernel>,
    dir: std::path::PathBuf,
}

fn fixture(rt: &tokio::runtime::Runtime, bytes: &[u8], name: &str) -> Fixture {
    let dir = std::env::temp_dir().join(format!(
        "objectos-bench-sandbox-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let cfg = RuntimeConfig {
        database_url: format!("sqlite://{}", dir.join("bench.db").display()),
        seed_environment: SeedEnvironment::Test,
        ..RuntimeConfig::default()
    };
    let (kernel, _) = rt
        .block_on(Kernel::boot(create_artifact(bytes), &cfg))
        .expect("boot");
    Fixture { kernel, dir }
}

/// (f): one database holding both objects; each measured create of one kind follows an unmeasured create of
/// the other, so both see the same database, threads and caches (A/B interleaved).
fn bench_create(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let bytes = std::fs::read(objectos_guest_artifacts::SAMPLE_HOOKS).expect("component");
    let principal = Principal::user("bench_user", Some("bench_org"));
    let record: Map<String, Value> = serde_json::from_str(INPUT).expect("record");
    let f = fixture(&rt, &bytes, "create");
    let create = |object: &'static str| {
        let kernel = f.kernel.clone();
        let principal = principal.clone();
        let record = record.clone();
        async move {
            kernel
                .execute(
                    &principal,
                    DataOp::Create {
                        object: object.into(),
                        record,
                    },
                )
                .await
                .expect("create");
        }
    };
    // Per-operation medians over interleaved rounds (robust to the bursts of a shared 2-core machine).
    let rounds = 3000;
    let mut times: [Vec<Duration>; 3] = Default::default();
    let kinds = ["plain", "hooked", "cel_hooked"];
    rt.block_on(async {
        for round in 0..rounds {
            for k in 0..3 {
                // Rotate the order so no kind always follows the same one.
                let i = (k + round) % 3;
                let t = std::time::Instant::now();
                create(kinds[i]).await;
                times[i].push(t.elapsed());
            }
        }
    });
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1e6
    };
    let [mut a, mut b, mut c2] = times;
    let (plain, hooked, cel) = (median(&mut a), median(&mut b), median(&mut c2));
    println!(
        "create A/B medians over {rounds} rounds: plain {plain:.1} µs, Wasm before-hook {hooked:.1} µs ({:+.1} %), CEL before-hook {cel:.1} µs ({:+.1} %)",
        (hooked / plain - 1.0) * 100.0,
        (cel / plain - 1.0) * 100.0
    );
    let pairs = [
        ("plain", "hooked"),
        ("hooked", "plain"),
        ("cel_hooked", "plain"),
    ];
    let mut g = c.benchmark_group("create");
    g.measurement_time(Duration::from_secs(8));
    for (measured, other) in pairs {
        g.bench_function(measured, |b| {
            b.to_async(&rt).iter_custom(|iters| async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    create(other).await;
                    let t = std::time::Instant::now();
                    create(measured).await;
                    total += t.elapsed();
                }
                total
            })
        });
    }
    g.finish();
    let _ = std::fs::remove_dir_all(&f.dir);
}

criterion_group!(benches, bench_calls, bench_create);
criterion_main!(benches);
