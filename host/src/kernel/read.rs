//! Reads: `find` and `get` with their hooks, the caller's access folded into the query (organization,
//! owner scope, RLS, the page cap), `expand` of lookups, formula fields, projection and field masking.

use super::enforce::{check_query_fields, mask, readable_search, readable_select};
use super::hooks::{EventInput, WriteCx};
use super::{Kernel, OpResult, Principal, id_filter};
use crate::artifact::fields::FieldType;
use crate::data::catalog::{Catalog, FieldSchema, ObjectSchema};
use crate::data::driver::{Record, Transaction};
use crate::data::error::DataError;
use crate::data::filter::{Condition, Filter, Op, Operand};
use crate::data::query::{Query, check_sort_fields};
use crate::security::permissions::{Access, Operation};
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};

impl Kernel {
    /// Fills formula fields from the stored fields (a formula that cannot be evaluated reads as null).
    /// Only the selected ones when the query selects fields. A formula sees only the fields the reader may
    /// read (`access`), so it never reveals a value derived from a hidden one.
    pub(crate) fn compute_formulas(
        &self,
        schema: &ObjectSchema,
        access: &Access,
        selected: Option<&Vec<String>>,
        records: &mut [Record],
    ) {
        let formulas: Vec<(&str, &crate::expr::Compiled)> = schema
            .fields
            .iter()
            .filter(|f| f.ftype == FieldType::Formula)
            .filter(|f| selected.is_none_or(|names| names.contains(&f.name)))
            .filter_map(|f| {
                self.formulas
                    .get(&(schema.name.clone(), f.name.clone()))
                    .map(|c| (f.name.as_str(), c))
            })
            .collect();
        if formulas.is_empty() {
            return;
        }
        let now = chrono::Utc::now();
        let hidden = (!access.unreadable.is_empty()).then_some(&access.unreadable);
        for r in records.iter_mut() {
            let visible = hidden.map(|h| {
                let mut v = r.clone();
                v.retain(|k, _| !h.contains(k));
                v
            });
            for (name, compiled) in &formulas {
                let v = compiled.evaluate_on(visible.as_ref().unwrap_or(r), now).unwrap_or_else(|e| {
                    tracing::debug!(object = %schema.name, field = %name, "formula not evaluated: {e}");
                    Value::Null
                });
                r.insert((*name).to_string(), v);
            }
        }
    }

    /// Parses a QueryAST body for an object, resolving macros for the principal.
    pub fn parse_query(
        &self,
        principal: &Principal,
        object: &str,
        body: &Value,
    ) -> Result<Query, DataError> {
        let schema = self.object_for(principal, object)?;
        Query::from_json(&self.catalog, schema, body, &principal.macro_context())
    }

    /// [`Kernel::parse_query`] for a query from a URL or a request body (see [`ParseOptions`]).
    pub fn parse_query_with(
        &self,
        principal: &Principal,
        object: &str,
        body: &Value,
        opts: &crate::data::query::ParseOptions,
    ) -> Result<Query, DataError> {
        let schema = self.object_for(principal, object)?;
        Query::from_json_with(
            &self.catalog,
            schema,
            body,
            &principal.macro_context(),
            opts,
        )
    }

    pub(crate) async fn find(
        &self,
        principal: &Principal,
        object: &str,
        q: &Query,
        depth: usize,
    ) -> Result<OpResult, DataError> {
        self.object_for(principal, object)?;
        let mut cx = WriteCx::at_depth(depth);
        self.find_hooks(principal, &mut cx, object, "beforeFind", json!({}), None)
            .await?;
        let mut result = {
            let mut tx = self.driver.reader().await?;
            self.find_in(&mut *tx, principal, object, q, depth).await?
        };
        if let OpResult::List { records, .. } = &mut result {
            let found = std::mem::take(records);
            *records = self
                .after_find(principal, &mut cx, object, found, None)
                .await?;
        }
        Ok(result)
    }

