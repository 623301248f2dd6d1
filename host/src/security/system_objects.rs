//! Runtime-provided objects (users, organizations, sessions, API keys). They live in the business database
//! beside the artifact's objects, go through the same driver and schema sync, and are never served by the
//! data routes (they are `internal`).

use crate::artifact::model::ObjectDef;
use serde_json::{Value, json};

pub const USER: &str = "sys_user";
pub const ORGANIZATION: &str = "sys_organization";
pub const SESSION: &str = "sys_session";
pub const API_KEY: &str = "sys_api_key";
/// Which permission sets an administrator bound to which position.
pub const POSITION_PERMISSION_SET: &str = "sys_position_permission_set";

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
                "position": {"type": "text", "required": true, "maxLength": 200},
                "permission_set": {"type": "text", "required": true, "maxLength": 200}
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
