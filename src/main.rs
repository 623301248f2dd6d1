//! The `objectos` command line: serve an artifact, verify or inspect one.

use clap::{Args, Parser, Subcommand, ValueEnum};

mod plugin_cli;
use objectos_host::artifact::{Artifact, ArtifactError, ArtifactSource, FetchPolicy, inspect};
use objectos_host::config::{RuntimeConfig, SeedEnvironment, default_database_url};
use objectos_host::http::{AppState, HttpConfig};
use objectos_host::kernel::Kernel;
use std::process::ExitCode;
use std::sync::Arc;

fn rand_bytes(buf: &mut [u8]) {
    use ring::rand::SecureRandom;
    let _ = ring::rand::SystemRandom::new().fill(buf);
}

#[derive(Parser)]
#[command(
    name = "objectos",
    version,
    about = "Serve a compiled ObjectStack artifact as a permissioned backend"
)]
struct Cli {
    /// Log format.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "OS_LOG_FORMAT"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Load and validate the artifact, sync the database schema, apply seeds, and serve.
    Serve(Box<ServeArgs>),
    /// Work with artifacts without serving them.
    #[command(subcommand)]
    Artifact(ArtifactCommand),
    /// Sign and check third-party plugins.
    #[command(subcommand)]
    Plugin(plugin_cli::PluginCommand),
}

#[derive(Args)]
struct ServeArgs {
    /// Artifact path or URL (file://, http(s)://), optionally pinned with #sha256=<64 hex>.
    #[arg(value_name = "ARTIFACT")]
    positional: Option<String>,
    /// Artifact path (same as the positional argument).
    #[arg(
        long = "artifact",
        env = "OS_ARTIFACT_PATH",
        conflicts_with = "positional"
    )]
    artifact: Option<String>,
    /// Artifact URL (file://, http://, https://), optionally with #sha256=<64 hex>.
    #[arg(long = "artifact-url", env = "OS_ARTIFACT_URL")]
    artifact_url: Option<String>,
    /// Accept an unpinned plain-http:// artifact URL to a host that is not loopback (its bytes can be swapped
    /// in transit; prefer https:// or a #sha256= pin).
    #[arg(long, env = "OS_ALLOW_INSECURE_ARTIFACT_URL")]
    allow_insecure_artifact_url: bool,
    /// Seconds a whole artifact fetch may take (connecting: at most 10 of them).
    #[arg(long, env = "OS_ARTIFACT_FETCH_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    artifact_fetch_timeout_secs: u64,
    /// Largest artifact fetched from a URL, in bytes.
    #[arg(long, env = "OS_ARTIFACT_MAX_BYTES", default_value_t = 64 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1..))]
    artifact_max_bytes: u64,
    /// Database: sqlite://path (created on first run) or postgres://user@host/db.
    #[arg(long, env = "OS_DATABASE_URL", default_value_t = default_database_url())]
    database_url: String,
    /// Address to listen on.
    #[arg(long, env = "OS_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on.
    #[arg(short, long, env = "OS_PORT", default_value_t = 3000)]
    port: u16,
    /// Which seed sets (`data[].env`) apply: prod, dev or test.
    #[arg(long = "env", env = "OS_ENV", default_value = "prod", value_parser = parse_env)]
    seed_env: SeedEnvironment,
    /// Apply schema changes that destroy data (retyped columns, dropped fields that hold data).
    #[arg(long, env = "OS_ALLOW_DESTRUCTIVE_MIGRATIONS")]
    allow_destructive_migrations: bool,
    /// Database pool size.
    #[arg(long, env = "OS_DB_MAX_CONNECTIONS", default_value_t = 8)]
    max_connections: u32,
    /// Secret that signs session tokens (required unless --dev).
    #[arg(long, env = "OS_AUTH_SECRET", hide_env_values = true)]
    auth_secret: Option<String>,
    /// Development mode: without OS_AUTH_SECRET, generate an ephemeral one (sessions do not survive a restart).
    #[arg(long, env = "OS_DEV")]
    dev: bool,
    /// Let anyone sign up after the first user (by default only administrators create users).
    #[arg(long, env = "OS_OPEN_SIGNUP")]
    open_signup: bool,
    /// Page size of a list without `limit`.
    #[arg(long, env = "OS_DEFAULT_PAGE_SIZE", default_value_t = 100)]
    default_page_size: u64,
    /// Largest `limit` honoured (larger ones are clamped).
    #[arg(long, env = "OS_MAX_PAGE_SIZE", default_value_t = 1000)]
    max_page_size: u64,
    /// Largest request body in bytes.
    #[arg(long, env = "OS_BODY_LIMIT", default_value_t = 1024 * 1024)]
    body_limit: usize,
    /// Seconds a client has to finish a request's head after its first byte (then the connection is closed).
    #[arg(long, env = "OS_HTTP_HEADER_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    http_header_timeout_secs: u64,
    /// Seconds an idle keep-alive connection (or a new one that sends nothing) stays open.
    #[arg(long, env = "OS_HTTP_IDLE_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    http_idle_timeout_secs: u64,
    /// Seconds a request may take before it is answered 503 REQUEST_TIMEOUT.
    #[arg(long, env = "OS_HTTP_REQUEST_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    http_request_timeout_secs: u64,
    /// Open HTTP connections at most; one more is answered 503 TOO_MANY_CONNECTIONS and closed.
    #[arg(long, env = "OS_HTTP_MAX_CONNECTIONS", default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    http_max_connections: u64,
    /// Boot (validate, migrate, seed), print the report and exit instead of serving.
    #[arg(long)]
    check: bool,

    #[command(flatten)]
    sandbox: SandboxArgs,

    #[command(flatten)]
    auth: AuthArgs,

    /// Directory of signed plugin components (`*.wasm`), each checked against --trust at start-up.
    #[arg(long, env = "OS_PLUGINS_DIR")]
    plugins: Option<String>,
    /// The operator's trust policy (TOML): trusted keys and grants per plugin id.
    #[arg(long, env = "OS_TRUST_POLICY")]
    trust: Option<String>,
    /// DEVELOPMENT ONLY: admit unsigned plugins (warned at every start).
    #[arg(long)]
    allow_unsigned: bool,
    /// Start without the plugins that are refused (each refusal logged as an error) instead of not starting.
    #[arg(long)]
    skip_bad_plugins: bool,
}

