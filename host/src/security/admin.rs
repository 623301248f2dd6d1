//! Administration: who may create users, change positions and ban, and over whom.
//!
//! - A **platform administrator** (position `platform_admin`) administers every user and is the only one who
//!   grants or removes `platform_admin` (and binds permission sets, checked by the kernel).
//! - An **organization owner** (position `org_owner`) administers the users of its own organization: it creates
//!   users there, sets their positions (never `platform_admin`) and bans them; a user of another organization is
//!   404 to it (as if absent), a platform administrator 403.
//! - Anyone else: 403 `PERMISSION_DENIED`. An API key acts with its creator's current rights, no more.

use super::auth::{AuthError, AuthService, Identity, NewUser, eq, obj, public_user};
use super::permissions::PLATFORM_ADMIN;
use super::system_objects::{SESSION, USER};
use crate::data::driver::Record;
use crate::data::error::DataError;
use crate::data::query::Query;
use crate::kernel::{DataOp, OpResult, Principal, new_id};
use serde_json::{Value, json};

pub const ORG_OWNER: &str = "org_owner";
/// Every user an administrator creates holds it.
pub const ORG_MEMBER: &str = "org_member";
/// Positions one user may hold at most.
pub const MAX_POSITIONS: usize = 64;
/// Longest position name.
pub const MAX_POSITION_LEN: usize = 100;

/// What the caller may administer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminScope {
    Platform,
    /// The organization an owner administers.
    Organization(String),
}

fn denied(message: &str) -> AuthError {
    AuthError::Forbidden(message.to_string())
}

