//! API keys (`osk_…`): shown once, stored as SHA-256, acting as their creator with the creator's *current* rights
//! (positions, organization, ban). Every key expires (at most `AuthLimits::api_key_max_ttl` after creation, which
//! is also the default), can be listed by its owner and revoked; a key never manages keys itself.

use super::auth::{
    AuthError, AuthService, Identity, eq, identity_of, obj, random_token, sha256_hex,
};
use super::system_objects::{API_KEY, USER};
use crate::data::driver::Record;
use crate::data::error::DataError;
use crate::data::query::{OrderBy, Query};
use crate::data::values::{format_datetime, parse_datetime};
use crate::kernel::{DataOp, OpResult, Principal};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// Keys one user may hold that are neither revoked nor expired.
pub const MAX_ACTIVE_KEYS_PER_USER: usize = 100;
/// Keys a listing returns at most (newest first).
const MAX_LISTED_KEYS: u64 = 1000;

fn invalid(field: &'static str, message: String) -> AuthError {
    AuthError::Invalid { field, message }
}

/// What a client sees of a key (never its hash).
fn shown(row: &Record) -> Record {
    let mut out = Record::new();
    for k in ["id", "name", "key_prefix", "created_at", "expires_at"] {
        out.insert(k.into(), row.get(k).cloned().unwrap_or(Value::Null));
    }
    out.insert(
        "revoked".into(),
        Value::Bool(row.get("revoked") == Some(&Value::Bool(true))),
    );
    out
}

fn is_active(row: &Record, now: DateTime<Utc>) -> bool {
    row.get("revoked") != Some(&Value::Bool(true))
        && row
            .get("expires_at")
            .and_then(parse_datetime)
            .is_none_or(|t| t > now)
}

impl AuthService {
    /// When a new key expires: `expiresIn` (seconds) or `expiresAt` (a date-time), at most the configured maximum
    /// ahead; neither gives the maximum.
    fn key_expiry(
        &self,
        expires_in: Option<&Value>,
        expires_at: Option<&Value>,
    ) -> Result<DateTime<Utc>, AuthError> {
        let now = Utc::now();
        let max_secs = i64::try_from(self.limits.api_key_max_ttl.as_secs()).unwrap_or(i64::MAX);
        let latest = now + chrono::Duration::seconds(max_secs.min(100 * 365 * 24 * 3600));
        let (expires_in, expires_at) = (
            expires_in.filter(|v| !v.is_null()),
            expires_at.filter(|v| !v.is_null()),
        );
        match (expires_in, expires_at) {
            (Some(_), Some(_)) => Err(invalid(
                "expiresAt",
                "give expiresIn or expiresAt, not both".into(),
            )),
            (Some(v), None) => match v.as_i64() {
                Some(secs) if secs > 0 && secs <= max_secs => {
                    Ok(now + chrono::Duration::seconds(secs))
                }
                _ => Err(invalid(
                    "expiresIn",
                    format!("expiresIn is a whole number of seconds from 1 to {max_secs}"),
                )),
            },
            (None, Some(v)) => match parse_datetime(v) {
                Some(t) if t > now && t <= latest => Ok(t),
                Some(_) => Err(invalid(
                    "expiresAt",
                    format!("expiresAt must be in the future and at most {max_secs} seconds ahead"),
                )),
                None => Err(invalid(
                    "expiresAt",
                    "expiresAt must be a date-time (RFC 3339)".into(),
                )),
            },
            (None, None) => Ok(latest),
        }
    }

    fn require_session(who: &Identity) -> Result<(), AuthError> {
        if who.api_key_id.is_some() {
            return Err(AuthError::Forbidden(
                "an API key cannot manage API keys; sign in".into(),
            ));
        }
        Ok(())
    }

    async fn keys_of(&self, user_id: &str) -> Result<Vec<Record>, AuthError> {
        let query = Query {
            filter: Some(eq("user_id", user_id)),
            order_by: vec![OrderBy {
                field: "created_at".into(),
                descending: true,
            }],
            limit: Some(MAX_LISTED_KEYS),
            ..Query::default()
        };
        match self
            .kernel
            .execute(
                &Principal::system(),
                DataOp::Find {
                    object: API_KEY.into(),
                    query,
                },
            )
            .await?
        {
            OpResult::List { records, .. } => Ok(records),
            _ => Ok(Vec::new()),
        }
    }