fn parse_env(s: &str) -> Result<SeedEnvironment, String> {
    SeedEnvironment::parse(s).ok_or_else(|| format!("'{s}' is not prod, dev or test"))
}

#[derive(Subcommand)]
enum ArtifactCommand {
    /// Build an envelope from a definition: inline the Wasm components its bodies name (`componentPath`),
    /// set the checksum. The same inputs give byte-identical output.
    Build {
        /// The definition JSON (a bare ObjectStack definition).
        definition: String,
        /// Where to write the envelope ("-" for stdout).
        #[arg(short, long, default_value = "-")]
        out: String,
        /// Resolve `componentPath`s in this directory (default: the definition's directory).
        #[arg(long)]
        components: Option<String>,
        #[arg(long, default_value = "local")]
        environment_id: String,
        /// Default: the first 12 characters of the checksum.
        #[arg(long)]
        commit_id: Option<String>,
        /// Recorded as `builtAt` (left out unless given, so that builds are reproducible).
        #[arg(long)]
        built_at: Option<String>,
    },
    /// Check an artifact; print every problem with its JSON path. Exit status 2 when it is broken.
    Verify {
        /// Path or URL, optionally pinned with #sha256=<64 hex>.
        source: String,
    },
    /// Show what an artifact contains and what this build cannot run yet.
    Inspect {
        /// Path or URL, optionally pinned with #sha256=<64 hex>.
        source: String,
    },
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Prints an artifact refusal and returns exit status 2.
fn refuse(source: &str, e: &ArtifactError) -> ExitCode {
    match e {
        ArtifactError::Invalid(problems) => {
            eprintln!("{source}: ARTIFACT_INVALID, {} problem(s):", problems.len());
            for p in problems {
                eprintln!("  {p}");
            }
        }
        other => eprintln!("{source}: {other}"),
    }
    ExitCode::from(2)
}

async fn load(spec: &str) -> Result<Artifact, ArtifactError> {
    load_with(spec, FetchPolicy::default()).await
}

async fn load_with(spec: &str, policy: FetchPolicy) -> Result<Artifact, ArtifactError> {
    let source = ArtifactSource::parse_with(spec, policy)?;
    Artifact::load(&source).await
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match cli.command {
        Command::Artifact(ArtifactCommand::Verify { source }) => match load(&source).await {
            Ok(artifact) => {
                println!(
                    "{source}: OK ({} objects, canonical sha256 {})",
                    artifact.definition.objects.len(),
                    artifact.canonical_sha256
                );
                for w in &artifact.warnings {
                    println!("  warning: {w}");
                }
                let unrunnable = inspect::unrunnable_handlers(&artifact);
                if !unrunnable.is_empty() {
                    println!(
                        "  {} handler(s) cannot run in this build:",
                        unrunnable.len()
                    );
                    for u in unrunnable {
                        println!("    {} {}: {}", u.kind, u.name, u.reason);
                    }
                }
                ExitCode::SUCCESS
            }
            Err(e) => refuse(&source, &e),
        },
        Command::Artifact(ArtifactCommand::Inspect { source }) => match load(&source).await {
            Ok(artifact) => {
                print!("{}", inspect::render(&artifact));
                ExitCode::SUCCESS
            }
            Err(e) => refuse(&source, &e),
        },
        Command::Artifact(ArtifactCommand::Build {
            definition,
            out,
            components,
            environment_id,
            commit_id,
            built_at,
        }) => build_artifact(
            &definition,
            &out,
            components.as_deref(),
            &environment_id,
            commit_id.as_deref(),
            built_at.as_deref(),
        ),
        Command::Serve(args) => serve(*args).await,
        Command::Plugin(command) => plugin_cli::run(command),
    }
}

/// Checks the plugins directory against the trust policy; the kernel then loads and starts the admitted ones.
fn admit_plugins(
    dir: Option<&str>,
    trust: Option<&str>,
    allow_unsigned: bool,
    skip_bad: bool,
) -> Result<Vec<objectos_host::plugins::loader::AdmittedPlugin>, String> {
    use objectos_host::plugins::{loader, trust::TrustPolicy};
    let Some(dir) = dir else {
        return Ok(Vec::new());
    };
    if allow_unsigned {
        eprintln!(
            "WARNING: --allow-unsigned: unsigned plugins will be admitted. Never use this in production."
        );
        tracing::warn!("--allow-unsigned: unsigned plugins are admitted (development only)");
    }
    let policy = match trust {
        Some(path) => {
            TrustPolicy::parse(&std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?)
                .map_err(|e| format!("{path}: {e}"))?
        }
        None if allow_unsigned => TrustPolicy::default(),
        None => return Err("--plugins needs --trust POLICY.toml (default deny)".into()),
    };
    let loaded = loader::admit_dir(&loader::LoadOptions {
        dir: std::path::Path::new(dir),
        policy: &policy,
        allow_unsigned,
        skip_bad,
        now: chrono::Utc::now(),
    })?;
    for s in &loaded.skipped {
        eprintln!("objectos serve: plugin left out (--skip-bad-plugins): {s}");
    }
    for p in &loaded.plugins {
        tracing::info!(
            plugin = %p.status.id,
            version = %p.status.version,
            signed_by = p.status.signed_by.as_deref().unwrap_or("unsigned"),
            "plugin admitted"
        );
    }
    Ok(loaded.plugins)
}

fn build_artifact(
    definition: &str,
    out: &str,
    components: Option<&str>,
    environment_id: &str,
    commit_id: Option<&str>,
    built_at: Option<&str>,
) -> ExitCode {
    use objectos_host::artifact::build;
    let text = match std::fs::read_to_string(definition) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{definition}: cannot read: {e}");
            return ExitCode::from(2);
        }
    };
    let mut value: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{definition}: not JSON: {e}");
            return ExitCode::from(2);
        }
    };
    let base = match components {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::path::Path::new(definition)
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_default(),
    };
    let read = |name: &str| {
        let path = base.join(name);
        std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let inlined = match build::inline_components(&mut value, &read) {
        Ok(n) => n,
        Err(problems) => {
            eprintln!("{definition}: cannot build:");
            for p in problems {
                eprintln!("  {p}");
            }
            return ExitCode::from(2);
        }
    };
    let envelope = match build::envelope(value, environment_id, commit_id, built_at) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{definition}: {e}");
            return ExitCode::from(2);
        }
    };
    // Refuse to write an artifact that `serve` would refuse.
    if let Err(e) = Artifact::from_value(envelope.clone()) {
        return refuse(definition, &e);
    }
    let mut text = serde_json::to_string_pretty(&envelope).unwrap_or_default();
    text.push('\n');
    let written = if out == "-" {
        use std::io::Write;
        std::io::stdout().write_all(text.as_bytes())
    } else {
        std::fs::write(out, &text)
    };
    match written {
        Ok(()) => {
            if out != "-" {
                eprintln!(
                    "{out}: {} component(s) inlined, checksum {}",
                    inlined,
                    envelope["checksum"].as_str().unwrap_or("")
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{out}: cannot write: {e}");
            ExitCode::from(2)
        }
    }
}

async fn serve(mut args: ServeArgs) -> ExitCode {
    let started = std::time::Instant::now();
    // The secret is checked before anything touches the database (a `--check` boot needs none).
    let secret = match (args.auth_secret.take(), args.dev) {
        (Some(s), _) if s.len() >= 16 => s.into_bytes(),
        // `--check` exits before serving: nothing is signed.
        (None, _) if args.check => Vec::new(),
        (Some(_), _) => {
            eprintln!("objectos serve: OS_AUTH_SECRET must be at least 16 characters");
            return ExitCode::from(2);
        }
        (None, true) => {
            tracing::warn!(
                "--dev: no OS_AUTH_SECRET, using an ephemeral secret; sessions end when the server stops"
            );
            let mut bytes = [0u8; 32];
            rand_bytes(&mut bytes);
            bytes.to_vec()
        }
        (None, false) => {
            eprintln!(
                "objectos serve: OS_AUTH_SECRET is not set. Set it (16+ characters) to sign sessions, or pass --dev for an ephemeral one."
            );
            return ExitCode::from(2);
        }
    };
    let trusted_proxies = match args.auth.trusted_proxies() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("objectos serve: --trusted-proxy: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(spec) = args.positional.or(args.artifact).or(args.artifact_url) else {
        eprintln!(
            "objectos serve: no artifact given (pass a path, --artifact, --artifact-url, OS_ARTIFACT_PATH or OS_ARTIFACT_URL)"
        );
        return ExitCode::from(2);
    };
    let policy = FetchPolicy {
        timeout: std::time::Duration::from_secs(args.artifact_fetch_timeout_secs),
        connect_timeout: std::time::Duration::from_secs(args.artifact_fetch_timeout_secs.min(10)),
        max_bytes: args.artifact_max_bytes,
        allow_insecure_http: args.allow_insecure_artifact_url,
    };
    let artifact = match load_with(&spec, policy).await {
        Ok(a) => a,
        Err(e) => return refuse(&spec, &e),
    };
    for w in &artifact.warnings {
        tracing::warn!("artifact: {w}");
    }
    for u in inspect::unrunnable_handlers(&artifact) {
        if args.sandbox.js_runtime.is_some() && u.reason == inspect::JS_NEEDS_RUNTIME {
            continue;
        }
        tracing::warn!(
            "{} {} cannot run in this build: {}",
            u.kind,
            u.name,
            u.reason
        );
    }
    let plugins = match admit_plugins(
        args.plugins.as_deref(),
        args.trust.as_deref(),
        args.allow_unsigned,
        args.skip_bad_plugins,
    ) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("objectos serve: {e}");
            return ExitCode::from(2);
        }
    };
    let config = RuntimeConfig {
        database_url: args.database_url,
        allow_destructive_migrations: args.allow_destructive_migrations,
        seed_environment: args.seed_env,
        max_connections: args.max_connections,
        sandbox: args.sandbox.limits(),
        engine: args.sandbox.engine(),
        shared_sandbox: None,
        js_runtime: None,
        plugins,
        skip_bad_plugins: args.skip_bad_plugins,
        max_page_size: args.max_page_size.max(1),
    };
    let config = match &args.sandbox.js_runtime {
        Some(path) => match std::fs::read(path) {
            Ok(bytes) => RuntimeConfig {
                js_runtime: Some(Arc::new(bytes)),
                ..config
            },
            Err(e) => {
                eprintln!("objectos serve: cannot read the JS runtime {path}: {e}");
                return ExitCode::from(2);
            }
        },
        None => config,
    };
    let (kernel, report) = match Kernel::boot(artifact, &config).await {
        Ok(k) => k,
        Err(e) => {
            eprintln!("objectos serve: {} ({})", e, e.code());
            return ExitCode::from(2);
        }
    };
    tracing::info!(
        objects = kernel.catalog().public_objects().count(),
        driver = kernel.driver_name(),
        "schema: {}; seeds: {} inserted, {} updated, {} unchanged",
        report.schema,
        report.seeds.inserted,
        report.seeds.updated,
        report.seeds.unchanged
    );
    for s in &report.seeds.skipped {
        tracing::info!("seed skipped: {s}");
    }
    if args.check {
        println!(
            "boot OK: {} objects on {}; {}; plugins: {}",
            kernel.catalog().public_objects().count(),
            kernel.driver_name(),
            report.schema,
            plugin_summary(&kernel)
        );
        kernel.stop_plugins().await;
        return ExitCode::SUCCESS;
    }
    let http = HttpConfig {
        default_page_size: args.default_page_size,
        max_page_size: args.max_page_size.max(1),
        body_limit: args.body_limit,
        open_signup: args.open_signup,
        header_timeout: std::time::Duration::from_secs(args.http_header_timeout_secs),
        idle_timeout: std::time::Duration::from_secs(args.http_idle_timeout_secs),
        request_timeout: std::time::Duration::from_secs(args.http_request_timeout_secs),
        max_connections: usize::try_from(args.http_max_connections).unwrap_or(512),
        auth: args.auth.limits(),
        trusted_proxies,
        secure_cookies: args.auth.secure_cookies,
    };
    let state = AppState::new(kernel, &secret, http);
    if let Err(e) = state.auth.adopt_seeds().await {
        eprintln!("objectos serve: cannot assign seed rows to the default organization: {e}");
        return ExitCode::from(2);
    }
    let addr = format!("{}:{}", args.host, args.port);
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("objectos serve: cannot listen on {addr}: {e}");
            return ExitCode::from(2);
        }
    };
    tracing::info!(
        "listening on http://{addr} (ready {:.0} ms after start)",
        started.elapsed().as_secs_f64() * 1000.0
    );
    // Ctrl-C, or SIGTERM (what service managers send): serve the requests under way, then stop the plugins.
    let shutdown = async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    };
    let kernel = state.kernel.clone();
    let served = objectos_host::http::serve(listener, state, shutdown).await;
    kernel.stop_plugins().await;
    if let Err(e) = served {
        eprintln!("objectos serve: {e}");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// `id status` of each plugin, for `serve --check`.
fn plugin_summary(kernel: &Kernel) -> String {
    let statuses = kernel.plugins().statuses();
    if statuses.is_empty() {
        return "none".into();
    }
    statuses
        .iter()
        .map(|p| format!("{} {}", p.id, p.status))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Authentication limits, proxies and cookies; see the README's authentication section.
#[derive(clap::Args, Debug)]
struct AuthArgs {
    /// Failed sign-ins per client IP in the failure window before 429 (attempts in flight count too).
    #[arg(long, env = "OS_SIGNIN_MAX_FAILURES_PER_IP", default_value_t = 20)]
    signin_max_failures_per_ip: usize,
    /// Failed sign-ins per account (email) in the failure window before 429.
    #[arg(long, env = "OS_SIGNIN_MAX_FAILURES_PER_ACCOUNT", default_value_t = 5)]
    signin_max_failures_per_account: usize,
    /// Wrong current passwords per user on change-password in the failure window before 429.
    #[arg(long, env = "OS_PASSWORD_CHANGE_MAX_FAILURES", default_value_t = 5)]
    password_change_max_failures: usize,
    /// The failure window, in seconds.
    #[arg(long, env = "OS_AUTH_FAILURE_WINDOW_SECS", default_value_t = 900)]
    auth_failure_window_secs: u64,
    /// Keys (IPs, accounts, users) the failure table tracks at most; past it the least recent are evicted.
    #[arg(long, env = "OS_AUTH_MAX_TRACKED_KEYS", default_value_t = 100_000)]
    auth_max_tracked_keys: usize,
    /// Password hashes computed at once (19 MiB each); default: the number of cores.
    #[arg(long, env = "OS_PASSWORD_HASH_CONCURRENCY")]
    password_hash_concurrency: Option<usize>,
    /// How long a sign-in waits for a hashing slot before 503 TOO_BUSY, in milliseconds.
    #[arg(
        long,
        env = "OS_PASSWORD_HASH_QUEUE_TIMEOUT_MS",
        default_value_t = 5_000
    )]
    password_hash_queue_timeout_ms: u64,
    /// Longest lifetime of an API key in days (also the lifetime of a key created without expiresIn/expiresAt).
    #[arg(long, env = "OS_API_KEY_MAX_TTL_DAYS", default_value_t = 365)]
    api_key_max_ttl_days: u64,
    /// A proxy (CIDR or address) whose X-Forwarded-For / X-Forwarded-Proto are believed; repeatable (env:
    /// comma-separated). Without it the TCP peer is the client.
    #[arg(
        long = "trusted-proxy",
        env = "OS_TRUSTED_PROXY",
        value_delimiter = ','
    )]
    trusted_proxy: Vec<String>,
    /// Always mark the session cookie Secure (it is also Secure when a trusted proxy says X-Forwarded-Proto: https).
    #[arg(long, env = "OS_SECURE_COOKIES")]
    secure_cookies: bool,
}

