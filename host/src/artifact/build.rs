//! `objectos artifact build`: a definition plus the components its bodies name becomes an envelope with
//! every component inlined (base64 + SHA-256) and the checksum set. Byte-identical across builds: no
//! timestamp unless one is given, keys in a fixed order.
//!
//! A body names its component with `componentPath` (`{"language": "wasm", "componentPath": "hooks.wasm"}`);
//! the built body carries `component` and `sha256` instead.

use super::checksum::{metadata_checksum, sha256_hex};
use base64::Engine as _;
use serde_json::{Map, Value, json};

/// Where bodies live in a definition: `hooks[].body`, `actions[].body`, `functions.<name>.body`.
fn bodies(definition: &mut Value) -> Vec<(String, &mut Map<String, Value>)> {
    let mut out = Vec::new();
    let Some(root) = definition.as_object_mut() else {
        return out;
    };
    for (section, value) in root.iter_mut() {
        match (section.as_str(), value) {
            ("hooks" | "actions", Value::Array(items)) => {
                for (i, item) in items.iter_mut().enumerate() {
                    if let Some(Value::Object(body)) = item.get_mut("body") {
                        out.push((format!("{section}[{i}].body"), body));
                    }
                }
            }
            ("functions", Value::Object(map)) => {
                for (name, entry) in map.iter_mut() {
                    if let Some(Value::Object(body)) = entry.get_mut("body") {
                        out.push((format!("functions.{name}.body"), body));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Replaces every `componentPath` with the component's bytes (base64) and SHA-256. `read` resolves a path.
/// Returns every problem, each with its JSON path.
pub fn inline_components(
    definition: &mut Value,
    read: &dyn Fn(&str) -> Result<Vec<u8>, String>,
) -> Result<usize, Vec<String>> {
    let mut problems = Vec::new();
    let mut inlined = 0;
    for (path, body) in bodies(definition) {
        if body.get("language").and_then(Value::as_str) != Some("wasm") {
            continue;
        }
        let Some(component_path) = body.remove("componentPath") else {
            continue;
        };
        let Some(component_path) = component_path.as_str() else {
            problems.push(format!("{path}.componentPath: must be a string"));
            continue;
        };
        match read(component_path) {
            Ok(bytes) => {
                body.insert(
                    "component".into(),
                    json!(base64::engine::general_purpose::STANDARD.encode(&bytes)),
                );
                body.insert("sha256".into(), json!(sha256_hex(&bytes)));
                inlined += 1;
            }
            Err(e) => problems.push(format!("{path}.componentPath: {e}")),
        }
    }
    if problems.is_empty() {
        Ok(inlined)
    } else {
        Err(problems)
    }
}

/// The envelope around a definition. `commit_id` defaults to the checksum's first 12 characters.
pub fn envelope(
    definition: Value,
    environment_id: &str,
    commit_id: Option<&str>,
    built_at: Option<&str>,
) -> Result<Value, String> {
    let checksum = metadata_checksum(&definition)?;
    let mut env = Map::new();
    env.insert("schemaVersion".into(), json!("0.1"));
    env.insert("environmentId".into(), json!(environment_id));
    env.insert(
        "commitId".into(),
        json!(commit_id.map_or_else(|| checksum[..12].to_string(), str::to_string)),
    );
    env.insert("checksum".into(), json!(checksum));
    if let Some(at) = built_at {
        env.insert("builtAt".into(), json!(at));
    }
    env.insert(
        "builtWith".into(),
        json!(format!("objectos {}", env!("CARGO_PKG_VERSION"))),
    );
    env.insert("metadata".into(), definition);
    Ok(Value::Object(env))
}
