//! The security rows, managed as on the real server: `sys_position` and `sys_permission_set` mirror the
//! artifact's positions and permission sets (written at boot, read-only afterwards); `sys_position_permission_set`
//! binds a position to a permission set; `sys_user_position` gives a user a position. A platform administrator
//! reads and writes them through the data routes (or binds with `POST /api/v1/auth/admin/bind-permission-sets`).
//! The kernel keeps the bindings in memory, reloads them after every write to the security rows, and moves the
//! security epoch, so that cached sessions are resolved again.

use super::{Kernel, Principal};
use crate::data::driver::Record;
use crate::data::error::DataError;
use crate::data::filter::{Condition, Filter, Op, Operand};
use crate::data::query::Query;
use crate::security::principal::{EVERYONE, PLATFORM_ADMIN};
use crate::security::system_objects::{
    ADMIN_MANAGED, MIRRORS, PERMISSION_SET, POSITION, POSITION_PERMISSION_SET, USER_POSITION,
};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;

/// The runtime's own positions, mirrored beside the artifact's.
const RUNTIME_POSITIONS: &[(&str, &str)] = &[
    (PLATFORM_ADMIN, "Platform Administrator"),
    ("org_owner", "Organization Owner"),
    ("org_member", "Organization Member"),
    (EVERYONE, "Everyone"),
];

fn eq(field: &str, value: &str) -> Query {
    Query {
        filter: Some(Filter::Cond(Condition {
            field: field.into(),
            op: Op::Eq,
            operand: Operand::Value(Value::String(value.to_string())),
        })),
        ..Query::default()
    }
}

/// An id in the real server's style for a mirrored row: a prefix and 16 lowercase letters and digits.
fn mirror_id(prefix: &str) -> String {
    let id: String = crate::data::ids::new_id()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '0' })
        .collect();
    format!("{prefix}{id}")
}

fn text(r: &Record, k: &str) -> Option<String> {
    r.get(k).and_then(Value::as_str).map(str::to_string)
}

fn record(v: Value) -> Record {
    match v {
        Value::Object(m) => m.into_iter().collect(),
        _ => Record::new(),
    }
}

impl Kernel {
    /// Whether a write to `object` changes who may do what (then the bindings reload and the epoch moves).
    pub(crate) fn is_security_row(object: &str) -> bool {
        ADMIN_MANAGED.contains(&object)
    }

    /// Moves whenever a security row changes: sessions resolved under an older epoch are resolved again.
    pub fn security_epoch(&self) -> u64 {
        self.security_epoch.load(Ordering::Acquire)
    }

    /// After a committed write to a security row: the bindings are read again and the epoch moves.
    pub(crate) async fn security_rows_changed(&self) -> Result<(), DataError> {
        let result = self.load_permission_bindings().await;
        self.security_epoch.fetch_add(1, Ordering::AcqRel);
        result
    }

    /// Only the runtime writes the mirrors of the artifact.
    pub(crate) fn refuse_mirror_write(
        principal: &Principal,
        object: &str,
    ) -> Result<(), DataError> {
        if MIRRORS.contains(&object) && !principal.is_system {
            return Err(DataError::PermissionDenied {
                object: object.into(),
                field: None,
                message: format!(
                    "{object} mirrors the artifact's definitions and is read-only; change the artifact instead"
                ),
            });
        }
        Ok(())
    }

    async fn rows(&self, object: &str, q: &Query) -> Result<Vec<Record>, DataError> {
        let schema = self.object(object)?.clone();
        let cols: Vec<_> = schema.stored_fields().collect();
        let mut tx = self.driver.reader().await?;
        tx.find(&schema, q, &cols, None).await
    }

