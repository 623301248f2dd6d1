//! Envelope checksums: SHA-256 over the RFC 8785 (JCS) canonical JSON of `metadata`.

use ring::digest::{SHA256, digest};
use serde_json::Value;

/// Lowercase hex SHA-256 of raw bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(digest(&SHA256, bytes).as_ref())
}

/// RFC 8785 canonical JSON text of a value (sorted keys, ECMAScript number form, no whitespace).
pub fn canonical_json(value: &Value) -> Result<String, String> {
    serde_jcs::to_string(value).map_err(|e| format!("cannot canonicalize: {e}"))
}

/// The envelope checksum of a definition.
pub fn metadata_checksum(metadata: &Value) -> Result<String, String> {
    Ok(sha256_hex(canonical_json(metadata)?.as_bytes()))
}
