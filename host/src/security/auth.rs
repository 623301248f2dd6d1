//! Authentication: email + password (argon2id, through the bounded hasher of `passwords`), sessions (random
//! 256-bit tokens, stored as SHA-256, handed out signed with `OS_AUTH_SECRET`), sign-in and password-change
//! attempt limits (`limits`). Administration is in `admin`, API keys in `api_keys`.
//! Users, organizations, sessions and keys are rows of runtime-provided objects, written through the kernel.

use super::limits::{AttemptStats, Attempts, AuthLimits};
use super::passwords::{Busy, PasswordHasherPool};
use super::system_objects::{ORGANIZATION, SESSION, USER};
use crate::data::driver::Record;
use crate::data::error::DataError;
use crate::data::filter::{Condition, Filter, Op, Operand};
use crate::data::query::Query;
use crate::kernel::{DataOp, Kernel, OpResult, Principal, new_id};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use ring::hmac;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Positions the first user gets.
pub const FIRST_ADMIN_POSITIONS: &[&str] = &["platform_admin", "org_owner", "everyone"];
pub const MIN_PASSWORD_LEN: usize = 8;
pub const MAX_PASSWORD_LEN: usize = 256;
pub const MAX_EMAIL_LEN: usize = 254;
/// Characters in a user's display name (the `name` column of `sys_user` holds 200).
pub const MAX_NAME_LEN: usize = 200;
/// Stands in for the hash of an unknown account, so that timing does not tell which emails exist.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$0000000000000000000000000000000000000000000";
/// How long a resolved session is trusted without reading the database again.
const SESSION_CACHE_TTL: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("Authentication is required to access this endpoint.")]
    Unauthenticated,
    #[error("Invalid email or password")]
    InvalidCredentials,
    #[error(
        "Self-registration is closed on this environment (audience posture invite_only). Ask an administrator for an invitation."
    )]
    RegistrationClosed,
    #[error("User already exists. Use another email.")]
    UserExists,
    #[error("Too many failed sign-in attempts; try again in {0} seconds")]
    RateLimited(u64),
    #[error("Too many failed password changes; try again in {0} seconds")]
    PasswordChangeLimited(u64),
    #[error("The server is busy checking passwords; try again in {0} seconds")]
    TooBusy(u64),
    #[error("{0}")]
    Forbidden(String),
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Data(#[from] DataError),
}

impl AuthError {
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Unauthenticated => "UNAUTHENTICATED",
            AuthError::InvalidCredentials => "INVALID_EMAIL_OR_PASSWORD",
            AuthError::RegistrationClosed => "SELF_REGISTRATION_CLOSED",
            AuthError::UserExists => "USER_ALREADY_EXISTS",
            AuthError::RateLimited(_) | AuthError::PasswordChangeLimited(_) => "TOO_MANY_REQUESTS",
            AuthError::TooBusy(_) => "TOO_BUSY",
            AuthError::Forbidden(_) => "PERMISSION_DENIED",
            AuthError::Invalid { .. } => "VALIDATION_FAILED",
            AuthError::Data(e) => e.code(),
        }
    }

    /// Seconds for `Retry-After`, when the refusal is temporary.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            AuthError::RateLimited(s)
            | AuthError::PasswordChangeLimited(s)
            | AuthError::TooBusy(s) => Some(*s),
            _ => None,
        }
    }
}

impl From<Busy> for AuthError {
    fn from(b: Busy) -> Self {
        AuthError::TooBusy(b.retry_after_secs)
    }
}

/// A signed-in caller: who, in which organization, through which session.
#[derive(Clone, Debug)]
pub struct Identity {
    pub principal: Principal,
    pub user: Record,
    pub session: Option<Record>,
    /// The raw session token (for get-session), never the stored hash.
    pub token: Option<String>,
    /// Holds the `platform_admin` position (the kernel's notion: permission sets do not restrict it).
    pub is_platform_admin: bool,
    /// The id of the API key the caller presented, when it is not a session.
    pub api_key_id: Option<String>,
}

/// What sign-up / sign-in hand back.
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub identity: Identity,
    pub token: String,
    pub signed_token: String,
}

/// A user row to create (the password is hashed separately).
pub(super) struct NewUser<'a> {
    pub(super) id: &'a str,
    pub(super) organization_id: &'a str,
    pub(super) email: &'a str,
    pub(super) name: &'a str,
    pub(super) positions: &'a [String],
    pub(super) is_platform_admin: bool,
    pub(super) admin_created: bool,
}

