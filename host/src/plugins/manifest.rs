//! The plugin manifest: JSON in a custom section named `objectos-plugin` of the component, so that the
//! signature (which covers every section after it) covers the manifest too.
//!
//! `{"id": "com.example.webhook", "version": "1.2.0", "kind": "driver|service|hooks",
//!   "dependencies": {"com.example.kv": "^1.0"}, "capabilities": ["data:read:crm_account",
//!   "data:write:crm_account", "http:outbound:hooks.example.com", "log"],
//!   "limits": {"fuel": 10000000, "memoryMb": 32, "timeoutMs": 500}}`

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const MANIFEST_SECTION: &str = "objectos-plugin";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    Driver,
    Service,
    Hooks,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestedLimits {
    #[serde(default)]
    pub fuel: Option<u64>,
    #[serde(default)]
    pub memory_mb: Option<u64>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    pub id: String,
    pub version: String,
    pub kind: PluginKind,
    #[serde(default)]
    pub description: Option<String>,
    /// Plugin id → semver requirement.
    #[serde(default)]
    pub dependencies: BTreeMap<String, String>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub limits: RequestedLimits,
    /// Hooks plugins: the objects and events they listen to.
    #[serde(default)]
    pub hooks: Vec<PluginHook>,
}

/// One subscription of a hooks plugin: `{"object": "crm_account" | "*", "events": ["afterInsert"],
/// "priority": 100, "onError": "abort" | "log", "async": false}`. Listening to an object needs
/// `data:read:<object>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PluginHook {
    pub object: String,
    pub events: Vec<String>,
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(default)]
    pub on_error: Option<String>,
    /// After-events only: run once the write has committed (retried 3 times, 1 s backoff, doubling), so a
    /// slow plugin does not hold the write.
    #[serde(default, rename = "async")]
    pub is_async: bool,
}

/// A capability a plugin may ask for; anything else is refused when the manifest is read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    DataRead(String),
    DataWrite(String),
    HttpOutbound(String),
    Log,
}

impl Capability {
    pub fn parse(text: &str) -> Result<Capability, String> {
        let name_ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 253
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.*:".contains(c))
        };
        let parts: Vec<&str> = text.splitn(3, ':').collect();
        match parts.as_slice() {
            ["log"] => Ok(Capability::Log),
            ["data", "read", object] if name_ok(object) => {
                Ok(Capability::DataRead(object.to_string()))
            }
            ["data", "write", object] if name_ok(object) => {
                Ok(Capability::DataWrite(object.to_string()))
            }
            ["http", "outbound", host] if name_ok(host) => {
                Ok(Capability::HttpOutbound(host.to_ascii_lowercase()))
            }
            _ => Err(format!(
                "unknown capability \"{text}\" (log, data:read:<object>, data:write:<object>, http:outbound:<host[:port]>)"
            )),
        }
    }
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Capability::DataRead(o) => write!(f, "data:read:{o}"),
            Capability::DataWrite(o) => write!(f, "data:write:{o}"),
            Capability::HttpOutbound(h) => write!(f, "http:outbound:{h}"),
            Capability::Log => f.write_str("log"),
        }
    }
}

impl Manifest {
    /// Parses and checks a manifest; every problem is reported with its key.
    pub fn parse(json: &[u8]) -> Result<Manifest, String> {
        let m: Manifest =
            serde_json::from_slice(json).map_err(|e| format!("the manifest is not valid: {e}"))?;
        let id_ok = !m.id.is_empty()
            && m.id.len() <= 100
            && m.id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
            && m.id.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        if !id_ok {
            return Err(format!(
                "id: \"{}\" must be lowercase letters, digits, '.', '_' or '-', starting with a letter",
                m.id
            ));
        }
        semver::Version::parse(&m.version)
            .map_err(|e| format!("version: \"{}\" is not semver: {e}", m.version))?;
        for (dep, req) in &m.dependencies {
            semver::VersionReq::parse(req)
                .map_err(|e| format!("dependencies.{dep}: \"{req}\" is not a semver range: {e}"))?;
        }
        for (i, c) in m.capabilities.iter().enumerate() {
            Capability::parse(c).map_err(|e| format!("capabilities[{i}]: {e}"))?;
        }
        match (&m.kind, m.hooks.is_empty()) {
            (PluginKind::Hooks, true) => {
                return Err("hooks: a hooks plugin must listen to at least one object".into());
            }
            (PluginKind::Driver | PluginKind::Service, false) => {
                return Err("hooks: only a plugin of kind hooks listens to object events".into());
            }
            _ => {}
        }
        let capabilities = m.capabilities();
        for (i, h) in m.hooks.iter().enumerate() {
            if h.events.is_empty() {
                return Err(format!("hooks[{i}].events: name at least one event"));
            }
            for (j, e) in h.events.iter().enumerate() {
                if !crate::artifact::validate::HOOK_EVENTS.contains(&e.as_str()) {
                    return Err(format!(
                        "hooks[{i}].events[{j}]: \"{e}\" is not a hook event ({})",
                        crate::artifact::validate::HOOK_EVENTS.join(", ")
                    ));
                }
            }
            if h.is_async
                && let Some(e) = h.events.iter().find(|e| !e.starts_with("after"))
            {
                return Err(format!(
                    "hooks[{i}].async: only after-events can run after the write ({e} cannot)"
                ));
            }
            if let Some(o) = &h.on_error
                && o != "abort"
                && o != "log"
            {
                return Err(format!("hooks[{i}].onError: \"{o}\" is not abort or log"));
            }
            if !capabilities.iter().any(|c| match c {
                Capability::DataRead(pattern) => object_pattern_matches(pattern, &h.object, false),
                _ => false,
            }) {
                return Err(format!(
                    "hooks[{i}]: listening to {} needs the capability data:read:{}",
                    h.object, h.object
                ));
            }
        }
        Ok(m)
    }

    pub fn capabilities(&self) -> Vec<Capability> {
        self.capabilities
            .iter()
            .filter_map(|c| Capability::parse(c).ok())
            .collect()
    }
}

/// Whether a capability's object pattern (`crm_account`, `crm_*`, `*`) covers `object`. Runtime-provided
/// objects (`sys_*`: users, sessions, the audit log) are covered only by their exact name, never by a
/// wildcard.
pub fn object_pattern_matches(pattern: &str, object: &str, internal: bool) -> bool {
    if pattern == object {
        return true;
    }
    if internal {
        return false;
    }
    match pattern.strip_suffix('*') {
        Some(prefix) => object.starts_with(prefix),
        None => false,
    }
}
