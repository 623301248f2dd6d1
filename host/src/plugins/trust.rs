//! The operator's trust policy (TOML) and the decision whether a plugin file may load. Default: deny.
//!
//! ```toml
//! [[keys]]
//! key_id = "9f2c…"                 # first 12 bytes of SHA-256 of the public key, hex (as `plugin keygen` prints)
//! public_key = "3b6a…"             # 32 bytes, hex
//! plugins = ["com.example.*"]      # plugin ids this key may sign (exact, or a prefix ending in `*`)
//! not_after = "2027-12-31"         # optional: signatures by this key are refused after that day
//!
//! [grants."com.example.webhook"]
//! capabilities = ["http:outbound:hooks.example.com", "log"]
//! sha256 = "…"                     # optional: only this exact content (the signed sections)
//! fuel = 50000000                  # optional limits, within the operator's maxima
//! memory_mb = 32
//! timeout_ms = 2000
//! callers = ["everyone"]           # service plugins: who may call POST /api/v1/services/<id>/<method>
//! [grants."com.example.webhook".config]   # optional: handed to the plugin's init(config) as JSON
//! url = "http://hooks.example.com/in"
//! ```
//!
//! Capabilities live here, keyed by plugin id (and optionally the content's SHA-256), never in the binary:
//! a plugin gets only what it asked for AND the operator granted.

use super::manifest::{Capability, Manifest};
use super::signature::{self, PublicKey};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedKey {
    pub key_id: String,
    pub public_key: String,
    pub plugins: Vec<String>,
    #[serde(default)]
    pub not_after: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub fuel: Option<u64>,
    #[serde(default)]
    pub memory_mb: Option<u64>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Handed to the plugin's `init` as JSON.
    #[serde(default)]
    pub config: Option<toml::Table>,
    /// Service plugins: positions whose holders may call its methods over REST (`everyone`: any signed-in
    /// user). Platform admins always may; nobody else when empty.
    #[serde(default)]
    pub callers: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustPolicy {
    #[serde(default)]
    pub keys: Vec<TrustedKey>,
    #[serde(default)]
    pub grants: BTreeMap<String, Grant>,
}

/// Why a plugin was refused; the message names the plugin (by file or id) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{plugin}: {reason}")]
    Invalid { plugin: String, reason: String },
    #[error(
        "{plugin}: not signed (only --allow-unsigned, for development, loads unsigned plugins)"
    )]
    Unsigned { plugin: String },
    #[error(
        "{plugin}: the file was changed after it was signed (the signature by key {key_id} does not match its content)"
    )]
    Tampered { plugin: String, key_id: String },
    #[error("{plugin}: signed only by keys the trust policy does not list ({key_ids})")]
    UntrustedKey { plugin: String, key_ids: String },
    #[error("{plugin}: key {key_id} is trusted, but not for plugin id {id}")]
    KeyNotAllowed {
        plugin: String,
        key_id: String,
        id: String,
    },
    #[error("{plugin}: key {key_id} expired on {not_after}")]
    KeyExpired {
        plugin: String,
        key_id: String,
        not_after: String,
    },
    #[error("{plugin}: capability {capability} is requested but not granted to {id}")]
    NotGranted {
        plugin: String,
        id: String,
        capability: String,
    },
    #[error("{plugin}: its content SHA-256 is {actual}, the grant pins {pinned}")]
    PinMismatch {
        plugin: String,
        actual: String,
        pinned: String,
    },
}

/// A plugin file that passed the policy.
#[derive(Debug, Clone)]
pub struct Admitted {
    pub manifest: Manifest,
    pub content_sha256: String,
    /// The trusted key that vouched for it (`None`: unsigned, admitted by `--allow-unsigned`).
    pub signed_by: Option<String>,
    /// Requested ∩ granted.
    pub capabilities: BTreeSet<Capability>,
    pub grant: Grant,
}

fn id_matches(pattern: &str, id: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => id.starts_with(prefix),
        None => pattern == id,
    }
}

