//! Who is asking: the [`Principal`] every operation runs as. The kernel decides what it may do
//! (`security::permissions`); this file only says who it is.

use crate::data::filter::MacroContext;
use std::sync::Arc;

/// The built-in position every user holds.
pub const EVERYONE: &str = "everyone";
/// The built-in position that bypasses permission sets (audited as such).
pub const PLATFORM_ADMIN: &str = "platform_admin";

/// Who is asking. Every operation runs as a principal; there is no anonymous data access.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Principal {
    pub user_id: Option<String>,
    pub organization_id: Option<String>,
    pub positions: Vec<String>,
    /// The runtime itself (seeds, migrations, identity bookkeeping): the only principal that reaches the
    /// runtime's internal objects (`sys_*`) and crosses organizations. Never code of the artifact or a plugin.
    pub is_system: bool,
    /// Code acting for this caller with elevated rights (an action or hook declared `runAs: "system"`, a
    /// plugin): the artifact's permission sets do not restrict it, but it stays inside the caller's
    /// organization and never reaches the runtime's internal objects.
    pub elevated: bool,
    /// The user's email (`current_user.email` in RLS policies).
    pub email: Option<String>,
    /// The HTTP request this principal acts in (recorded in the audit log).
    pub request_id: Option<String>,
    /// Set when a plugin acts: its data calls are limited to its granted capabilities.
    pub plugin: Option<Arc<crate::plugins::runtime::PluginPrincipal>>,
}

impl Principal {
    /// The runtime itself (seeds, migrations).
    pub fn system() -> Principal {
        Principal {
            is_system: true,
            ..Principal::default()
        }
    }

    pub fn user(user_id: &str, organization_id: Option<&str>) -> Principal {
        Principal {
            user_id: Some(user_id.to_string()),
            organization_id: organization_id.map(str::to_string),
            positions: vec!["everyone".to_string()],
            ..Principal::default()
        }
    }

    /// Holds the built-in `platform_admin` position: permission sets do not restrict it (its writes are
    /// audited as such).
    pub fn is_platform_admin(&self) -> bool {
        !self.is_system && self.positions.iter().any(|p| p == PLATFORM_ADMIN)
    }

    /// The same caller, elevated (`runAs: "system"`): see [`Principal::elevated`].
    pub fn elevated(&self) -> Principal {
        Principal {
            elevated: true,
            ..self.clone()
        }
    }

    /// Not restricted by the artifact's permission sets: the runtime, elevated code, a platform admin.
    pub fn bypasses_permission_sets(&self) -> bool {
        self.is_system || self.elevated || self.is_platform_admin()
    }

    pub fn macro_context(&self) -> MacroContext {
        MacroContext::now(self.user_id.clone(), self.organization_id.clone())
    }
}
