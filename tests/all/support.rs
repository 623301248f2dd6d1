//! Shared test setup: fixtures, and kernels booted on a real SQLite or a real PostgreSQL.

#![allow(dead_code)]

use objectos_host::artifact::Artifact;
use objectos_host::config::{RuntimeConfig, SeedEnvironment};
use objectos_host::data::{DataError, Record};
use objectos_host::kernel::{DataOp, Kernel, OpResult, Principal};
use serde_json::{Value, json};
use std::path::PathBuf;

pub fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// `../shared/fixtures/upstream`, when present beside the repository.
pub fn upstream_fixtures() -> Option<PathBuf> {
    let p = repo_path("../shared/fixtures/upstream");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipped: ../shared/fixtures not present");
        None
    }
}

pub fn fixture_json(rel: &str) -> Value {
    let text =
        std::fs::read_to_string(repo_path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {rel}: {e}"))
}

pub fn testapp() -> Value {
    fixture_json("tests/fixtures/testapp.json")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub const PG_BASE: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A fresh, empty database for one test: an in-memory SQLite, or a PostgreSQL schema named after the test
/// (dropped first, so reruns start clean and parallel tests never share tables).
pub async fn database_url(db: Db, test: &str) -> String {
    match db {
        Db::Sqlite => "sqlite::memory:".to_string(),
        Db::Postgres => {
            let schema = format!(
                "t_{}",
                test.trim_start_matches("all::")
                    .replace("::", "_")
                    .replace('-', "_")
            )
            .to_lowercase();
            drop_pg_schema(&schema).await;
            format!("{PG_BASE}?schema={schema}")
        }
    }
}

pub async fn drop_pg_schema(schema: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(PG_BASE)
        .await
        .expect("PostgreSQL must run on 127.0.0.1:5432 (the README test command starts it)");
    sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .execute(&mut conn)
        .await
        .expect("drop schema");
}

pub fn config(url: String) -> RuntimeConfig {
    RuntimeConfig {
        database_url: url,
        seed_environment: SeedEnvironment::Test,
        max_connections: 4,
        shared_sandbox: Some(shared_sandbox()),
        ..RuntimeConfig::default()
    }
}

/// One Wasm engine for the whole test binary (each kernel gets its own limits on it).
pub fn shared_sandbox() -> objectos_host::sandbox::Sandbox {
    static SANDBOX: std::sync::OnceLock<objectos_host::sandbox::Sandbox> =
        std::sync::OnceLock::new();
    SANDBOX
        .get_or_init(|| {
            objectos_host::sandbox::Sandbox::new(Default::default(), Default::default())
                .expect("the Wasm engine starts")
        })
        .clone()
}

/// The JavaScript runtime component, built from plugins/js-runtime.
pub fn js_runtime() -> std::sync::Arc<Vec<u8>> {
    static BYTES: std::sync::OnceLock<std::sync::Arc<Vec<u8>>> = std::sync::OnceLock::new();
    BYTES
        .get_or_init(|| {
            std::sync::Arc::new(
                std::fs::read(objectos_guest_artifacts::JS_RUNTIME)
                    .expect("the JS runtime component"),
            )
        })
        .clone()
}

pub async fn boot(db: Db, test: &str, artifact: Value) -> std::sync::Arc<Kernel> {
    let artifact = Artifact::from_value(artifact).expect("artifact is valid");
    let url = database_url(db, test).await;
    let (kernel, _) = Kernel::boot(artifact, &config(url))
        .await
        .expect("kernel boots");
    // Alice's organization adopts the seed rows, as the first administrator's does at sign-up.
    kernel
        .adopt_unowned_rows("org_one", "user_alice")
        .await
        .expect("adopt seeds");
    kernel
}

/// One plugin to sign and the trust policy's grant for it.
pub struct PluginSpec<'a> {
    pub file: &'a str,
    pub component: &'a str,
    pub manifest: Value,
    pub grant: &'a str,
}

/// Signs each plugin with one vendor key into a fresh directory, writes the trust policy, and admits them.
pub fn admit_plugins(
    test: &str,
    specs: &[PluginSpec<'_>],
) -> Vec<objectos_host::plugins::loader::AdmittedPlugin> {
    // A folder per call: tests admitting plugins run side by side.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("objectos-{test}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let vendor = objectos_host::plugins::signature::SecretKey::generate().unwrap();
    let public = vendor.public_key();
    let mut policy = format!(
        "[[keys]]\nkey_id = \"{}\"\npublic_key = \"{}\"\nplugins = [\"com.example.*\"]\n\n",
        public.key_id(),
        hex::encode(public.0)
    );
    for spec in specs {
        let bytes = std::fs::read(spec.component).unwrap();
        let with_manifest = objectos_host::plugins::signature::with_custom_section(
            &bytes,
            objectos_host::plugins::manifest::MANIFEST_SECTION,
            spec.manifest.to_string().as_bytes(),
        )
        .unwrap();
        let signed = objectos_host::plugins::signature::sign(&with_manifest, &vendor).unwrap();
        std::fs::write(dir.join(spec.file), signed).unwrap();
        policy.push_str(spec.grant);
        policy.push('\n');
    }
    let policy = objectos_host::plugins::trust::TrustPolicy::parse(&policy).expect("policy parses");
    objectos_host::plugins::loader::admit_dir(&objectos_host::plugins::loader::LoadOptions {
        dir: &dir,
        policy: &policy,
        allow_unsigned: false,
        skip_bad: false,
        now: chrono::Utc::now(),
    })
    .expect("plugins admitted")
    .plugins
}

/// testapp with `t_item` stored by the KV driver plugin (plugins/kv-driver), signed and admitted; the other
/// objects stay in SQL.
pub fn kv_testapp() -> (Value, Vec<objectos_host::plugins::loader::AdmittedPlugin>) {
    let mut app = testapp();
    app["datasources"] = json!([{"name": "kv", "driver": "com.example.kv"}]);
    if let Some(objects) = app["objects"].as_array_mut() {
        for o in objects.iter_mut().filter(|o| o["name"] == "t_item") {
            o["datasource"] = json!("kv");
        }
    }
    let plugins = admit_plugins(
        "kv",
        &[PluginSpec {
            file: "kv.wasm",
            component: objectos_guest_artifacts::KV_DRIVER,
            manifest: json!({"id": "com.example.kv", "version": "1.0.0", "kind": "driver"}),
            grant: "",
        }],
    );
    (app, plugins)
}

/// `boot` with the KV driver plugin serving `t_item` (SQLite for the rest).
pub async fn boot_kv(test: &str) -> std::sync::Arc<Kernel> {
    let (app, plugins) = kv_testapp();
    let artifact = Artifact::from_value(app).expect("artifact is valid");
    let url = database_url(Db::Sqlite, test).await;
    let mut cfg = config(url);
    cfg.plugins = plugins;
    let (kernel, _) = Kernel::boot(artifact, &cfg).await.expect("kernel boots");
    kernel
        .adopt_unowned_rows("org_one", "user_alice")
        .await
        .expect("adopt seeds");
    kernel
}

pub fn alice() -> Principal {
    Principal::user("user_alice", Some("org_one"))
}

/// Test conveniences over `Kernel::execute`.
pub struct K<'a>(pub &'a Kernel);

impl K<'_> {
    pub async fn create(&self, object: &str, record: Value) -> Result<Record, DataError> {
        let record = record.as_object().cloned().expect("record is an object");
        match self
            .0
            .execute(
                &alice(),
                DataOp::Create {
                    object: object.into(),
                    record,
                },
            )
            .await?
        {
            OpResult::Record(r) => Ok(r),
            other => panic!("unexpected {other:?}"),
        }
    }

    pub async fn ok(&self, object: &str, record: Value) -> Record {
        self.create(object, record.clone())
            .await
            .unwrap_or_else(|e| panic!("create {object} {record}: {e}"))
    }

    pub async fn query(
        &self,
        object: &str,
        q: Value,
    ) -> Result<(Vec<Record>, Option<u64>, bool), DataError> {
        let query = self.0.parse_query(&alice(), object, &q)?;
        match self
            .0
            .execute(
                &alice(),
                DataOp::Find {
                    object: object.into(),
                    query,
                },
            )
            .await?
        {
            OpResult::List {
                records,
                total,
                has_more,
            } => Ok((records, total, has_more)),
            other => panic!("unexpected {other:?}"),
        }
    }

    pub async fn find(&self, object: &str, q: Value) -> Vec<Record> {
        self.query(object, q.clone())
            .await
            .unwrap_or_else(|e| panic!("query {object} {q}: {e}"))
            .0
    }

    /// The values of one field over a sorted query.
    pub async fn names(&self, object: &str, filter: Value) -> Vec<String> {
        self.find(
            object,
            json!({ "where": filter, "orderBy": [{ "field": "name", "order": "asc" }] }),
        )
        .await
        .iter()
        .map(|r| r["name"].as_str().unwrap_or_default().to_string())
        .collect()
    }

    pub async fn get(&self, object: &str, id: &str) -> Result<Record, DataError> {
        match self
            .0
            .execute(
                &alice(),
                DataOp::Get {
                    object: object.into(),
                    id: id.into(),
                    query: Default::default(),
                },
            )
            .await?
        {
            OpResult::Record(r) => Ok(r),
            other => panic!("unexpected {other:?}"),
        }
    }

    pub async fn update(
        &self,
        object: &str,
        id: &str,
        patch: Value,
        expected: Option<&str>,
    ) -> Result<Record, DataError> {
        let patch = patch.as_object().cloned().expect("patch is an object");
        let op = DataOp::Update {
            object: object.into(),
            id: id.into(),
            patch,
            expected_version: expected.map(str::to_string),
        };
        match self.0.execute(&alice(), op).await? {
            OpResult::Updated { record, .. } => Ok(record),
            other => panic!("unexpected {other:?}"),
        }
    }

    pub async fn delete(&self, object: &str, id: &str) -> Result<(), DataError> {
        self.0
            .execute(
                &alice(),
                DataOp::Delete {
                    object: object.into(),
                    id: id.into(),
                    expected_version: None,
                },
            )
            .await
            .map(|_| ())
    }
}