    /// An administrator (platform or organization owner) creates an API key acting as themselves; the key is
    /// shown once.
    pub async fn create_api_key(
        &self,
        admin: &Identity,
        name: &str,
        expires_in: Option<&Value>,
        expires_at: Option<&Value>,
    ) -> Result<(String, Record), AuthError> {
        Self::require_session(admin)?;
        self.admin_scope(admin)?;
        if name.trim().is_empty() {
            return Err(invalid("name", "an API key needs a name".into()));
        }
        let expires = self.key_expiry(expires_in, expires_at)?;
        let user_id = admin.principal.user_id.clone().unwrap_or_default();
        let now = Utc::now();
        let active = self
            .keys_of(&user_id)
            .await?
            .iter()
            .filter(|k| is_active(k, now))
            .count();
        if active >= MAX_ACTIVE_KEYS_PER_USER {
            return Err(AuthError::Data(DataError::Service {
                kind: crate::data::error::ErrorKind::Conflict,
                code: "API_KEY_LIMIT_REACHED",
                message: format!(
                    "a user holds at most {MAX_ACTIVE_KEYS_PER_USER} active API keys; revoke one first"
                ),
            }));
        }
        let key = format!("osk_{}", random_token());
        let as_admin = Principal {
            is_system: true,
            ..admin.principal.clone()
        };
        let rec = obj(
            json!({"name": name.trim(), "key_hash": sha256_hex(&key), "key_prefix": &key[..12],
            "user_id": user_id, "revoked": false, "expires_at": format_datetime(expires)}),
        );
        let row = self
            .write_row(
                &as_admin,
                DataOp::Create {
                    object: API_KEY.into(),
                    record: rec,
                },
            )
            .await?;
        Ok((key, shown(&row)))
    }

    /// The caller's own keys, newest first (revoked and expired ones included, marked).
    pub async fn list_api_keys(&self, who: &Identity) -> Result<Vec<Record>, AuthError> {
        Self::require_session(who)?;
        let user_id = who.principal.user_id.clone().unwrap_or_default();
        Ok(self.keys_of(&user_id).await?.iter().map(shown).collect())
    }

    /// Revokes one key: the caller's own, or any key for a platform administrator. Another's key is 404.
    pub async fn revoke_api_key(&self, who: &Identity, id: &str) -> Result<Record, AuthError> {
        Self::require_session(who)?;
        let not_found = || {
            AuthError::Data(DataError::RecordNotFound {
                object: API_KEY.into(),
                id: id.into(),
            })
        };
        let row = self
            .find_one(API_KEY, eq("id", id))
            .await?
            .ok_or_else(not_found)?;
        let owner = row.get("user_id").and_then(Value::as_str);
        if owner != who.principal.user_id.as_deref() && !who.principal.is_platform_admin() {
            return Err(not_found());
        }
        let op = DataOp::Update {
            object: API_KEY.into(),
            id: id.into(),
            patch: obj(json!({"revoked": true})),
            expected_version: None,
        };
        let as_caller = Principal {
            is_system: true,
            ..who.principal.clone()
        };
        let updated = self.write_row(&as_caller, op).await?;
        Ok(shown(&updated))
    }

    /// The identity behind an `osk_` key: refused when revoked, expired, or its user is gone or banned.
    pub(super) async fn authenticate_api_key(&self, key: &str) -> Result<Identity, AuthError> {
        let row = self
            .find_one(API_KEY, eq("key_hash", &sha256_hex(key)))
            .await?
            .ok_or(AuthError::Unauthenticated)?;
        if !is_active(&row, Utc::now()) {
            return Err(AuthError::Unauthenticated);
        }
        let user_id = row
            .get("user_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let user = self
            .find_one(USER, eq("id", user_id))
            .await?
            .ok_or(AuthError::Unauthenticated)?;
        if user.get("banned") == Some(&Value::Bool(true)) {
            return Err(AuthError::Unauthenticated);
        }
        let key_id = row.get("id").and_then(Value::as_str).map(str::to_string);
        let user = self.with_assigned_positions(user).await?;
        Ok(identity_of(user, None, None, key_id))
    }
}