pub struct AuthService {
    pub(super) kernel: Arc<Kernel>,
    key: hmac::Key,
    open_signup: bool,
    session_ttl: chrono::Duration,
    /// Resolved sessions: token hash → (identity, when, the kernel's security epoch then).
    pub(super) sessions: Mutex<HashMap<String, (Identity, Instant, u64)>>,
    pub(super) limits: AuthLimits,
    attempts: Attempts,
    hasher: PasswordHasherPool,
    signup: tokio::sync::Mutex<()>,
}

pub(super) fn sha256_hex(s: &str) -> String {
    crate::artifact::checksum::sha256_hex(s.as_bytes())
}

pub(super) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(super) fn eq(field: &str, v: &str) -> Filter {
    Filter::Cond(Condition {
        field: field.into(),
        op: Op::Eq,
        operand: Operand::Value(Value::String(v.to_string())),
    })
}

pub(super) fn obj(v: Value) -> Record {
    v.as_object().cloned().unwrap_or_default()
}

impl AuthService {
    pub fn new(
        kernel: Arc<Kernel>,
        secret: &[u8],
        open_signup: bool,
        limits: AuthLimits,
    ) -> AuthService {
        AuthService {
            kernel,
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            open_signup,
            session_ttl: chrono::Duration::days(7),
            sessions: Mutex::new(HashMap::new()),
            attempts: Attempts::new(limits.failure_window, limits.max_tracked_keys),
            hasher: PasswordHasherPool::new(limits.hash_concurrency, limits.hash_queue_timeout),
            limits,
            signup: tokio::sync::Mutex::new(()),
        }
    }

    /// The attempt table (counters for `/metrics`; `sweep_at` for tests).
    pub fn attempts(&self) -> &Attempts {
        &self.attempts
    }

    pub fn attempt_stats(&self) -> AttemptStats {
        self.attempts.stats()
    }

    /// The password hasher (its slots, for tests of the `TOO_BUSY` path).
    pub fn hasher(&self) -> &PasswordHasherPool {
        &self.hasher
    }

    /// The user record with the positions its `sys_user_position` rows give added to its own.
    pub(super) async fn with_assigned_positions(
        &self,
        mut user: Record,
    ) -> Result<Record, AuthError> {
        let Some(id) = user.get("id").and_then(Value::as_str).map(str::to_string) else {
            return Ok(user);
        };
        let assigned = self.kernel.assigned_positions(&id).await?;
        if !assigned.is_empty() {
            let mut positions: Vec<Value> = user
                .get("positions")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            // Before `everyone`, which the real server lists last.
            let at = positions
                .iter()
                .position(|q| q.as_str() == Some(crate::security::principal::EVERYONE))
                .unwrap_or(positions.len());
            let new: Vec<Value> = assigned
                .into_iter()
                .filter(|p| !positions.iter().any(|q| q.as_str() == Some(p.as_str())))
                .map(Value::String)
                .collect();
            positions.splice(at..at, new);
            user.insert("positions".into(), Value::Array(positions));
        }
        Ok(user)
    }

    /// Forgets every cached session (after a change of positions, a ban, a password change).
    pub(super) fn clear_session_cache(&self) {
        if let Ok(mut cache) = self.sessions.lock() {
            cache.clear();
        }
    }

    /// `token.base64(HMAC-SHA256(secret, token))`, the form handed out in `set-auth-token` and the cookie.
    pub fn sign(&self, token: &str) -> String {
        let tag = hmac::sign(&self.key, token.as_bytes());
        format!("{token}.{}", STANDARD.encode(tag.as_ref()))
    }

    /// The raw token of a bearer or cookie value: a signed value must carry a valid signature.
    fn unsign(&self, presented: &str) -> Option<String> {
        match presented.split_once('.') {
            None => Some(presented.to_string()),
            Some((token, sig)) => {
                let sig = STANDARD.decode(sig).ok()?;
                hmac::verify(&self.key, token.as_bytes(), &sig).ok()?;
                Some(token.to_string())
            }
        }
    }

    pub(super) async fn find_one(
        &self,
        object: &str,
        filter: Filter,
    ) -> Result<Option<Record>, DataError> {
        let query = Query {
            filter: Some(filter),
            limit: Some(1),
            count: false,
            ..Query::default()
        };
        match self
            .kernel
            .execute(
                &Principal::system(),
                DataOp::Find {
                    object: object.into(),
                    query,
                },
            )
            .await?
        {
            OpResult::List { mut records, .. } if !records.is_empty() => {
                Ok(Some(records.remove(0)))
            }
            _ => Ok(None),
        }
    }

