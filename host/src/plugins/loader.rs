//! Admitting a directory of plugins at start-up: every `*.wasm` file is checked against the trust policy,
//! then the admitted ones are ordered by their dependencies. A bad plugin stops the start, or, with
//! `skip_bad`, is left out and logged as an error.

use super::trust::{Admitted, TrustPolicy, start_order};
use std::path::Path;

/// What `/api/v1/health` and discovery report of a plugin.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginStatus {
    pub id: String,
    pub version: String,
    pub kind: String,
    pub file: String,
    pub content_sha256: String,
    /// The trusted key that vouched for it; `None` for an unsigned plugin admitted by `allow_unsigned`.
    pub signed_by: Option<String>,
    pub capabilities: Vec<String>,
    /// `admitted` (checked, not started), `running`, `failed` (its `init` or loading failed), `stopped`.
    pub status: String,
    /// Times its instance was made again after a call trapped or broke a limit.
    pub restarts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// A plugin file the trust policy admitted: the decision, what health reports, and the component's bytes.
#[derive(Clone, Debug)]
pub struct AdmittedPlugin {
    pub admitted: Admitted,
    pub status: PluginStatus,
    pub bytes: std::sync::Arc<Vec<u8>>,
}

pub struct LoadOptions<'a> {
    pub dir: &'a Path,
    pub policy: &'a TrustPolicy,
    pub allow_unsigned: bool,
    pub skip_bad: bool,
    pub now: chrono::DateTime<chrono::Utc>,
}

/// The admitted plugins in start order, and the refusals that were skipped.
pub struct Loaded {
    pub plugins: Vec<AdmittedPlugin>,
    pub skipped: Vec<String>,
}

pub fn admit_dir(opts: &LoadOptions<'_>) -> Result<Loaded, String> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(opts.dir)
        .map_err(|e| format!("plugins directory {}: {e}", opts.dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    files.sort();
    let mut admitted: Vec<(Admitted, String, Vec<u8>)> = Vec::new();
    let mut skipped = Vec::new();
    let refuse = |message: String, skipped: &mut Vec<String>| -> Result<(), String> {
        if opts.skip_bad {
            tracing::error!("plugin skipped: {message}");
            skipped.push(message);
            Ok(())
        } else {
            Err(message)
        }
    };
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        match opts
            .policy
            .admit(&name, &bytes, opts.now, opts.allow_unsigned)
        {
            Ok(a)
                if admitted
                    .iter()
                    .any(|(b, ..)| b.manifest.id == a.manifest.id) =>
            {
                refuse(
                    format!(
                        "{name}: another file already provides plugin {}",
                        a.manifest.id
                    ),
                    &mut skipped,
                )?
            }
            Ok(a) => admitted.push((a, name, bytes)),
            Err(e) => refuse(e.to_string(), &mut skipped)?,
        }
    }
    // Dependencies: with skip_bad, plugins whose dependencies fail are left out until the rest orders.
    let order = loop {
        let manifests: Vec<_> = admitted.iter().map(|(a, ..)| a.manifest.clone()).collect();
        match start_order(&manifests) {
            Ok(order) => break order,
            Err(e) => {
                refuse(e.message.clone(), &mut skipped)?;
                admitted.retain(|(a, ..)| !e.plugins.contains(&a.manifest.id));
            }
        }
    };
    let mut plugins = Vec::new();
    for id in order {
        if let Some(i) = admitted.iter().position(|(a, ..)| a.manifest.id == id) {
            let (a, file, bytes) = admitted.swap_remove(i);
            let status = PluginStatus {
                id: a.manifest.id.clone(),
                version: a.manifest.version.clone(),
                kind: format!("{:?}", a.manifest.kind).to_ascii_lowercase(),
                file,
                content_sha256: a.content_sha256.clone(),
                signed_by: a.signed_by.clone(),
                capabilities: a.capabilities.iter().map(|c| c.to_string()).collect(),
                status: "admitted".into(),
                restarts: 0,
                last_error: None,
            };
            plugins.push(AdmittedPlugin {
                admitted: a,
                status,
                bytes: std::sync::Arc::new(bytes),
            });
        }
    }
    Ok(Loaded { plugins, skipped })
}
