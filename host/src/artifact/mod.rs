//! Artifacts: where they come from, which form they are in, whether they are sound, and the typed model.

pub mod build;
pub mod checksum;
pub mod fields;
pub mod inspect;
pub mod load;
pub mod model;
pub mod validate;

pub use load::{ArtifactForm, ArtifactSource, FetchPolicy};
pub use model::Definition;

use serde_json::Value;
use std::fmt;

/// One problem in an artifact, with the JSON path it was found at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("{0}")]
    Source(String),
    #[error(
        "ARTIFACT_INTEGRITY_MISMATCH: the artifact's SHA-256 is {actual}, but the pin says {expected}"
    )]
    IntegrityMismatch { expected: String, actual: String },
    #[error(
        "ARTIFACT_CHECKSUM_MISMATCH: the envelope says checksum {expected}, but the canonical JSON of its metadata hashes to {actual}"
    )]
    ChecksumMismatch { expected: String, actual: String },
    #[error("ARTIFACT_INVALID: {} problem(s):\n{}", .0.len(), .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

impl ArtifactError {
    pub fn source(message: String) -> ArtifactError {
        ArtifactError::Source(message)
    }

    pub fn invalid(problems: Vec<Problem>) -> ArtifactError {
        ArtifactError::Invalid(problems)
    }

    /// The protocol-style code of this refusal.
    pub fn code(&self) -> &'static str {
        match self {
            ArtifactError::Source(_) => "ARTIFACT_UNREADABLE",
            ArtifactError::IntegrityMismatch { .. } => "ARTIFACT_INTEGRITY_MISMATCH",
            ArtifactError::ChecksumMismatch { .. } => "ARTIFACT_CHECKSUM_MISMATCH",
            ArtifactError::Invalid(_) => "ARTIFACT_INVALID",
        }
    }

    pub fn problems(&self) -> &[Problem] {
        match self {
            ArtifactError::Invalid(p) => p,
            _ => &[],
        }
    }
}

/// A loaded, verified and validated artifact.
#[derive(Clone, Debug)]
pub struct Artifact {
    pub definition: Definition,
    /// The definition as raw JSON (after unwrapping), kept for inspection and checksums.
    pub raw: Value,
    pub form: ArtifactForm,
    /// SHA-256 of the raw bytes as read.
    pub file_sha256: String,
    /// SHA-256 of the RFC 8785 canonical JSON of the definition (the envelope checksum it would carry).
    pub canonical_sha256: String,
    pub warnings: Vec<Problem>,
}

impl Artifact {
    /// Reads, unwraps, verifies and validates an artifact from any accepted source.
    pub async fn load(source: &ArtifactSource) -> Result<Artifact, ArtifactError> {
        let bytes = source.fetch().await?;
        Artifact::from_bytes(&bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Artifact, ArtifactError> {
        let root: Value = serde_json::from_slice(bytes).map_err(|e| {
            ArtifactError::invalid(vec![Problem::new(
                format!("$ (line {}, column {})", e.line(), e.column()),
                format!("not valid JSON: {e}"),
            )])
        })?;
        let (raw, form) = load::unwrap_definition(root)?;
        let report = validate::validate(&raw);
        if !report.errors.is_empty() {
            return Err(ArtifactError::invalid(report.errors));
        }
        let definition = validate::to_model(&raw)?;
        let canonical_sha256 = checksum::metadata_checksum(&raw).map_err(ArtifactError::source)?;
        Ok(Artifact {
            definition,
            raw,
            form,
            file_sha256: checksum::sha256_hex(bytes),
            canonical_sha256,
            warnings: report.warnings,
        })
    }

    pub fn from_value(value: Value) -> Result<Artifact, ArtifactError> {
        let bytes = serde_json::to_vec(&value).map_err(|e| ArtifactError::source(e.to_string()))?;
        Artifact::from_bytes(&bytes)
    }
}
