//! Where artifacts come from (file path, `file://`, `http(s)://`, optional `#sha256=` pin) and which of the three
//! accepted forms (bare definition, envelope, `{success, data: envelope}`) they are in.
//!
//! A URL is fetched within limits ([`FetchPolicy`]): a connect timeout and a total one, a size cap counted as the
//! body streams in, redirects followed only within the same origin (scheme, host, port). A plain `http://` URL
//! is refused unless its bytes are pinned (`#sha256=`), its host is loopback, or the operator allowed insecure
//! URLs: anything on the path could swap an unpinned artifact in transit.

use super::ArtifactError;
use super::checksum::{metadata_checksum, sha256_hex};
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::time::Duration;

/// Limits on fetching an artifact from a URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchPolicy {
    /// Establishing the connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// The whole fetch, redirects and body included.
    pub timeout: Duration,
    /// The largest body accepted, in bytes.
    pub max_bytes: u64,
    /// Accept an unpinned `http://` URL to a host that is not loopback.
    pub allow_insecure_http: bool,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        FetchPolicy {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            max_bytes: 64 * 1024 * 1024,
            allow_insecure_http: false,
        }
    }
}

/// Redirects followed at most (same origin only).
const MAX_REDIRECTS: usize = 5;

/// Where an artifact is read from, with an optional pin over its raw bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactSource {
    pub location: Location,
    pub pinned_sha256: Option<String>,
    pub policy: FetchPolicy,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    File(PathBuf),
    Http(String),
}

impl ArtifactSource {
    /// Parses `path`, `file:///path`, `https://host/app.json`, each optionally followed by `#sha256=<64 hex>`,
    /// with the default [`FetchPolicy`].
    pub fn parse(spec: &str) -> Result<ArtifactSource, ArtifactError> {
        Self::parse_with(spec, FetchPolicy::default())
    }

    /// [`ArtifactSource::parse`] with the given fetch limits; an unpinned `http://` URL to a host that is not
    /// loopback is refused here unless `policy.allow_insecure_http`.
    pub fn parse_with(spec: &str, policy: FetchPolicy) -> Result<ArtifactSource, ArtifactError> {
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
        if let Location::Http(url) = &location
            && pinned_sha256.is_none()
            && !policy.allow_insecure_http
            && !secure_enough(url)
        {
            return Err(ArtifactError::source(format!(
                "refusing the unpinned plain-HTTP artifact URL {url}: use https://, pin its bytes with \
                 #sha256=<64 hex>, or pass --allow-insecure-artifact-url (OS_ALLOW_INSECURE_ARTIFACT_URL)"
            )));
        }
        Ok(ArtifactSource {
            location,
            pinned_sha256,
            policy,
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
            Location::Http(url) => fetch_url(url, &self.policy).await?,
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

/// `https://`, or a loopback host (a local sidecar or a test: nothing in transit to tamper with).
fn secure_enough(url: &str) -> bool {
    let Ok(u) = url::Url::parse(url) else {
        return false;
    };
    if u.scheme() == "https" {
        return true;
    }
    match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The origin of a URL: scheme, host and port.
fn origin(u: &url::Url) -> (String, Option<String>, Option<u16>) {
    (
        u.scheme().to_string(),
        u.host_str().map(str::to_ascii_lowercase),
        u.port_or_known_default(),
    )
}

/// GETs `url` within `policy`: same-origin redirects only, the body counted against the size cap as it arrives.
async fn fetch_url(url: &str, policy: &FetchPolicy) -> Result<Vec<u8>, ArtifactError> {
    let fail = |what: String| ArtifactError::source(format!("cannot fetch artifact {url}: {what}"));
    let start = url::Url::parse(url).map_err(|e| fail(format!("bad URL: {e}")))?;
    let home = origin(&start);
    let redirects = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else if origin(attempt.url()) != home {
            let to = attempt.url().to_string();
            attempt.error(format!(
                "redirected to another origin ({to}); only same-origin redirects are followed"
            ))
        } else {
            attempt.follow()
        }
    });
    let client = reqwest::Client::builder()
        .redirect(redirects)
        .connect_timeout(policy.connect_timeout)
        .timeout(policy.timeout)
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let max = policy.max_bytes;
    let too_large = || {
        fail(format!(
            "larger than the {max}-byte limit (--artifact-max-bytes, OS_ARTIFACT_MAX_BYTES)"
        ))
    };
    let why = |e: reqwest::Error| {
        if e.is_timeout() {
            format!(
                "timed out (connect {} s, total {} s: --artifact-fetch-timeout-secs)",
                policy.connect_timeout.as_secs(),
                policy.timeout.as_secs()
            )
        } else {
            // The redirect refusal is the error's source.
            let mut text = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            text
        }
    };
    let mut response = client.get(url).send().await.map_err(|e| fail(why(e)))?;
    if !response.status().is_success() {
        return Err(fail(format!("HTTP {}", response.status())));
    }
    if response.content_length().is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| fail(why(e)))? {
        if (bytes.len() + chunk.len()) as u64 > max {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
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