    /// Writes one row of a runtime-provided object and returns it as stored.
    pub(super) async fn write_row(
        &self,
        principal: &Principal,
        op: DataOp,
    ) -> Result<Record, DataError> {
        self.kernel
            .execute(principal, op)
            .await?
            .into_record()
            .ok_or_else(|| DataError::Internal("unexpected result".into()))
    }

    /// Deletes the row of `object` that `row` was read from.
    pub(super) async fn delete_row(&self, object: &str, row: &Record) -> Result<(), DataError> {
        let id = row
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        self.kernel
            .execute(
                &Principal::system(),
                DataOp::Delete {
                    object: object.into(),
                    id,
                    expected_version: None,
                },
            )
            .await?;
        Ok(())
    }

    async fn user_count(&self) -> Result<u64, DataError> {
        let query = Query {
            limit: Some(1),
            count: true,
            ..Query::default()
        };
        match self
            .kernel
            .execute(
                &Principal::system(),
                DataOp::Find {
                    object: USER.into(),
                    query,
                },
            )
            .await?
        {
            OpResult::List { total, .. } => Ok(total.unwrap_or(0)),
            _ => Ok(0),
        }
    }

    /// The organization of the first administrator, which seed rows belong to.
    pub async fn default_organization(&self) -> Result<Option<String>, DataError> {
        let query = Query {
            limit: Some(1),
            order_by: vec![],
            ..Query::default()
        };
        match self
            .kernel
            .execute(
                &Principal::system(),
                DataOp::Find {
                    object: ORGANIZATION.into(),
                    query,
                },
            )
            .await?
        {
            OpResult::List { records, .. } => Ok(records
                .first()
                .and_then(|r| r.get("id"))
                .and_then(Value::as_str)
                .map(str::to_string)),
            _ => Ok(None),
        }
    }

    /// At boot: seed rows inserted since the first sign-up join the first administrator's organization.
    pub async fn adopt_seeds(&self) -> Result<u64, DataError> {
        let Some(org) = self.default_organization().await? else {
            return Ok(0);
        };
        let query = Query {
            filter: Some(eq("is_platform_admin", "true")),
            limit: Some(1),
            count: false,
            ..Query::default()
        };
        let admin = match self
            .kernel
            .execute(
                &Principal::system(),
                DataOp::Find {
                    object: USER.into(),
                    query,
                },
            )
            .await?
        {
            OpResult::List { records, .. } => records
                .first()
                .and_then(|r| r.get("id"))
                .and_then(Value::as_str)
                .map(str::to_string),
            _ => None,
        };
        self.kernel
            .adopt_unowned_rows(&org, admin.as_deref().unwrap_or_default())
            .await
    }

    pub(super) fn check_name(name: &str) -> Result<(), AuthError> {
        if name.chars().count() > MAX_NAME_LEN {
            return Err(AuthError::Invalid {
                field: "name",
                message: format!("name is at most {MAX_NAME_LEN} characters"),
            });
        }
        Ok(())
    }

    pub(super) fn check_credentials_shape(email: &str, password: &str) -> Result<(), AuthError> {
        if !email.contains('@') || email.chars().count() > MAX_EMAIL_LEN {
            return Err(AuthError::Invalid {
                field: "email",
                message: "email must be a valid email address".into(),
            });
        }
        if password.chars().count() < MIN_PASSWORD_LEN
            || password.chars().count() > MAX_PASSWORD_LEN
        {
            return Err(AuthError::Invalid {
                field: "password",
                message: format!(
                    "password must be {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters"
                ),
            });
        }
        Ok(())
    }

    pub(super) async fn hash_password(&self, password: &str) -> Result<String, AuthError> {
        self.hasher.hash(password).await?.map_err(|e| {
            AuthError::Data(DataError::Internal(format!("password hashing failed: {e}")))
        })
    }