impl AuthArgs {
    fn limits(&self) -> objectos_host::security::limits::AuthLimits {
        use std::time::Duration;
        objectos_host::security::limits::AuthLimits {
            max_failures_per_ip: self.signin_max_failures_per_ip,
            max_failures_per_account: self.signin_max_failures_per_account,
            max_password_change_failures: self.password_change_max_failures,
            failure_window: Duration::from_secs(self.auth_failure_window_secs),
            max_tracked_keys: self.auth_max_tracked_keys.max(1),
            hash_concurrency: self
                .password_hash_concurrency
                .unwrap_or_else(objectos_host::security::limits::default_hash_concurrency)
                .max(1),
            hash_queue_timeout: Duration::from_millis(self.password_hash_queue_timeout_ms),
            api_key_max_ttl: Duration::from_secs(self.api_key_max_ttl_days.saturating_mul(86_400)),
        }
    }

    fn trusted_proxies(&self) -> Result<Vec<objectos_host::http::client::IpNet>, String> {
        self.trusted_proxy
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| objectos_host::http::client::parse_trusted_proxy(s))
            .collect()
    }
}

/// Limits for untrusted code (hook, action and function bodies); see the README's sandbox section.
#[derive(clap::Args, Debug)]
struct SandboxArgs {
    /// Fuel per hook invocation.
    #[arg(long, env = "OS_HOOK_FUEL", default_value_t = 10_000_000)]
    hook_fuel: u64,
    /// Wall-clock deadline per hook invocation (a body's timeoutMs overrides).
    #[arg(long, env = "OS_HOOK_TIMEOUT_MS", default_value_t = 250)]
    hook_timeout_ms: u64,
    /// Memory cap per hook invocation (a body's memoryMb overrides).
    #[arg(long, env = "OS_HOOK_MEMORY_MB", default_value_t = 32)]
    hook_memory_mb: u64,
    /// Fuel per action or function invocation.
    #[arg(long, env = "OS_FUNCTION_FUEL", default_value_t = 100_000_000)]
    function_fuel: u64,
    #[arg(long, env = "OS_FUNCTION_TIMEOUT_MS", default_value_t = 5_000)]
    function_timeout_ms: u64,
    #[arg(long, env = "OS_FUNCTION_MEMORY_MB", default_value_t = 64)]
    function_memory_mb: u64,
    /// Largest JSON a body may return, in KiB.
    #[arg(long, env = "OS_SANDBOX_MAX_OUTPUT_KB", default_value_t = 1024)]
    sandbox_max_output_kb: usize,
    /// Concurrent invocations (instance pool slots).
    #[arg(long, env = "OS_SANDBOX_POOL", default_value_t = 128)]
    sandbox_pool: u32,
    /// Threads of the guest pool that runs hook, action and function bodies apart from the request workers
    /// (default: one per core; 0 runs them on the request workers, yielding every 5 ms tick).
    #[arg(long, env = "OS_SANDBOX_THREADS")]
    sandbox_threads: Option<usize>,
    /// The JavaScript runtime component (plugins/js-runtime) that runs `js` bodies; without it they cannot run.
    #[arg(long, env = "OS_JS_RUNTIME")]
    js_runtime: Option<String>,
    /// Where compiled components are cached ("" turns the cache off).
    #[arg(long, env = "OS_SANDBOX_CACHE_DIR", default_value = ".data/wasm-cache")]
    sandbox_cache_dir: String,
}

