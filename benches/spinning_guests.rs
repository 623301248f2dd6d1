//! Do spinning guests slow the host down? Boots a real server in-process (its own tokio runtime with as many
//! workers as cores, as `objectos serve` has) whose action `spin` is a JavaScript body `while (true) {}`,
//! then measures `/api/v1/health` latency from a separate client runtime:
//!
//! 1. idle: sequential health checks, nothing else running;
//! 2. loaded: the same, while SPIN_GUESTS (default 32) clients keep a `spin` call each in flight (each call
//!    ends at its 1 s deadline or its fuel, and the client sends the next at once).
//!
//! Prints p50 / p99 / max of both phases. Run: `cargo bench --bench spinning_guests` (the guest components
//! build first). Env: SPIN_GUESTS, HEALTH_SAMPLES (default 300), GUEST_THREADS (the guest pool's threads,
//! default one per core; 0 runs guests on the request workers, sharing them by yielding at each epoch tick).

use objectos_host::artifact::Artifact;
use objectos_host::config::{RuntimeConfig, SeedEnvironment};
use objectos_host::http::AppState;
use objectos_host::kernel::Kernel;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn app() -> serde_json::Value {
    json!({
        "manifest": {"id": "com.objectos.spinbench", "namespace": "sb", "version": "1.0.0", "type": "app", "name": "spin bench"},
        "objects": [{"name": "probe", "label": "Probe", "fields": {"mode": {"type": "text", "label": "Mode"}}}],
        "actions": [{"name": "spin", "label": "Spin", "objectName": "probe", "type": "script",
                     "body": {"language": "js", "source": "while (true) {}", "timeoutMs": 1000}}]
    })
}

/// Starts the server on its own runtime; answers its base URL (the runtime lives as long as the process).
fn start_server() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        rt.block_on(async move {
            let artifact = Artifact::from_value(app()).expect("artifact");
            let config = RuntimeConfig {
                database_url: "sqlite::memory:".into(),
                seed_environment: SeedEnvironment::Test,
                js_runtime: Some(Arc::new(
                    std::fs::read(objectos_guest_artifacts::JS_RUNTIME).expect("JS runtime"),
                )),
                engine: objectos_host::sandbox::EngineConfig {
                    guest_threads: env(
                        "GUEST_THREADS",
                        objectos_host::sandbox::limits::default_guest_threads(),
                    ),
                    ..Default::default()
                },
                ..RuntimeConfig::default()
            };
            let (kernel, _) = Kernel::boot(artifact, &config).await.expect("boots");
            let state = AppState::new(kernel, b"bench-secret-0123456789", Default::default());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let base = format!("http://{}", listener.local_addr().expect("addr"));
            tx.send(base).expect("hand over the address");
            let _ = objectos_host::http::serve(listener, state, std::future::pending()).await;
        });
    });
    rx.recv().expect("the server starts")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label:<28} n={:<4} p50={:>8.2} ms  p99={:>8.2} ms  max={:>8.2} ms",
        samples.len(),
        ms(percentile(&samples, 0.50)),
        ms(percentile(&samples, 0.99)),
        ms(percentile(&samples, 1.0)),
    );
}

async fn health_samples(http: &reqwest::Client, base: &str, n: usize) -> Vec<Duration> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let r = http
            .get(format!("{base}/api/v1/health"))
            .send()
            .await
            .expect("health");
        let _ = r.bytes().await;
        out.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    out
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument that is not ours means another bench was asked for.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with("--") && !"spinning_guests".contains(a.as_str()))
    {
        return;
    }
    let guests = env("SPIN_GUESTS", 32);
    let samples = env("HEALTH_SAMPLES", 300);
    let base = start_server();
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("client runtime");
    client.block_on(async move {
        let http = reqwest::Client::new();
        let r = http
            .post(format!("{base}/api/v1/auth/sign-up/email"))
            .json(&json!({"email": "bench@example.com", "password": "correct horse battery", "name": "Bench"}))
            .send()
            .await
            .expect("sign up");
        let token = r
            .headers()
            .get("set-auth-token")
            .and_then(|v| v.to_str().ok())
            .expect("token")
            .to_string();
        // Warm up: the JS runtime is compiled on the first call.
        let r = http
            .post(format!("{base}/api/v1/actions/probe/spin"))
            .bearer_auth(&token)
            .json(&json!({}))
            .send()
            .await
            .expect("spin");
        println!("one spin call answers {}", r.status());

        report("health, idle", health_samples(&http, &base, samples).await);

        let stop = Arc::new(AtomicBool::new(false));
        let calls = Arc::new(AtomicUsize::new(0));
        let mut spinners = Vec::new();
        for _ in 0..guests {
            let (http, base, token, stop, calls) = (
                http.clone(),
                base.clone(),
                token.clone(),
                stop.clone(),
                calls.clone(),
            );
            spinners.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let _ = http
                        .post(format!("{base}/api/v1/actions/probe/spin"))
                        .bearer_auth(&token)
                        .json(&json!({}))
                        .send()
                        .await;
                    calls.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        // Let every spinner get its first call in flight.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let loaded = health_samples(&http, &base, samples).await;
        stop.store(true, Ordering::Relaxed);
        report(&format!("health, {guests} spinning guests"), loaded);
        println!(
            "spin calls answered meanwhile: {}",
            calls.load(Ordering::Relaxed)
        );
        for s in spinners {
            let _ = s.await;
        }
    });
}