    /// Runs the hooks of a read (outside any transaction): `beforeFind` may abort it.
    pub(crate) async fn find_hooks(
        &self,
        principal: &Principal,
        cx: &mut WriteCx,
        object: &str,
        event: &'static str,
        input: Value,
        record_id: Option<&str>,
    ) -> Result<Value, DataError> {
        self.run_hooks(
            None,
            principal,
            cx,
            EventInput {
                object,
                event,
                input,
                previous: None,
                record_id,
            },
        )
        .await
    }

    /// Runs `afterFind` hooks, which may replace the records (`{"records": [...]}`).
    pub(crate) async fn after_find(
        &self,
        principal: &Principal,
        cx: &mut WriteCx,
        object: &str,
        records: Vec<Record>,
        record_id: Option<&str>,
    ) -> Result<Vec<Record>, DataError> {
        if !self.hooks.listens(object, "afterFind") {
            return Ok(records);
        }
        let out = self
            .find_hooks(
                principal,
                cx,
                object,
                "afterFind",
                json!({ "records": records }),
                record_id,
            )
            .await?;
        Ok(match out.get("records") {
            Some(Value::Array(replaced)) => replaced
                .iter()
                .filter_map(|r| r.as_object().cloned())
                .collect(),
            _ => records,
        })
    }

    /// A find inside a given transaction (a hook's reads see its write's uncommitted rows).
    pub(crate) async fn find_in(
        &self,
        tx: &mut dyn Transaction,
        principal: &Principal,
        object: &str,
        q: &Query,
        _depth: usize,
    ) -> Result<OpResult, DataError> {
        let schema = self.object_for(principal, object)?;
        let access = self.access(principal, schema, Operation::Read)?;
        let mut q = q.clone();
        readable_search(&access, &mut q);
        readable_select(&access, &mut q);
        check_query_fields(&access, schema, &q)?;
        self.check_expand_fields(principal, schema, &q)?;
        let mut scoped = self.scoped_with(principal, schema, &q, &access, Operation::Read);
        if !principal.is_system {
            // Every list-like answer is one page at most, whoever asks and however.
            scoped.limit = Some(scoped.limit.map_or(self.page_cap, |l| l.min(self.page_cap)));
        }
        let q = &scoped;
        if q.is_aggregate() {
            let (records, total) = tx.aggregate(schema, q).await?;
            let has_more = page_has_more(q, records.len(), total);
            return Ok(OpResult::List {
                records,
                total,
                has_more,
            });
        }
        check_sort_fields(schema, &q.order_by)?;
        let columns = select_columns(schema, q);
        let mut records = tx.find(schema, q, &columns, None).await?;
        let total = if q.count {
            // A first page shorter than the limit already tells the total.
            match (q.offset.unwrap_or(0), q.limit) {
                (0, Some(l)) if (records.len() as u64) < l => Some(records.len() as u64),
                (0, None) => Some(records.len() as u64),
                _ => Some(tx.count(schema, q).await?),
            }
        } else {
            None
        };
        self.expand(tx, principal, schema, q, &mut records).await?;
        self.compute_summaries(tx, principal, schema, q.fields.as_ref(), &mut records)
            .await?;
        self.compute_formulas(schema, &access, q.fields.as_ref(), &mut records);
        project(q, &mut records);
        mask(&access, &mut records);
        let has_more = page_has_more(q, records.len(), total);
        Ok(OpResult::List {
            records,
            total,
            has_more,
        })
    }

    pub(crate) async fn get(
        &self,
        principal: &Principal,
        object: &str,
        id: &str,
        q: &Query,
        depth: usize,
    ) -> Result<Record, DataError> {
        self.object_for(principal, object)?;
        let mut cx = WriteCx::at_depth(depth);
        self.find_hooks(
            principal,
            &mut cx,
            object,
            "beforeFind",
            json!({ "id": id }),
            Some(id),
        )
        .await?;
        let record = {
            let mut tx = self.driver.reader().await?;
            self.get_in(&mut *tx, principal, object, id, q).await?
        };
        let mut out = self
            .after_find(principal, &mut cx, object, vec![record], Some(id))
            .await?;
        if out.is_empty() {
            return Err(DataError::RecordNotFound {
                object: object.to_string(),
                id: id.to_string(),
            });
        }
        Ok(out.swap_remove(0))
    }