impl SandboxArgs {
    fn limits(&self) -> objectos_host::sandbox::SandboxConfig {
        use objectos_host::sandbox::{Limits, SandboxConfig};
        use std::time::Duration;
        let mb =
            |m: u64| (m.min(objectos_host::sandbox::limits::MAX_BODY_MEMORY_MB) as usize) << 20;
        SandboxConfig {
            hook: Limits {
                fuel: self.hook_fuel,
                timeout: Duration::from_millis(self.hook_timeout_ms),
                memory_bytes: mb(self.hook_memory_mb),
            },
            function: Limits {
                fuel: self.function_fuel,
                timeout: Duration::from_millis(self.function_timeout_ms),
                memory_bytes: mb(self.function_memory_mb),
            },
            max_output_bytes: self.sandbox_max_output_kb * 1024,
            ..SandboxConfig::default()
        }
    }

    fn engine(&self) -> objectos_host::sandbox::EngineConfig {
        objectos_host::sandbox::EngineConfig {
            pool_instances: self.sandbox_pool,
            guest_threads: self
                .sandbox_threads
                .unwrap_or_else(objectos_host::sandbox::limits::default_guest_threads),
            cache_dir: (!self.sandbox_cache_dir.is_empty())
                .then(|| std::path::PathBuf::from(&self.sandbox_cache_dir)),
            ..Default::default()
        }
    }
}
