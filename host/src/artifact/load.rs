//! Where artifacts come from (file path, `file://`, `http(s)://`, optional `#sha256=` pin) and which of the three
//! accepted forms (bare definition, envelope, `{success, data: envelope}`) they are in.

use super::ArtifactError;
use super::checksum::{metadata_checksum, sha256_hex};
use serde_json::{Map, Value};
use std::path::PathBuf;

/// Where an artifact is read from, with an optional pin over its raw bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactSource {
    pub location: Location,
    pub pinned_sha256: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    File(PathBuf),
    Http(String),
}

impl ArtifactSource {
    /// Parses `path`, `file:///path`, `https://host/app.json`, each optionally followed by `#sha256=<64 hex>`.
    pub fn parse(spec: &str) -> Result<ArtifactSource, ArtifactError> {
        let (base, fragment) = match spec.split_once('#') {
            Some((b, f)) => (b, Some(f)),
            None => (spec, None),
        };
        let pinned_sha256 = match fragment {
            None => None,
            Some(f) => {
                let hex = f.strip_prefix("sha256=").ok_or_else(|| {
                    ArtifactError::source(format!(
                        "unsupported artifact fragment '#{f}': only '#sha256=<64 hex>' is accepted"
                    ))
                })?;
                if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(ArtifactError::source(format!(
                        "artifact pin '#sha256={hex}' is not 64 hexadecimal characters"
                    )));
                }
                Some(hex.to_ascii_lowercase())
            }
        };
        let location = if base.starts_with("http://") || base.starts_with("https://") {
            Location::Http(base.to_string())
        } else if let Some(rest) = base.strip_prefix("file://") {
            let url = url::Url::parse(base)
                .map_err(|e| ArtifactError::source(format!("bad file URL '{base}': {e}")))?;
            let path = url
                .to_file_path()
                .map_err(|_| ArtifactError::source(format!("bad file URL '{base}' ({rest})")))?;
            Location::File(path)
        } else if base.contains("://") {
            return Err(ArtifactError::source(format!(
                "unsupported artifact URL scheme in '{base}': use a path, file://, http:// or https://"
            )));
        } else {
            Location::File(PathBuf::from(base))
        };
        Ok(ArtifactSource {
            location,
            pinned_sha256,
        })
    }

    pub fn describe(&self) -> String {
        match &self.location {
            Location::File(p) => p.display().to_string(),
            Location::Http(u) => u.clone(),
        }
    }

    /// Reads the raw bytes and checks the pin.
    pub async fn fetch(&self) -> Result<Vec<u8>, ArtifactError> {
        let bytes = match &self.location {
            Location::File(path) => tokio::fs::read(path).await.map_err(|e| {
                ArtifactError::source(format!("cannot read artifact {}: {e}", path.display()))
            })?,
            Location::Http(url) => {
                let response = reqwest::get(url).await.map_err(|e| {
                    ArtifactError::source(format!("cannot fetch artifact {url}: {e}"))
                })?;
                if !response.status().is_success() {
                    return Err(ArtifactError::source(format!(
                        "cannot fetch artifact {url}: HTTP {}",
                        response.status()
                    )));
                }
                response
                    .bytes()
                    .await
                    .map_err(|e| {
                        ArtifactError::source(format!("cannot read artifact body from {url}: {e}"))
                    })?
                    .to_vec()
            }
        };
        if let Some(expected) = &self.pinned_sha256 {
            let actual = sha256_hex(&bytes);
            if &actual != expected {
                return Err(ArtifactError::IntegrityMismatch {
                    expected: expected.clone(),
                    actual,
                });
            }
        }
        Ok(bytes)
    }
}

/// Which form the artifact came in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArtifactForm {
    Bare,
    Envelope {
        environment_id: Option<String>,
        commit_id: String,
        checksum: String,
    },
}

/// Splits raw JSON into the definition and what wrapped it. An envelope's checksum is verified here.
pub fn unwrap_definition(root: Value) -> Result<(Value, ArtifactForm), ArtifactError> {
    let mut root = match root {
        Value::Object(map) => map,
        other => {
            return Err(ArtifactError::invalid(vec![super::Problem::new(
                "$",
                format!(
                    "the artifact must be a JSON object, found {}",
                    json_kind(&other)
                ),
            )]));
        }
    };
    if root.get("success").is_some() && root.get("data").map(Value::is_object) == Some(true) {
        if root.get("success") != Some(&Value::Bool(true)) {
            return Err(ArtifactError::source(
                "the artifact response says success: false".to_string(),
            ));
        }
        if let Some(Value::Object(inner)) = root.remove("data") {
            root = inner;
        }
    }
    if root.contains_key("schemaVersion") && root.contains_key("metadata") {
        return unwrap_envelope(root);
    }
    Ok((Value::Object(root), ArtifactForm::Bare))
}

fn unwrap_envelope(mut env: Map<String, Value>) -> Result<(Value, ArtifactForm), ArtifactError> {
    let mut problems = Vec::new();
    match env.get("schemaVersion") {
        Some(Value::String(v)) if v == "0.1" => {}
        other => problems.push(super::Problem::new(
            "schemaVersion",
            format!(
                "unsupported envelope schemaVersion {}: this build reads \"0.1\"",
                show(other)
            ),
        )),
    }
    for retired in ["functions", "manifest", "payloadRef"] {
        if env.contains_key(retired) {
            problems.push(super::Problem::new(
                retired,
                "retired envelope key (protocol 17 rejects it)",
            ));
        }
    }
    let environment_id = env
        .get("environmentId")
        .or_else(|| env.get("projectId"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let commit_id = match env.get("commitId") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        other => {
            problems.push(super::Problem::new(
                "commitId",
                format!("must be a non-empty string, found {}", show(other)),
            ));
            String::new()
        }
    };
    let checksum = match env.get("checksum") {
        Some(Value::String(s))
            if s.len() == 64
                && s.chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)) =>
        {
            s.clone()
        }
        other => {
            problems.push(super::Problem::new(
                "checksum",
                format!(
                    "must be 64 lowercase hexadecimal characters, found {}",
                    show(other)
                ),
            ));
            String::new()
        }
    };
    let metadata = env.remove("metadata").unwrap_or(Value::Null);
    if !metadata.is_object() {
        problems.push(super::Problem::new(
            "metadata",
            format!("must be an object, found {}", json_kind(&metadata)),
        ));
    }
    if !problems.is_empty() {
        return Err(ArtifactError::invalid(problems));
    }
    let actual = metadata_checksum(&metadata).map_err(ArtifactError::source)?;
    if actual != checksum {
        return Err(ArtifactError::ChecksumMismatch {
            expected: checksum,
            actual,
        });
    }
    Ok((
        metadata,
        ArtifactForm::Envelope {
            environment_id,
            commit_id,
            checksum,
        },
    ))
}

pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn show(v: Option<&Value>) -> String {
    match v {
        None => "nothing".to_string(),
        Some(v) => {
            let text = v.to_string();
            if text.len() > 40 {
                format!("{}…", &text[..text.floor_char_boundary(40)])
            } else {
                text
            }
        }
    }
}