    /// Writes the mirrors: a row for every position and permission set the artifact declares (and the
    /// runtime's own positions) that has none yet. Ids, once given, stay.
    pub(crate) async fn mirror_security_definitions(&self) -> Result<(), DataError> {
        let def = &self.artifact.definition;
        let mut positions: Vec<Record> = RUNTIME_POSITIONS
            .iter()
            .map(|(name, label)| {
                record(json!({"label": label, "name": name, "description": null, "active": true,
                    "is_default": *name == EVERYONE, "delegatable": false, "managed_by": "platform"}))
            })
            .collect();
        for p in &def.positions {
            let extra = |k: &str| p.extra.get(k).cloned().unwrap_or(Value::Null);
            positions.push(record(json!({
                "label": p.label.clone().unwrap_or_else(|| p.name.clone()), "name": p.name,
                "description": extra("description"), "active": extra("active").as_bool().unwrap_or(true),
                "is_default": extra("isDefault").as_bool().unwrap_or(false),
                "delegatable": extra("delegatable").as_bool().unwrap_or(false), "managed_by": "admin"})));
        }
        let sets: Vec<Record> = def
            .permissions
            .iter()
            .map(|s| {
                record(json!({"label": s.label.clone().unwrap_or_else(|| s.name.clone()), "name": s.name,
                    "description": null, "active": true, "managed_by": "package"}))
            })
            .collect();
        let system = Principal::system();
        for (object, prefix, wanted) in [
            (POSITION, "position_", positions),
            (PERMISSION_SET, "ps_", sets),
        ] {
            let have: BTreeSet<String> = self
                .rows(object, &Query::default())
                .await?
                .iter()
                .filter_map(|r| text(r, "name"))
                .collect();
            for mut row in wanted {
                if text(&row, "name").is_some_and(|n| have.contains(&n)) {
                    continue;
                }
                row.insert("id".into(), Value::String(mirror_id(prefix)));
                self.execute(
                    &system,
                    super::DataOp::Create {
                        object: object.into(),
                        record: row,
                    },
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Reads the position → permission-set bindings (kept in the database) into memory, replacing the old ones.
    pub(crate) async fn load_permission_bindings(&self) -> Result<(), DataError> {
        let names = |rows: Vec<Record>| -> HashMap<String, String> {
            rows.iter()
                .filter_map(|r| Some((text(r, "id")?, text(r, "name")?)))
                .collect()
        };
        let positions = names(self.rows(POSITION, &Query::default()).await?);
        let sets = names(self.rows(PERMISSION_SET, &Query::default()).await?);
        let mut bound: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for r in self
            .rows(POSITION_PERMISSION_SET, &Query::default())
            .await?
        {
            let position = text(&r, "position_id").and_then(|id| positions.get(&id).cloned());
            let set = text(&r, "permission_set_id").and_then(|id| sets.get(&id).cloned());
            if let (Some(p), Some(s)) = (position, set) {
                bound.entry(p).or_default().insert(s);
            }
        }
        self.permissions.replace_bindings(bound);
        Ok(())
    }

    /// The positions `user_id` holds through `sys_user_position` rows.
    /// A grant applies within its `valid_from` / `valid_until` window (either may be empty), checked when a
    /// session's positions are worked out.
    pub async fn assigned_positions(&self, user_id: &str) -> Result<Vec<String>, DataError> {
        let now = chrono::Utc::now();
        let at = |r: &Record, field: &str| {
            text(r, field).and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
        };
        Ok(self
            .rows(USER_POSITION, &eq("user_id", user_id))
            .await?
            .iter()
            .filter(|r| at(r, "valid_from").is_none_or(|from| from <= now))
            .filter(|r| at(r, "valid_until").is_none_or(|until| until > now))
            .filter_map(|r| text(r, "position"))
            .collect())
    }

    /// An administrator replaces the permission sets bound to a position (`[]` unbinds them all).
    pub async fn bind_permission_sets(
        &self,
        admin: &Principal,
        position: &str,
        sets: &[String],
    ) -> Result<Vec<String>, DataError> {
        if !admin.is_system && !admin.is_platform_admin() {
            return Err(DataError::PermissionDenied {
                object: POSITION_PERMISSION_SET.into(),
                field: None,
                message: "Only a platform administrator binds permission sets to positions".into(),
            });
        }
        let position = position.trim();
        if position.is_empty() {
            return Err(DataError::invalid_field(
                POSITION_PERMISSION_SET,
                "position",
                "position is required",
            ));
        }
        let position_id = match self
            .rows(POSITION, &eq("name", position))
            .await?
            .first()
            .and_then(|r| text(r, "id"))
        {
            Some(id) => id,
            // A position the artifact does not declare: the administrator makes it here.
            None => {
                let id = mirror_id("position_");
                let row = record(
                    json!({"id": id, "label": position, "name": position, "description": null,
                    "active": true, "is_default": false, "delegatable": false, "managed_by": "admin"}),
                );
                self.execute(
                    &Principal::system(),
                    super::DataOp::Create {
                        object: POSITION.into(),
                        record: row,
                    },
                )
                .await?;
                id
            }
        };
        let unique: BTreeSet<String> = sets.iter().cloned().collect();
        let mut set_ids = Vec::new();
        for set in &unique {
            let id = self
                .rows(PERMISSION_SET, &eq("name", set))
                .await?
                .first()
                .and_then(|r| text(r, "id"))
                .ok_or_else(|| {
                    DataError::invalid_field(
                        POSITION_PERMISSION_SET,
                        "permissionSets",
                        format!("no permission set named '{set}' in the artifact"),
                    )
                })?;
            set_ids.push(id);
        }
        let schema = self.object(POSITION_PERMISSION_SET)?.clone();
        let system = Principal::system();
        let mut tx = self.driver.begin().await?;
        let id_col: Vec<_> = schema.field("id").into_iter().collect();
        let written = async {
            for row in tx
                .find(&schema, &eq("position_id", &position_id), &id_col, None)
                .await?
            {
                if let Some(Value::String(id)) = row.get("id") {
                    tx.delete(&schema, id, None).await?;
                }
            }
            let mut cx = super::hooks::WriteCx::at_depth(0);
            for set_id in &set_ids {
                let record =
                    record(json!({"position_id": position_id, "permission_set_id": set_id}));
                self.write_in(
                    &mut *tx,
                    &system,
                    super::DataOp::Create {
                        object: POSITION_PERMISSION_SET.into(),
                        record,
                    },
                    &mut cx,
                )
                .await?;
            }
            Ok::<_, DataError>(())
        }
        .await;
        match written {
            Ok(()) => tx.commit().await?,
            Err(e) => {
                if let Err(undo) = tx.rollback().await {
                    tracing::error!("rolling back a failed binding: {undo}");
                }
                return Err(e);
            }
        }
        self.security_rows_changed().await?;
        Ok(unique.into_iter().collect())
    }
}