pub fn id_of(r: &Record) -> String {
    r["id"].as_str().expect("record has an id").to_string()
}

/// The wire body of an error, for asserting codes, fields and messages.
pub fn wire(e: &DataError) -> Value {
    e.to_wire()
}

/// Runs the same async test body once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_drivers {
    ($name:ident, |$k:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($k: $crate::support::K<'_>) $body
            #[tokio::test]
            async fn sqlite() {
                let kernel = $crate::support::boot($crate::support::Db::Sqlite, module_path!(), $crate::support::testapp()).await;
                run($crate::support::K(&kernel)).await;
            }
            #[tokio::test]
            async fn postgres() {
                let kernel = $crate::support::boot($crate::support::Db::Postgres, module_path!(), $crate::support::testapp()).await;
                run($crate::support::K(&kernel)).await;
            }
        }
    };
}

/// `on_both_drivers!`, and once more with `t_item` stored by the KV driver plugin: the same scenario, the same
/// expected answers.
#[macro_export]
macro_rules! on_all_drivers {
    ($name:ident, |$k:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($k: $crate::support::K<'_>) $body
            #[tokio::test]
            async fn sqlite() {
                let kernel = $crate::support::boot($crate::support::Db::Sqlite, module_path!(), $crate::support::testapp()).await;
                run($crate::support::K(&kernel)).await;
            }
            #[tokio::test]
            async fn postgres() {
                let kernel = $crate::support::boot($crate::support::Db::Postgres, module_path!(), $crate::support::testapp()).await;
                run($crate::support::K(&kernel)).await;
            }
            #[tokio::test]
            async fn kv_driver_plugin() {
                let kernel = $crate::support::boot_kv(module_path!()).await;
                run($crate::support::K(&kernel)).await;
            }
        }
    };
}

