//! Which permission sets are bound to which position: read at boot, replaced by a platform administrator
//! (`POST /api/v1/auth/admin/bind-permission-sets`), kept in `sys_position_permission_set`.

use super::{Kernel, Principal};
use crate::data::driver::Record;
use crate::data::error::DataError;
use crate::data::filter::{Condition, Filter, Operand};
use crate::data::query::Query;
use crate::security::system_objects::POSITION_PERMISSION_SET;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

impl Kernel {
    /// Reads the position → permission-set bindings an administrator made (kept in the database).
    pub(crate) async fn load_permission_bindings(&self) -> Result<(), DataError> {
        let schema = self.object(POSITION_PERMISSION_SET)?.clone();
        let cols: Vec<_> = schema.stored_fields().collect();
        let rows = {
            let mut tx = self.driver.reader().await?;
            tx.find(&schema, &Query::default(), &cols, None).await?
        };
        let mut bound: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for r in rows {
            if let (Some(Value::String(p)), Some(Value::String(set))) =
                (r.get("position"), r.get("permission_set"))
            {
                bound.entry(p.clone()).or_default().insert(set.clone());
            }
        }
        for (position, sets) in bound {
            self.permissions.bind(&position, sets);
        }
        Ok(())
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
        if let Some(unknown) = sets.iter().find(|s| !self.permissions.has_set(s)) {
            return Err(DataError::invalid_field(
                POSITION_PERMISSION_SET,
                "permissionSets",
                format!("no permission set named '{unknown}' in the artifact"),
            ));
        }
        let schema = self.object(POSITION_PERMISSION_SET)?.clone();
        let system = Principal::system();
        let mut tx = self.driver.begin().await?;
        let q = Query {
            filter: Some(Filter::Cond(Condition {
                field: "position".into(),
                op: crate::data::filter::Op::Eq,
                operand: Operand::Value(Value::String(position.to_string())),
            })),
            ..Query::default()
        };
        let id_col: Vec<_> = schema.field("id").into_iter().collect();
        for row in tx.find(&schema, &q, &id_col, None).await? {
            if let Some(Value::String(id)) = row.get("id") {
                tx.delete(&schema, id, None).await?;
            }
        }
        let unique: BTreeSet<String> = sets.iter().cloned().collect();
        let mut cx = super::hooks::WriteCx::at_depth(0);
        for set in &unique {
            let record: Record = [
                ("position".to_string(), Value::String(position.to_string())),
                ("permission_set".to_string(), Value::String(set.clone())),
            ]
            .into_iter()
            .collect();
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
        tx.commit().await?;
        self.permissions.bind(position, unique.clone());
        Ok(unique.into_iter().collect())
    }
}
