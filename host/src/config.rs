//! Deployment configuration: flags and `OS_*` environment variables, never read from the artifact.

use std::path::PathBuf;

/// Which seed sets apply (`data[].env` in the artifact names these).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeedEnvironment {
    Prod,
    Dev,
    Test,
}

impl SeedEnvironment {
    pub fn as_str(self) -> &'static str {
        match self {
            SeedEnvironment::Prod => "prod",
            SeedEnvironment::Dev => "dev",
            SeedEnvironment::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "prod" | "production" => Some(SeedEnvironment::Prod),
            "dev" | "development" => Some(SeedEnvironment::Dev),
            "test" => Some(SeedEnvironment::Test),
            _ => None,
        }
    }
}

/// Everything `objectos serve` needs to boot the data layer.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// `sqlite://path` (default `./.data/app.db`) or `postgres://…`.
    pub database_url: String,
    /// Allow schema changes that lose data (column type change, dropping a column that holds data).
    pub allow_destructive_migrations: bool,
    /// Which `data[]` seed sets are applied at boot.
    pub seed_environment: SeedEnvironment,
    /// Maximum connections in the database pool.
    pub max_connections: u32,
    /// Limits for hook, action and function bodies.
    pub sandbox: crate::sandbox::SandboxConfig,
    /// The Wasm engine's settings (used when no `shared_sandbox` is given).
    pub engine: crate::sandbox::EngineConfig,
    /// An engine to share (tests and embedders running several kernels in one process).
    pub shared_sandbox: Option<crate::sandbox::Sandbox>,
    /// The JavaScript runtime component (`plugins/js-runtime`); without it `js` bodies cannot run.
    pub js_runtime: Option<std::sync::Arc<Vec<u8>>>,
    /// Plugins admitted by the trust policy at start-up; the kernel loads and starts them in this order.
    pub plugins: Vec<crate::plugins::loader::AdmittedPlugin>,
    /// A plugin that cannot be loaded or whose `init` fails is reported as failed instead of stopping the boot.
    pub skip_bad_plugins: bool,
    /// The most rows (or groups) one read returns, whoever asks (lists, queries, aggregations, a guest's
    /// `find`); default [`crate::data::limits::DEFAULT_MAX_PAGE_SIZE`].
    pub max_page_size: u64,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            database_url: default_database_url(),
            allow_destructive_migrations: false,
            seed_environment: SeedEnvironment::Prod,
            max_connections: 8,
            sandbox: Default::default(),
            engine: Default::default(),
            shared_sandbox: None,
            js_runtime: None,
            plugins: Vec::new(),
            skip_bad_plugins: false,
            max_page_size: crate::data::limits::DEFAULT_MAX_PAGE_SIZE,
        }
    }
}

pub fn default_database_url() -> String {
    let path: PathBuf = [".data", "app.db"].iter().collect();
    format!("sqlite://{}", path.display())
}