/// A real objectos server on 127.0.0.1 (random port), with a kernel on the given database.
pub struct Server {
    pub base: String,
    pub http: reqwest::Client,
    pub kernel: std::sync::Arc<Kernel>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body.get("code").and_then(Value::as_str).unwrap_or("")
    }
}

pub async fn start_server(
    db: Db,
    test: &str,
    artifact: Value,
    http: objectos_host::http::HttpConfig,
) -> Server {
    start_server_with(db, test, artifact, http, |_| {}).await
}

/// `start_server` with changes to the runtime configuration (sandbox limits, …).
pub async fn start_server_with(
    db: Db,
    test: &str,
    artifact: Value,
    http: objectos_host::http::HttpConfig,
    adjust: impl FnOnce(&mut RuntimeConfig),
) -> Server {
    start_server_state(db, test, artifact, http, adjust).await.0
}

/// `start_server_with`, also handing back the server's state (its auth service, for test hooks).
pub async fn start_server_state(
    db: Db,
    test: &str,
    artifact: Value,
    http: objectos_host::http::HttpConfig,
    adjust: impl FnOnce(&mut RuntimeConfig),
) -> (Server, objectos_host::http::Shared) {
    let artifact = Artifact::from_value(artifact).expect("artifact is valid");
    let url = database_url(db, test).await;
    let mut cfg = config(url);
    adjust(&mut cfg);
    let (kernel, _) = Kernel::boot(artifact, &cfg).await.expect("kernel boots");
    let state = objectos_host::http::AppState::new(kernel.clone(), b"test-secret-0123456789", http);
    let shared = state.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = objectos_host::http::serve(listener, state, async move {
            let _ = rx.await;
        })
        .await;
    });
    let server = Server {
        base,
        http: reqwest::Client::new(),
        kernel,
        shutdown: Some(tx),
    };
    (server, shared)
}