    /// Self sign-up: the first user becomes platform admin with a personal organization (which adopts the seed
    /// rows); later self sign-ups are refused unless sign-up is open.
    pub async fn sign_up(
        &self,
        email: &str,
        password: &str,
        name: &str,
        ip: &str,
        user_agent: &str,
    ) -> Result<SignedIn, AuthError> {
        let email = email.trim().to_ascii_lowercase();
        Self::check_credentials_shape(&email, password)?;
        Self::check_name(name)?;
        let _guard = self.signup.lock().await;
        let first = self.user_count().await? == 0;
        if !first && !self.open_signup {
            return Err(AuthError::RegistrationClosed);
        }
        if self.find_one(USER, eq("email", &email)).await?.is_some() {
            return Err(AuthError::UserExists);
        }
        let (organization_id, positions) = if first {
            let org_id = format!(
                "org_{}",
                new_id().to_ascii_lowercase().replace(['-', '_'], "0")
            );
            let label = if name.trim().is_empty() {
                email.clone()
            } else {
                format!("{}'s organization", name.trim())
            };
            let rec = obj(json!({"id": org_id, "name": label, "slug": org_id}));
            self.kernel
                .execute(
                    &Principal::system(),
                    DataOp::Create {
                        object: ORGANIZATION.into(),
                        record: rec,
                    },
                )
                .await?;
            (
                org_id,
                FIRST_ADMIN_POSITIONS
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>(),
            )
        } else {
            let org = self.default_organization().await?.unwrap_or_default();
            (org, vec!["everyone".to_string()])
        };
        let user_id = new_id();
        let new_user = NewUser {
            id: &user_id,
            organization_id: &organization_id,
            email: &email,
            name,
            positions: &positions,
            is_platform_admin: first,
            admin_created: false,
        };
        self.create_user_row(new_user, password).await?;
        if first {
            self.kernel
                .adopt_unowned_rows(&organization_id, &user_id)
                .await?;
        }
        self.open_session(&user_id, ip, user_agent).await
    }

    pub(super) async fn create_user_row(
        &self,
        u: NewUser<'_>,
        password: &str,
    ) -> Result<Record, AuthError> {
        let NewUser {
            id: user_id,
            organization_id,
            email,
            name,
            positions,
            is_platform_admin,
            admin_created,
        } = u;
        let hash = self.hash_password(password).await?;
        let as_user = Principal {
            user_id: Some(user_id.to_string()),
            organization_id: Some(organization_id.to_string()),
            positions: vec![],
            is_system: true,
            elevated: false,
            email: None,
            request_id: None,
            plugin: None,
        };
        let rec = obj(json!({
            "id": user_id, "name": name.trim(), "email": email, "email_verified": false, "role": "user",
            "password_hash": hash, "positions": positions, "is_platform_admin": is_platform_admin, "banned": false,
            // A user an administrator created must choose their own password before touching data.
            "must_change_password": !is_platform_admin && admin_created
        }));
        match self
            .write_row(
                &as_user,
                DataOp::Create {
                    object: USER.into(),
                    record: rec,
                },
            )
            .await
        {
            Ok(r) => Ok(r),
            Err(DataError::Unique { .. }) => Err(AuthError::UserExists),
            Err(e) => Err(e.into()),
        }
    }