/// `YYYY-MM-DD` (through the end of that day, UTC) or an RFC 3339 instant.
fn expiry(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return d.and_hms_opt(23, 59, 59).map(|t| t.and_utc());
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

impl TrustPolicy {
    pub fn parse(text: &str) -> Result<TrustPolicy, String> {
        let p: TrustPolicy = toml::from_str(text).map_err(|e| format!("trust policy: {e}"))?;
        for (i, k) in p.keys.iter().enumerate() {
            let key = PublicKey::from_bytes(k.public_key.as_bytes())
                .map_err(|e| format!("trust policy: keys[{i}].public_key: {e}"))?;
            if key.key_id() != k.key_id.to_ascii_lowercase() {
                return Err(format!(
                    "trust policy: keys[{i}].key_id is {}, but the public key's id is {}",
                    k.key_id,
                    key.key_id()
                ));
            }
            if let Some(t) = &k.not_after
                && expiry(t).is_none()
            {
                return Err(format!(
                    "trust policy: keys[{i}].not_after \"{t}\" is not a date (YYYY-MM-DD) or RFC 3339 time"
                ));
            }
        }
        for (id, g) in &p.grants {
            for (i, c) in g.capabilities.iter().enumerate() {
                Capability::parse(c)
                    .map_err(|e| format!("trust policy: grants.\"{id}\".capabilities[{i}]: {e}"))?;
            }
        }
        Ok(p)
    }

    fn public_keys(&self) -> Vec<(PublicKey, &TrustedKey)> {
        self.keys
            .iter()
            .filter_map(|k| {
                PublicKey::from_bytes(k.public_key.as_bytes())
                    .ok()
                    .map(|p| (p, k))
            })
            .collect()
    }

    /// Decides whether `bytes` (named `plugin` in messages) may load.
    pub fn admit(
        &self,
        plugin: &str,
        bytes: &[u8],
        now: chrono::DateTime<chrono::Utc>,
        allow_unsigned: bool,
    ) -> Result<Admitted, Refusal> {
        let invalid = |reason: String| Refusal::Invalid {
            plugin: plugin.to_string(),
            reason,
        };
        // Signatures first: a changed file is reported as changed, whatever the change broke.
        let trusted = self.public_keys();
        let keys: Vec<PublicKey> = trusted.iter().map(|(k, _)| k.clone()).collect();
        let verified = signature::verify(bytes, &keys).map_err(|e| invalid(e.to_string()))?;
        if verified.signed && verified.valid_keys.is_empty() {
            return Err(self.why_no_valid_signature(plugin, bytes, &trusted));
        }
        if !verified.signed && !allow_unsigned {
            return Err(Refusal::Unsigned {
                plugin: plugin.to_string(),
            });
        }
        let manifest_bytes = signature::custom_section(bytes, super::manifest::MANIFEST_SECTION)
            .map_err(|e| invalid(e.to_string()))?
            .ok_or_else(|| {
                invalid(format!(
                    "no manifest (a custom section named {})",
                    super::manifest::MANIFEST_SECTION
                ))
            })?;
        let manifest = Manifest::parse(manifest_bytes).map_err(invalid)?;
        let signed_by = if !verified.signed {
            None
        } else {
            Some(self.vouching_key(plugin, &manifest, &verified, &trusted, now)?)
        };
        // Signed or not, a plugin gets only the capabilities the operator granted its id.
        let grant = self.grants.get(&manifest.id).cloned().unwrap_or_default();
        if let Some(pinned) = &grant.sha256
            && !pinned.eq_ignore_ascii_case(&verified.content_sha256)
        {
            return Err(Refusal::PinMismatch {
                plugin: plugin.to_string(),
                actual: verified.content_sha256,
                pinned: pinned.clone(),
            });
        }
        let granted: BTreeSet<Capability> = grant
            .capabilities
            .iter()
            .filter_map(|c| Capability::parse(c).ok())
            .collect();
        let mut capabilities = BTreeSet::new();
        for c in manifest.capabilities() {
            if !granted.contains(&c) {
                return Err(Refusal::NotGranted {
                    plugin: plugin.to_string(),
                    id: manifest.id.clone(),
                    capability: c.to_string(),
                });
            }
            capabilities.insert(c);
        }
        Ok(Admitted {
            manifest,
            content_sha256: verified.content_sha256,
            signed_by,
            capabilities,
            grant,
        })
    }

    /// A signed file none of whose signatures verifies with a trusted key: tampered, or signed by strangers.
    fn why_no_valid_signature(
        &self,
        plugin: &str,
        bytes: &[u8],
        trusted: &[(PublicKey, &TrustedKey)],
    ) -> Refusal {
        let plugin = plugin.to_string();
        let signers = signature::signer_ids(bytes).unwrap_or_default();
        // A signer the policy knows whose signature fails: the content changed after signing.
        if let Some(known) = signers
            .iter()
            .find(|id| trusted.iter().any(|(k, _)| k.key_id() == **id))
        {
            return Refusal::Tampered {
                plugin,
                key_id: known.clone(),
            };
        }
        Refusal::UntrustedKey {
            plugin,
            key_ids: if signers.is_empty() {
                "no key id".into()
            } else {
                signers.join(", ")
            },
        }
    }

    /// The trusted, unexpired key allowed for this plugin id whose signature is valid; else why not.
    fn vouching_key(
        &self,
        plugin: &str,
        manifest: &Manifest,
        verified: &signature::Verified,
        trusted: &[(PublicKey, &TrustedKey)],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<String, Refusal> {
        let plugin = plugin.to_string();
        let mut refusal = None;
        for key in &verified.valid_keys {
            let Some((_, policy)) = trusted.iter().find(|(k, _)| k == key) else {
                continue;
            };
            if !policy.plugins.iter().any(|p| id_matches(p, &manifest.id)) {
                refusal.get_or_insert(Refusal::KeyNotAllowed {
                    plugin: plugin.clone(),
                    key_id: key.key_id(),
                    id: manifest.id.clone(),
                });
                continue;
            }
            if let Some(t) = &policy.not_after
                && expiry(t).is_none_or(|end| now > end)
            {
                refusal = Some(Refusal::KeyExpired {
                    plugin: plugin.clone(),
                    key_id: key.key_id(),
                    not_after: t.clone(),
                });
                continue;
            }
            return Ok(key.key_id());
        }
        Err(refusal.unwrap_or(Refusal::UntrustedKey {
            plugin,
            key_ids: String::new(),
        }))
    }
}

/// A dependency problem and the plugins it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DependencyError {
    pub plugins: Vec<String>,
    pub message: String,
}

/// Orders plugins so that each starts after its dependencies; a missing dependency, a version outside
/// the required range or a cycle is an error naming the plugins involved.
pub fn start_order(manifests: &[Manifest]) -> Result<Vec<String>, DependencyError> {
    let by_id: BTreeMap<&str, &Manifest> = manifests.iter().map(|m| (m.id.as_str(), m)).collect();
    for m in manifests {
        for (dep, req) in &m.dependencies {
            let blame = |message: String| DependencyError {
                plugins: vec![m.id.clone()],
                message,
            };
            let Some(d) = by_id.get(dep.as_str()) else {
                return Err(blame(format!(
                    "{}: depends on {dep} ({req}), which is not loaded",
                    m.id
                )));
            };
            let range = semver::VersionReq::parse(req)
                .map_err(|e| blame(format!("{}: dependency {dep}: {e}", m.id)))?;
            let version = semver::Version::parse(&d.version)
                .map_err(|e| blame(format!("{dep}: version: {e}")))?;
            if !range.matches(&version) {
                return Err(blame(format!(
                    "{}: depends on {dep} {req}, but {dep} is {}",
                    m.id, d.version
                )));
            }
        }
    }
    // Depth-first, reporting the path of a cycle.
    fn visit<'a>(
        id: &'a str,
        by_id: &BTreeMap<&'a str, &'a Manifest>,
        done: &mut BTreeSet<&'a str>,
        path: &mut Vec<&'a str>,
        out: &mut Vec<String>,
    ) -> Result<(), DependencyError> {
        if done.contains(id) {
            return Ok(());
        }
        if let Some(i) = path.iter().position(|p| *p == id) {
            let mut cycle: Vec<&str> = path[i..].to_vec();
            cycle.push(id);
            return Err(DependencyError {
                plugins: path[i..].iter().map(|p| p.to_string()).collect(),
                message: format!("dependency cycle: {}", cycle.join(" → ")),
            });
        }
        path.push(id);
        if let Some(m) = by_id.get(id) {
            for dep in m.dependencies.keys() {
                visit(dep, by_id, done, path, out)?;
            }
        }
        path.pop();
        done.insert(id);
        out.push(id.to_string());
        Ok(())
    }
    let (mut done, mut out) = (BTreeSet::new(), Vec::new());
    for id in by_id.keys() {
        visit(id, &by_id, &mut done, &mut Vec::new(), &mut out)?;
    }
    Ok(out)
}