fn positions_of(user: &Record) -> Vec<String> {
    user.get("positions")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A user row is a platform administrator by position or by the stored flag.
fn is_platform_admin_row(user: &Record) -> bool {
    user.get("is_platform_admin") == Some(&Value::Bool(true))
        || positions_of(user).iter().any(|p| p == PLATFORM_ADMIN)
}

fn check_positions(positions: &[String]) -> Result<(), AuthError> {
    if positions.len() > MAX_POSITIONS {
        return Err(AuthError::Invalid {
            field: "positions",
            message: format!("at most {MAX_POSITIONS} positions"),
        });
    }
    if let Some(bad) = positions
        .iter()
        .find(|p| p.trim().is_empty() || p.chars().count() > MAX_POSITION_LEN)
    {
        return Err(AuthError::Invalid {
            field: "positions",
            message: format!("a position is 1 to {MAX_POSITION_LEN} characters (got '{bad}')"),
        });
    }
    Ok(())
}

/// The runtime writing on the administrator's behalf (the audit log records who).
fn on_behalf(admin: &Identity) -> Principal {
    Principal {
        is_system: true,
        ..admin.principal.clone()
    }
}

fn not_found(user_id: &str) -> AuthError {
    AuthError::Data(DataError::RecordNotFound {
        object: USER.into(),
        id: user_id.into(),
    })
}

impl AuthService {
    /// The caller's administrative scope, or 403.
    pub fn admin_scope(&self, who: &Identity) -> Result<AdminScope, AuthError> {
        if who.principal.is_platform_admin() {
            return Ok(AdminScope::Platform);
        }
        let org = who
            .user
            .get("organization_id")
            .and_then(Value::as_str)
            .filter(|o| !o.is_empty());
        match org {
            Some(org) if who.principal.positions.iter().any(|p| p == ORG_OWNER) => {
                Ok(AdminScope::Organization(org.to_string()))
            }
            _ => Err(denied("only an administrator may do this")),
        }
    }

    /// The user `user_id` if the caller may administer them: another organization's user is 404 to an owner,
    /// a platform administrator 403.
    async fn administered_user(
        &self,
        scope: &AdminScope,
        user_id: &str,
    ) -> Result<Record, AuthError> {
        let user = self
            .find_one(USER, eq("id", user_id))
            .await?
            .ok_or_else(|| not_found(user_id))?;
        if let AdminScope::Organization(org) = scope {
            if user.get("organization_id").and_then(Value::as_str) != Some(org.as_str()) {
                return Err(not_found(user_id));
            }
            if is_platform_admin_row(&user) {
                return Err(denied(
                    "only a platform administrator may change a platform administrator",
                ));
            }
        }
        Ok(user)
    }

    /// An administrator creates a user in their organization; the answer is the public user and its `organizationId`.
    pub async fn admin_create_user(
        &self,
        admin: &Identity,
        email: &str,
        password: &str,
        name: &str,
        positions: &[String],
    ) -> Result<Record, AuthError> {
        let scope = self.admin_scope(admin)?;
        check_positions(positions)?;
        Self::check_name(name)?;
        if scope != AdminScope::Platform && positions.iter().any(|p| p == PLATFORM_ADMIN) {
            return Err(denied(
                "only a platform administrator grants the platform_admin position",
            ));
        }
        let email = email.trim().to_ascii_lowercase();
        Self::check_credentials_shape(&email, password)?;
        let org = admin
            .user
            .get("organization_id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| admin.principal.organization_id.clone())
            .unwrap_or_default();
        // As on the real server: a created user is an organization member, then what was asked, then everyone.
        let mut positions: Vec<String> = std::iter::once(ORG_MEMBER.to_string())
            .chain(positions.iter().filter(|p| *p != ORG_MEMBER).cloned())
            .collect();
        if !positions.iter().any(|p| p == "everyone") {
            positions.push("everyone".into());
        }
        let is_platform_admin = positions.iter().any(|p| p == PLATFORM_ADMIN);
        let user = self
            .create_user_row(
                NewUser {
                    id: &new_id(),
                    organization_id: &org,
                    email: &email,
                    name,
                    positions: &positions,
                    is_platform_admin,
                    admin_created: true,
                },
                password,
            )
            .await?;
        let mut public = public_user(&user, false);
        public.insert("organizationId".into(), Value::String(org));
        Ok(public)
    }

    /// An administrator replaces a user's positions (permission sets bind to positions). Only a platform
    /// administrator grants or removes `platform_admin`.
    pub async fn admin_set_positions(
        &self,
        admin: &Identity,
        user_id: &str,
        positions: &[String],
    ) -> Result<Record, AuthError> {
        let scope = self.admin_scope(admin)?;
        check_positions(positions)?;
        let user = self.administered_user(&scope, user_id).await?;
        let grants_platform = positions.iter().any(|p| p == PLATFORM_ADMIN);
        if scope != AdminScope::Platform && grants_platform {
            return Err(denied(
                "only a platform administrator grants the platform_admin position",
            ));
        }
        let patch = obj(json!({ "positions": positions, "is_platform_admin": grants_platform }));
        let op = DataOp::Update {
            object: USER.into(),
            id: user_id.into(),
            patch,
            expected_version: None,
        };
        let updated = self.write_row(&on_behalf(admin), op).await?;
        drop(user);
        self.clear_session_cache();
        Ok(public_user(&updated, false))
    }

    /// An administrator bans (ends every session; sign-in, sessions and API keys refused) or unbans a user.
    pub async fn admin_set_banned(
        &self,
        admin: &Identity,
        user_id: &str,
        banned: bool,
    ) -> Result<Record, AuthError> {
        let scope = self.admin_scope(admin)?;
        if admin.principal.user_id.as_deref() == Some(user_id) {
            return Err(denied("an administrator cannot ban or unban themselves"));
        }
        self.administered_user(&scope, user_id).await?;
        let op = DataOp::Update {
            object: USER.into(),
            id: user_id.into(),
            patch: obj(json!({ "banned": banned })),
            expected_version: None,
        };
        let updated = self.write_row(&on_behalf(admin), op).await?;
        if banned {
            self.end_sessions_of(user_id, None).await?;
        }
        self.clear_session_cache();
        Ok(public_user(&updated, true))
    }

    /// Deletes the sessions of `user_id`, except the one whose token hash is `keep`.
    pub(super) async fn end_sessions_of(
        &self,
        user_id: &str,
        keep: Option<&str>,
    ) -> Result<(), AuthError> {
        let query = Query {
            filter: Some(eq("user_id", user_id)),
            limit: Some(10_000),
            ..Query::default()
        };
        if let OpResult::List { records, .. } = self
            .kernel
            .execute(
                &Principal::system(),
                DataOp::Find {
                    object: SESSION.into(),
                    query,
                },
            )
            .await?
        {
            for s in records {
                if keep.is_some() && s.get("token_hash").and_then(Value::as_str) == keep {
                    continue;
                }
                self.delete_row(SESSION, &s).await?;
            }
        }
        Ok(())
    }
}