    /// Checks an email and password and opens a session. The attempt takes a slot under the client IP and the
    /// account before the password is checked (429 when either is full); a failure keeps it, a success frees it.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        ip: &str,
        user_agent: &str,
    ) -> Result<SignedIn, AuthError> {
        let email = email.trim().to_ascii_lowercase();
        // Bounded before anything is remembered: the failure table keys on the email.
        if email.chars().count() > MAX_EMAIL_LEN {
            return Err(AuthError::Invalid {
                field: "email",
                message: format!("email is at most {MAX_EMAIL_LEN} characters"),
            });
        }
        if password.chars().count() > MAX_PASSWORD_LEN {
            return Err(AuthError::Invalid {
                field: "password",
                message: format!("password is at most {MAX_PASSWORD_LEN} characters"),
            });
        }
        let (ip_key, account_key) = (format!("ip:{ip}"), format!("account:{email}"));
        let reservation = self
            .attempts
            .reserve(&[
                (&ip_key, self.limits.max_failures_per_ip),
                (&account_key, self.limits.max_failures_per_account),
            ])
            .map_err(AuthError::RateLimited)?;
        let user = match self.find_one(USER, eq("email", &email)).await {
            Ok(u) => u,
            Err(e) => {
                reservation.release();
                return Err(e.into());
            }
        };
        let hash = match &user {
            Some(u) if u.get("banned") != Some(&Value::Bool(true)) => {
                u.get("password_hash").and_then(Value::as_str).unwrap_or("")
            }
            // Spend the same time on an unknown or banned account.
            _ => DUMMY_HASH,
        };
        let ok = match self.hasher.verify(password, hash).await {
            Ok(ok) => ok && hash != DUMMY_HASH,
            Err(busy) => {
                reservation.release();
                return Err(busy.into());
            }
        };
        match (ok, user) {
            (true, Some(u)) => {
                reservation.release();
                let id = u
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                self.open_session(&id, ip, user_agent).await
            }
            _ => {
                reservation.keep();
                Err(AuthError::InvalidCredentials)
            }
        }
    }

    async fn open_session(
        &self,
        user_id: &str,
        ip: &str,
        user_agent: &str,
    ) -> Result<SignedIn, AuthError> {
        let token = random_token();
        let expires = crate::data::values::format_datetime(chrono::Utc::now() + self.session_ttl);
        let user = self
            .find_one(USER, eq("id", user_id))
            .await?
            .ok_or(AuthError::InvalidCredentials)?;
        let org = user.get("organization_id").cloned().unwrap_or(Value::Null);
        let as_user = Principal {
            user_id: Some(user_id.to_string()),
            organization_id: org.as_str().map(str::to_string),
            positions: vec![],
            is_system: true,
            elevated: false,
            email: None,
            request_id: None,
            plugin: None,
        };
        let rec = obj(
            json!({"token_hash": sha256_hex(&token), "user_id": user_id, "expires_at": expires, "active_organization_id": org,
            "ip_address": ip, "user_agent": user_agent}),
        );
        let session = self
            .write_row(
                &as_user,
                DataOp::Create {
                    object: SESSION.into(),
                    record: rec,
                },
            )
            .await?;
        let user = self.with_assigned_positions(user).await?;
        let identity = identity_of(user, Some(session), Some(token.clone()), None);
        Ok(SignedIn {
            signed_token: self.sign(&token),
            token,
            identity,
        })
    }

    /// Resolves `Authorization: Bearer …` (a session token, raw or signed, or an `osk_` API key) or the session
    /// cookie to an identity.
    pub async fn authenticate(&self, presented: &str) -> Result<Identity, AuthError> {
        let presented = presented.trim();
        if presented.is_empty() {
            return Err(AuthError::Unauthenticated);
        }
        if presented.starts_with("osk_") {
            return self.authenticate_api_key(presented).await;
        }
        let token = self.unsign(presented).ok_or(AuthError::Unauthenticated)?;
        let hash = sha256_hex(&token);
        if let Ok(cache) = self.sessions.lock()
            && let Some((identity, at, epoch)) = cache.get(&hash)
            && at.elapsed() < SESSION_CACHE_TTL
            && *epoch == self.kernel.security_epoch()
        {
            return Ok(identity.clone());
        }
        let session = self
            .find_one(SESSION, eq("token_hash", &hash))
            .await?
            .ok_or(AuthError::Unauthenticated)?;
        let expired = session
            .get("expires_at")
            .and_then(crate::data::values::parse_datetime)
            .is_none_or(|t| t < chrono::Utc::now());
        if expired {
            return Err(AuthError::Unauthenticated);
        }
        let user_id = session
            .get("user_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let user = self
            .find_one(USER, eq("id", &user_id))
            .await?
            .ok_or(AuthError::Unauthenticated)?;
        if user.get("banned") == Some(&Value::Bool(true)) {
            return Err(AuthError::Unauthenticated);
        }
        let epoch = self.kernel.security_epoch();
        let user = self.with_assigned_positions(user).await?;
        let identity = identity_of(user, Some(session), Some(token), None);
        if let Ok(mut cache) = self.sessions.lock() {
            if cache.len() > 100_000 {
                cache.clear();
            }
            cache.insert(hash, (identity.clone(), Instant::now(), epoch));
        }
        Ok(identity)
    }

    /// Changes the caller's password (the current one must be right); optionally ends their other sessions.
    pub async fn change_password(
        &self,
        who: &Identity,
        current: &str,
        new: &str,
        revoke_others: bool,
    ) -> Result<(), AuthError> {
        if who.api_key_id.is_some() {
            return Err(AuthError::Forbidden(
                "an API key cannot change a password; sign in".into(),
            ));
        }
        let user_id = who.principal.user_id.clone().unwrap_or_default();
        let user = self
            .find_one(USER, eq("id", &user_id))
            .await?
            .ok_or(AuthError::Unauthenticated)?;
        Self::check_credentials_shape(
            user.get("email").and_then(Value::as_str).unwrap_or("a@b"),
            new,
        )?;
        let hash = user
            .get("password_hash")
            .and_then(Value::as_str)
            .unwrap_or("");
        if current.chars().count() > MAX_PASSWORD_LEN {
            return Err(AuthError::Invalid {
                field: "currentPassword",
                message: format!("currentPassword is at most {MAX_PASSWORD_LEN} characters"),
            });
        }
        let key = format!("password:{user_id}");
        let reservation = self
            .attempts
            .reserve(&[(&key, self.limits.max_password_change_failures)])
            .map_err(AuthError::PasswordChangeLimited)?;
        match self.hasher.verify(current, hash).await {
            Ok(true) => reservation.release(),
            Ok(false) => {
                reservation.keep();
                return Err(AuthError::InvalidCredentials);
            }
            Err(busy) => {
                reservation.release();
                return Err(busy.into());
            }
        }
        let patch = obj(
            json!({"password_hash": self.hash_password(new).await?, "must_change_password": false}),
        );
        self.kernel
            .execute(
                &Principal::system(),
                DataOp::Update {
                    object: USER.into(),
                    id: user_id.clone(),
                    patch,
                    expected_version: None,
                },
            )
            .await?;
        if revoke_others {
            let current_hash = who.token.as_deref().map(sha256_hex);
            self.end_sessions_of(&user_id, current_hash.as_deref())
                .await?;
        }
        if let Ok(mut cache) = self.sessions.lock() {
            cache.clear();
        }
        Ok(())
    }

    pub async fn sign_out(&self, presented: &str) -> Result<(), AuthError> {
        let token = self
            .unsign(presented.trim())
            .ok_or(AuthError::Unauthenticated)?;
        let hash = sha256_hex(&token);
        if let Ok(mut cache) = self.sessions.lock() {
            cache.remove(&hash);
        }
        if let Some(session) = self.find_one(SESSION, eq("token_hash", &hash)).await? {
            self.delete_row(SESSION, &session).await?;
        }
        Ok(())
    }
}

