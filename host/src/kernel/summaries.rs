//! Summary (roll-up) fields: `summaryOperations {object, field, function, filter?, relationshipField?}` computed on
//! read over the child records that point at each parent, with one grouped aggregate query per summary field and
//! page. Children are counted within the reader's organization and regardless of the reader's own permissions on
//! the child object (the parent's field is what the reader is shown, as on the real server).

use super::{Kernel, Principal};
use crate::artifact::fields::FieldType;
use crate::data::catalog::ObjectSchema;
use crate::data::driver::{Record, Transaction};
use crate::data::error::DataError;
use crate::data::query::Query;
use serde_json::{Value, json};

impl Kernel {
    /// The declared `summaryOperations` of a summary field.
    fn summary_spec(&self, object: &str, field: &str) -> Option<Value> {
        self.artifact
            .raw
            .get("objects")?
            .as_array()?
            .iter()
            .find(|o| o.get("name").and_then(Value::as_str) == Some(object))?
            .get("fields")?
            .get(field)?
            .get("summaryOperations")
            .cloned()
    }

    /// Fills the summary fields of `records` (only the selected ones when the query selects fields).
    pub(crate) async fn compute_summaries(
        &self,
        tx: &mut dyn Transaction,
        principal: &Principal,
        schema: &ObjectSchema,
        selected: Option<&Vec<String>>,
        records: &mut [Record],
    ) -> Result<(), DataError> {
        let ids: Vec<Value> = records
            .iter()
            .filter_map(|r| r.get("id").filter(|v| v.is_string()).cloned())
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let fields: Vec<String> = schema
            .fields
            .iter()
            .filter(|f| f.ftype == FieldType::Summary)
            .filter(|f| selected.is_none_or(|names| names.contains(&f.name)))
            .map(|f| f.name.clone())
            .collect();
        for name in fields {
            let values = match self.summarize(tx, principal, schema, &name, &ids).await {
                Ok(v) => v,
                Err(e) => {
                    tracing::debug!(object = %schema.name, field = %name, "summary not computed: {e}");
                    None
                }
            };
            for r in records.iter_mut() {
                let id = r
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let v = values.as_ref().map(|(by_id, empty)| {
                    by_id
                        .iter()
                        .find(|(k, _)| *k == id)
                        .map_or(empty.clone(), |(_, v)| v.clone())
                });
                r.insert(name.clone(), v.unwrap_or(Value::Null));
            }
        }
        Ok(())
    }

    /// (parent id → value, the value of a parent with no children), or `None` when the field is not a
    /// summary this runtime can compute.
    async fn summarize(
        &self,
        tx: &mut dyn Transaction,
        principal: &Principal,
        parent: &ObjectSchema,
        field: &str,
        ids: &[Value],
    ) -> Result<Option<(Vec<(String, Value)>, Value)>, DataError> {
        let Some(spec) = self.summary_spec(&parent.name, field) else {
            return Ok(None);
        };
        let text = |k: &str| spec.get(k).and_then(Value::as_str);
        let (Some(child_name), Some(function)) = (text("object"), text("function")) else {
            return Ok(None);
        };
        let Some(child) = self.catalog.object(child_name).cloned() else {
            return Ok(None);
        };
        let link = match text("relationshipField") {
            Some(f) => child.field(f).cloned(),
            None => child
                .fields
                .iter()
                .find(|f| f.reference.as_deref() == Some(parent.name.as_str()) && !f.system)
                .cloned(),
        };
        let Some(link) = link else {
            return Ok(None);
        };
        let mut conditions = vec![json!({link.name.clone(): {"$in": ids}})];
        if let Some(filter) = spec.get("filter").filter(|f| f.is_object() || f.is_array()) {
            conditions.push(filter.clone());
        }
        let mut aggregation = json!({"function": function, "alias": "v"});
        if function != "count"
            && let Some(f) = text("field")
        {
            aggregation["field"] = json!(f);
        }
        let body = json!({
            "where": {"$and": conditions},
            "groupBy": [link.name],
            "aggregations": [aggregation],
        });
        let system = Principal::system();
        let q = Query::from_json(&self.catalog, &child, &body, &system.macro_context())?;
        // Within the reader's organization only.
        let q = self.scoped(principal, &child, &q);
        let (rows, _) = tx.aggregate(&child, &q).await?;
        let by_id = rows
            .iter()
            .filter_map(|r| {
                let id = r.get(&link.name)?.as_str()?.to_string();
                Some((id, r.get("v").cloned().unwrap_or(Value::Null)))
            })
            .collect();
        let empty = if function == "count" || function == "sum" {
            json!(0)
        } else {
            Value::Null
        };
        Ok(Some((by_id, empty)))
    }
}