    /// A get inside a given transaction.
    pub(crate) async fn get_in(
        &self,
        tx: &mut dyn Transaction,
        principal: &Principal,
        object: &str,
        id: &str,
        q: &Query,
    ) -> Result<Record, DataError> {
        let schema = self.object_for(principal, object)?;
        let access = self.access(principal, schema, Operation::Read)?;
        let mut q = q.clone();
        readable_select(&access, &mut q);
        let q = &q;
        check_query_fields(&access, schema, q)?;
        self.check_expand_fields(principal, schema, q)?;
        let q1 = self.scoped_with(
            principal,
            schema,
            &Query {
                limit: Some(1),
                filter: Some(id_filter(id)),
                count: false,
                ..q.clone()
            },
            &access,
            Operation::Read,
        );
        let columns = select_columns(schema, &q1);
        let mut records = tx.find(schema, &q1, &columns, None).await?;
        if records.is_empty() {
            return Err(DataError::RecordNotFound {
                object: object.to_string(),
                id: id.to_string(),
            });
        }
        self.expand(tx, principal, schema, &q1, &mut records)
            .await?;
        self.compute_summaries(tx, principal, schema, q1.fields.as_ref(), &mut records)
            .await?;
        self.compute_formulas(schema, &access, q1.fields.as_ref(), &mut records);
        project(&q1, &mut records);
        mask(&access, &mut records);
        Ok(records.remove(0))
    }

    /// Every field named inside an `expand`, at every depth, checked against the caller's access to the
    /// related object before anything is read (whether or not rows to expand exist).
    pub(crate) fn check_expand_fields(
        &self,
        principal: &Principal,
        schema: &ObjectSchema,
        q: &Query,
    ) -> Result<(), DataError> {
        for (field, sub) in &q.expand {
            let Some(target) = schema
                .field(field)
                .and_then(|f| f.reference.as_deref())
                .and_then(|t| self.catalog.object(t))
            else {
                continue;
            };
            let target_access = self.related_access(principal, target);
            if target_access.allows(Operation::Read) {
                check_query_fields(&target_access, target, sub)?;
                self.check_expand_fields(principal, target, sub)?;
            }
        }
        Ok(())
    }