pub(super) fn identity_of(
    user: Record,
    session: Option<Record>,
    token: Option<String>,
    api_key_id: Option<String>,
) -> Identity {
    let positions: Vec<String> = user
        .get("positions")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let organization_id = session
        .as_ref()
        .and_then(|s| s.get("active_organization_id"))
        .or_else(|| user.get("organization_id"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let principal = Principal {
        user_id: user.get("id").and_then(Value::as_str).map(str::to_string),
        organization_id,
        positions,
        is_system: false,
        elevated: false,
        email: user
            .get("email")
            .and_then(Value::as_str)
            .map(str::to_string),
        request_id: None,
        plugin: None,
    };
    Identity {
        is_platform_admin: principal.is_platform_admin(),
        principal,
        user,
        session,
        token,
        api_key_id,
    }
}

/// The user as better-auth answers it (no secrets).
pub fn public_user(user: &Record, with_positions: bool) -> Record {
    let g = |k: &str| user.get(k).cloned().unwrap_or(Value::Null);
    let mut m = Map::new();
    m.insert("name".into(), g("name"));
    m.insert("email".into(), g("email"));
    m.insert(
        "emailVerified".into(),
        Value::Bool(g("email_verified") == Value::Bool(true)),
    );
    m.insert("image".into(), g("image"));
    m.insert("createdAt".into(), g("created_at"));
    m.insert("updatedAt".into(), g("updated_at"));
    m.insert(
        "role".into(),
        if g("role").is_null() {
            json!("user")
        } else {
            g("role")
        },
    );
    m.insert(
        "banned".into(),
        Value::Bool(g("banned") == Value::Bool(true)),
    );
    m.insert("banReason".into(), Value::Null);
    m.insert("banExpires".into(), Value::Null);
    m.insert("id".into(), g("id"));
    if with_positions {
        m.insert(
            "positions".into(),
            if g("positions").is_null() {
                json!([])
            } else {
                g("positions")
            },
        );
        m.insert(
            "isPlatformAdmin".into(),
            Value::Bool(g("is_platform_admin") == Value::Bool(true)),
        );
    }
    m
}

/// The session as better-auth answers it.
pub fn public_session(identity: &Identity) -> Value {
    let Some(s) = &identity.session else {
        return Value::Null;
    };
    let g = |k: &str| s.get(k).cloned().unwrap_or(Value::Null);
    json!({
        "expiresAt": g("expires_at"), "token": identity.token, "createdAt": g("created_at"), "updatedAt": g("updated_at"),
        "ipAddress": g("ip_address"), "userAgent": g("user_agent"), "userId": g("user_id"),
        "activeOrganizationId": g("active_organization_id"), "activeTeamId": null, "impersonatedBy": null, "id": g("id")
    })
}
