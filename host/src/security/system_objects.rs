//! Runtime-provided objects (users, organizations, sessions, API keys, the security rows). They live in the
//! business database beside the artifact's objects, go through the same driver and schema sync, and are not
//! served by the data routes (they are `internal`), except the security rows ([`ADMIN_MANAGED`]), which a
//! platform administrator manages there as on the real server.

use crate::artifact::model::ObjectDef;
use serde_json::{Value, json};

pub const USER: &str = "sys_user";
pub const ORGANIZATION: &str = "sys_organization";
pub const SESSION: &str = "sys_session";
pub const API_KEY: &str = "sys_api_key";
/// Which permission sets an administrator bound to which position.
pub const POSITION_PERMISSION_SET: &str = "sys_position_permission_set";
/// The positions: the artifact's and the runtime's own (a mirror, written at boot).
pub const POSITION: &str = "sys_position";
/// The artifact's permission sets (a mirror, written at boot).
pub const PERMISSION_SET: &str = "sys_permission_set";
/// Which user holds which position (beside the positions an administrator sets on the user).
pub const USER_POSITION: &str = "sys_user_position";

/// Runtime objects a platform administrator reads and writes through the data routes.
pub const ADMIN_MANAGED: &[&str] = &[
    POSITION,
    PERMISSION_SET,
    POSITION_PERMISSION_SET,
    USER_POSITION,
];
/// Of those, the ones that mirror the artifact: read-only for everyone but the runtime.
pub const MIRRORS: &[&str] = &[POSITION, PERMISSION_SET];

pub fn definitions() -> Vec<ObjectDef> {
    let defs = json!([
        {
            "name": ORGANIZATION, "label": "Organization", "ownership": "none",
            "fields": {
                "name": {"type": "text", "required": true, "maxLength": 200},
                "slug": {"type": "text", "unique": true, "maxLength": 100}
            }
        },
        {
            "name": USER, "label": "User", "ownership": "none",
            "fields": {
                "name": {"type": "text", "maxLength": 200},
                "email": {"type": "email", "required": true, "unique": true},
                "email_verified": {"type": "boolean"},
                "image": {"type": "text"},
                "role": {"type": "text"},
                "password_hash": {"type": "secret"},
                "positions": {"type": "json"},
                "is_platform_admin": {"type": "boolean"},
                "banned": {"type": "boolean"},
                "must_change_password": {"type": "boolean"}
            }
        },
        {
            "name": SESSION, "label": "Session", "ownership": "none",
            "fields": {
                "token_hash": {"type": "text", "required": true, "unique": true},
                "user_id": {"type": "text", "required": true},
                "expires_at": {"type": "datetime", "required": true},
                "active_organization_id": {"type": "text"},
                "ip_address": {"type": "text"},
                "user_agent": {"type": "text"}
            }
        },
        {
            "name": POSITION_PERMISSION_SET, "label": "Position Permission Set", "ownership": "none",
            "fields": {
                "position_id": {"type": "lookup", "reference": POSITION, "required": true},
                "permission_set_id": {"type": "lookup", "reference": PERMISSION_SET, "required": true}
            }
        },
        {
            "name": POSITION, "label": "Position", "ownership": "none",
            "fields": {
                "label": {"type": "text", "maxLength": 200},
                "name": {"type": "text", "required": true, "unique": true, "maxLength": 200},
                "description": {"type": "textarea"},
                "active": {"type": "boolean"},
                "is_default": {"type": "boolean"},
                "delegatable": {"type": "boolean"},
                "managed_by": {"type": "text", "maxLength": 40}
            }
        },
        {
            "name": PERMISSION_SET, "label": "Permission Set", "ownership": "none",
            "fields": {
                "label": {"type": "text", "maxLength": 200},
                "name": {"type": "text", "required": true, "unique": true, "maxLength": 200},
                "description": {"type": "textarea"},
                "active": {"type": "boolean"},
                "managed_by": {"type": "text", "maxLength": 40}
            }
        },
        {
            "name": USER_POSITION, "label": "User Position", "ownership": "none",
            "fields": {
                "user_id": {"type": "lookup", "reference": USER, "required": true},
                "position": {"type": "text", "required": true, "maxLength": 200},
                "business_unit_id": {"type": "text", "maxLength": 200},
                // The grant's bookkeeping, as the real server keeps it (stored, not yet acted on).
                "granted_by": {"type": "text", "maxLength": 200},
                "valid_from": {"type": "datetime"},
                "valid_until": {"type": "datetime"},
                "reason": {"type": "text", "maxLength": 2000},
                "delegated_from": {"type": "text", "maxLength": 200},
                "last_certified_at": {"type": "datetime"},
                "certified_by": {"type": "text", "maxLength": 200}
            }
        },
        {
            "name": API_KEY, "label": "API Key", "ownership": "none",
            "fields": {
                "name": {"type": "text", "required": true, "maxLength": 200},
                "key_hash": {"type": "text", "required": true, "unique": true},
                "key_prefix": {"type": "text"},
                "user_id": {"type": "text", "required": true},
                "expires_at": {"type": "datetime"},
                "revoked": {"type": "boolean"}
            }
        }
    ]);
    let mut defs = defs;
    if let Value::Array(list) = &mut defs {
        list.push(crate::audit::definition());
    }
    serde_json::from_value(defs).unwrap_or_default()
}