impl Server {
    /// One request; `body` is sent as JSON when it is not null.
    pub async fn call(&self, method: &str, path: &str, body: Value, token: Option<&str>) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if !body.is_null() {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            body,
            headers,
        }
    }

    /// An administrator creates a user with these positions; the user signs in and replaces the initial
    /// password (as it must before touching data). Returns the user's token and id.
    pub async fn create_user(
        &self,
        admin: &str,
        email: &str,
        positions: &[&str],
    ) -> (String, String) {
        let r = self
            .call(
                "POST",
                "/api/v1/auth/admin/create-user",
                json!({"email": email, "password": "Initial-123456", "name": email, "positions": positions}),
                Some(admin),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let r = self
            .call(
                "POST",
                "/api/v1/auth/sign-in/email",
                json!({"email": email, "password": "Initial-123456"}),
                None,
            )
            .await;
        let token = r.body["token"].as_str().expect("token").to_string();
        let id = r.body["user"]["id"].as_str().expect("user id").to_string();
        let r = self
            .call(
                "POST",
                "/api/v1/auth/change-password",
                json!({"currentPassword": "Initial-123456", "newPassword": "Chosen-123456"}),
                Some(&token),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        (token, id)
    }

    /// Signs up (the first user becomes admin) and returns the signed token from `set-auth-token`.
    pub async fn sign_up(&self, email: &str, password: &str) -> String {
        let r = self
            .call(
                "POST",
                "/api/v1/auth/sign-up/email",
                json!({"email": email, "password": password, "name": "Admin"}),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.headers
            .get("set-auth-token")
            .and_then(|v| v.to_str().ok())
            .expect("set-auth-token")
            .to_string()
    }
}

/// Runs the same async HTTP test once against a server on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_servers {
    ($name:ident, $artifact:expr, |$s:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($s: $crate::support::Server) $body
            #[tokio::test]
            async fn sqlite() {
                run($crate::support::start_server($crate::support::Db::Sqlite, "", $artifact, Default::default()).await).await;
            }
            #[tokio::test]
            async fn postgres() {
                run($crate::support::start_server($crate::support::Db::Postgres, module_path!(), $artifact, Default::default()).await).await;
            }
        }
    };
}