    /// Replaces lookup ids with the related records (nested expands recurse).
    pub(crate) fn expand<'a>(
        &'a self,
        tx: &'a mut dyn Transaction,
        principal: &'a Principal,
        schema: &'a ObjectSchema,
        q: &'a Query,
        records: &'a mut [Record],
    ) -> BoxFuture<'a, Result<(), DataError>> {
        Box::pin(async move {
            for (field, sub) in &q.expand {
                let Some(f) = schema.field(field) else {
                    continue;
                };
                let Some(target) = f.reference.as_deref().and_then(|t| self.catalog.object(t))
                else {
                    continue;
                };
                // A related object the caller may not read stays an id.
                let target_access = self.related_access(principal, target);
                // The fields `sub` names were checked with the whole tree (`check_expand_fields`).
                if !target_access.allows(Operation::Read) {
                    continue;
                }
                let mut ids = BTreeSet::new();
                for r in records.iter() {
                    match r.get(field) {
                        Some(Value::String(s)) => {
                            ids.insert(s.clone());
                        }
                        Some(Value::Array(items)) => {
                            ids.extend(items.iter().filter_map(|i| i.as_str().map(str::to_string)))
                        }
                        _ => {}
                    }
                }
                if ids.is_empty() {
                    continue;
                }
                let filter = Filter::Cond(Condition {
                    field: "id".into(),
                    op: Op::In,
                    operand: Operand::List(ids.into_iter().map(Value::String).collect()),
                });
                let mut sub_q = sub.clone();
                sub_q.limit = Some(crate::data::limits::MAX_EXPAND_ROWS as u64);
                sub_q.offset = None;
                let mut cols = select_columns(target, &sub_q);
                if target.internal {
                    cols.retain(|c| Catalog::INTERNAL_EXPANDABLE.contains(&c.name.as_str()));
                }
                if !cols.iter().any(|c| c.name == "id") {
                    cols.extend(target.field("id"));
                }
                let sub_q =
                    self.scoped_with(principal, target, &sub_q, &target_access, Operation::Read);
                let mut related = tx.find(target, &sub_q, &cols, Some(&filter)).await?;
                if !target.internal {
                    self.compute_summaries(
                        &mut *tx,
                        principal,
                        target,
                        sub_q.fields.as_ref(),
                        &mut related,
                    )
                    .await?;
                }
                self.compute_formulas(target, &target_access, sub_q.fields.as_ref(), &mut related);
                mask(&target_access, &mut related);
                self.expand(&mut *tx, principal, target, &sub_q, &mut related)
                    .await?;
                let by_id: HashMap<String, Record> = related
                    .into_iter()
                    .filter_map(|mut r| {
                        let id = r.get("id").and_then(Value::as_str).map(str::to_string)?;
                        if let Some(fields) = &sub.fields
                            && !fields.iter().any(|f| f == "id")
                        {
                            r.shift_remove("id");
                        }
                        Some((id, r))
                    })
                    .collect();
                for r in records.iter_mut() {
                    let replaced = match r.get(field) {
                        Some(Value::String(s)) => by_id
                            .get(s)
                            .cloned()
                            .map(Value::Object)
                            .unwrap_or(Value::Null),
                        Some(Value::Array(items)) => Value::Array(
                            items
                                .iter()
                                .filter_map(|i| {
                                    i.as_str()
                                        .and_then(|s| by_id.get(s))
                                        .cloned()
                                        .map(Value::Object)
                                })
                                .collect(),
                        ),
                        _ => continue,
                    };
                    r.insert(field.clone(), replaced);
                }
            }
            Ok(())
        })
    }
}

pub(crate) fn page_has_more(q: &Query, returned: usize, total: Option<u64>) -> bool {
    match total {
        Some(t) => q.offset.unwrap_or(0) + (returned as u64) < t,
        None => q.limit.is_some_and(|l| returned as u64 >= l && l > 0),
    }
}

/// The stored columns a query reads: the selection plus what `expand` needs, or every stored field.
pub(crate) fn select_columns<'a>(schema: &'a ObjectSchema, q: &Query) -> Vec<&'a FieldSchema> {
    match &q.fields {
        None => schema.stored_fields().collect(),
        // A formula needs the fields it is computed from: read them all, the projection trims afterwards.
        Some(names)
            if names
                .iter()
                .any(|n| schema.field(n).is_some_and(|f| f.storage.is_none())) =>
        {
            schema.stored_fields().collect()
        }
        Some(names) => {
            let mut cols: Vec<&FieldSchema> = names
                .iter()
                .filter_map(|n| schema.field(n))
                .filter(|f| f.storage.is_some())
                .collect();
            for (e, _) in &q.expand {
                if let Some(f) = schema.field(e)
                    && !cols.iter().any(|c| c.name == f.name)
                {
                    cols.push(f);
                }
            }
            cols
        }
    }
}

/// Keeps only the selected keys, in the order they were asked for.
pub(crate) fn project(q: &Query, records: &mut [Record]) {
    let Some(names) = &q.fields else { return };
    for r in records.iter_mut() {
        let mut out = Record::with_capacity(names.len());
        for n in names {
            if let Some(v) = r.shift_remove(n) {
                out.insert(n.clone(), v);
            }
        }
        *r = out;
    }
}
