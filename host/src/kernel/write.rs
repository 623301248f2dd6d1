//! Writes: one create or update inside the caller's transaction, in named stages (access and ownership,
//! before-hooks, coercion and defaults, validation rules, references, RLS check, the row, audit, after-hooks,
//! masking), plus the multi-record and batch forms that run several in one transaction.

use super::enforce::{check_editable, check_rls, check_transfer, mask};
use super::hooks::{EventInput, WriteCx};
use super::{DataOp, Kernel, OpResult, Principal, id_filter, user_scope};
use crate::artifact::fields::{FieldType, StorageKind};
use crate::data::catalog::{FieldSchema, ObjectSchema};
use crate::data::driver::{Record, Transaction};
use crate::data::error::{DataError, FieldError};
use crate::data::ids::new_id;
use crate::data::query::Query;
use crate::data::values::{SqlValue, coerce, format_datetime, is_blank, parse_datetime, to_sql};
use crate::security::permissions::Operation;
use futures_util::future::BoxFuture;
use serde_json::Value;

impl Kernel {
    /// One write inside the caller's transaction (a batch runs several in one).
    pub(crate) fn write_in<'a>(
        &'a self,
        tx: &'a mut dyn Transaction,
        principal: &'a Principal,
        op: DataOp,
        cx: &'a mut WriteCx,
    ) -> BoxFuture<'a, Result<OpResult, DataError>> {
        Box::pin(async move {
            match op {
                DataOp::Create { object, record } => {
                    refuse_runtime_write(principal, &object)?;
                    let schema = self.object_for(principal, &object)?.clone();
                    Ok(OpResult::Record(
                        self.insert_in(tx, principal, &schema, record, cx).await?,
                    ))
                }
                DataOp::CreateMany { object, records } => {
                    refuse_runtime_write(principal, &object)?;
                    let schema = self.object_for(principal, &object)?.clone();
                    let mut out = Vec::with_capacity(records.len());
                    for record in records {
                        // All or nothing; the first failing record's error is the answer, as for one create.
                        out.push(
                            self.insert_in(&mut *tx, principal, &schema, record, &mut *cx)
                                .await?,
                        );
                    }
                    Ok(OpResult::Records(out))
                }
                DataOp::Update {
                    object,
                    id,
                    patch,
                    expected_version,
                } => {
                    refuse_runtime_write(principal, &object)?;
                    let schema = self.object_for(principal, &object)?.clone();
                    let (record, readonly_when) = self
                        .update_in(
                            tx,
                            principal,
                            &schema,
                            &id,
                            patch,
                            expected_version.as_deref(),
                            cx,
                        )
                        .await?;
                    Ok(OpResult::Updated {
                        record,
                        readonly_when,
                    })
                }
                DataOp::Delete {
                    object,
                    id,
                    expected_version,
                } => {
                    refuse_runtime_write(principal, &object)?;
                    let schema = self.object_for(principal, &object)?.clone();
                    self.delete_checked(
                        tx,
                        principal,
                        &schema,
                        &id,
                        expected_version.as_deref(),
                        cx,
                    )
                    .await?;
                    Ok(OpResult::Deleted { id })
                }
                DataOp::Batch {
                    operations,
                    resolve_refs,
                } => {
                    let mut out: Vec<OpResult> = Vec::with_capacity(operations.len());
                    for (i, op) in operations.into_iter().enumerate() {
                        let step = async {
                            let op = if resolve_refs {
                                resolve_batch_refs(op, &out)?
                            } else {
                                op
                            };
                            if matches!(
                                op,
                                DataOp::Find { .. } | DataOp::Get { .. } | DataOp::Batch { .. }
                            ) {
                                return Err(DataError::InvalidQuery {
                                    object: op.object().unwrap_or_default().to_string(),
                                    message: format!(
                                        "operations[{i}]: a batch holds creates, updates and deletes only"
                                    ),
                                });
                            }
                            self.write_in(&mut *tx, principal, op, &mut *cx).await
                        };
                        match step.await {
                            Ok(r) => out.push(r),
                            Err(cause) => {
                                return Err(DataError::BatchAborted {
                                    index: i,
                                    done: out.iter().map(written_id).collect(),
                                    cause: Box::new(cause.into_cause()),
                                });
                            }
                        }
                    }
                    Ok(OpResult::Batch(out))
                }
                DataOp::Find { .. } | DataOp::Get { .. } => Err(DataError::Internal(
                    "reads do not take a write transaction".into(),
                )),
            }
        })
    }

    /// Coerces and validates a new record, stamps system fields, and inserts it.
    pub(crate) async fn insert_in(
        &self,
        tx: &mut dyn Transaction,
        principal: &Principal,
        schema: &ObjectSchema,
        input: Record,
        cx: &mut WriteCx,
    ) -> Result<Record, DataError> {
        // The caller's own payload is checked; what its before-hooks add is the artifact's logic.
        let access = self.access(principal, schema, Operation::Create)?;
        check_editable(&access, schema, &input)?;
        check_transfer(&access, schema, &input, principal.user_id.as_deref())?;
        let input = caller_payload(schema, input)?;
        // Defaults are in place before the before-hooks run, as on the real server (a hook sees them).
        let input = with_defaults(schema, principal, input);
        let input = self
            .before_write(tx, principal, cx, schema, "beforeInsert", input, None, None)
            .await?;
        reject_unwritable_keys(schema, &input)?;
        let now = crate::data::values::now_iso();
        let mut record = Record::with_capacity(schema.fields.len());
        let mut errors: Vec<FieldError> = Vec::new();
        for f in schema.stored_fields() {
            if f.system {
                continue;
            }
            if f.ftype == FieldType::Autonumber {
                continue;
            }
            let given = input.get(&f.name).cloned().filter(|v| !v.is_null());
            let value = match given {
                Some(v) => v,
                None => default_value(f, principal, &now, &input).unwrap_or(Value::Null),
            };
            if f.required && is_blank(&value) {
                errors.push(FieldError::new(
                    &f.name,
                    &f.label,
                    "required",
                    format!("{} is required", f.label),
                ));
                continue;
            }
            match coerce(f, &value) {
                Ok(v) => {
                    record.insert(f.name.clone(), v);
                }
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            errors = super::predicates::check(schema, &record, &input, &user_scope(principal));
        }
        if !errors.is_empty() {
            return Err(DataError::validation(&schema.name, errors));
        }
        self.rules.check(
            schema,
            crate::automation::validation::Event::Insert,
            &record,
            None,
            &user_scope(principal),
        )?;
        self.check_references(tx, principal, schema, &record)
            .await?;
        for f in schema
            .stored_fields()
            .filter(|f| f.ftype == FieldType::Autonumber)
        {
            let n = tx.next_sequence(&schema.name, &f.name).await?;
            let text = match &f.autonumber {
                Some(fmt) => fmt.render(
                    n,
                    parse_datetime(&Value::String(now.clone())).unwrap_or_default(),
                    &record,
                ),
                None => format!("{n:04}"),
            };
            record.insert(f.name.clone(), Value::String(text));
        }
        let id = match input.get("id") {
            Some(Value::String(s)) => check_client_id(&schema.name, s)?,
            Some(Value::Null) | None => new_id(),
            Some(other) => {
                return Err(DataError::invalid_field(
                    &schema.name,
                    "id",
                    format!("id must be a string, found {other}"),
                ));
            }
        };
        let owner = match input.get("owner_id") {
            Some(Value::String(s)) if !s.is_empty() => Value::String(s.clone()),
            _ => principal
                .user_id
                .clone()
                .map(Value::String)
                .unwrap_or(Value::Null),
        };
        if schema.has_owner && !owner.is_null() {
            self.check_owner_exists(tx, principal, schema, &owner)
                .await?;
        }
        let mut full = Record::with_capacity(schema.fields.len());
        for f in schema.stored_fields() {
            let v = match f.name.as_str() {
                "id" => Value::String(id.clone()),
                "organization_id" => principal
                    .organization_id
                    .clone()
                    .map(Value::String)
                    .unwrap_or(Value::Null),
                "created_at" | "updated_at" => Value::String(now.clone()),
                "created_by" | "updated_by" => principal
                    .user_id
                    .clone()
                    .map(Value::String)
                    .unwrap_or(Value::Null),
                "owner_id" => owner.clone(),
                _ => record.shift_remove(&f.name).unwrap_or(Value::Null),
            };
            full.insert(f.name.clone(), v);
        }
        let values: Vec<(&FieldSchema, SqlValue)> = schema
            .stored_fields()
            .filter(|f| !full.get(&f.name).is_none_or(Value::is_null))
            .map(|f| {
                (
                    f,
                    to_sql(f.storage.unwrap_or(StorageKind::Text), &full[&f.name]),
                )
            })
            .collect();
        check_rls(&access, schema, Operation::Create, &full)?;
        self.check_master_writable(tx, principal, schema, "insert", &full)
            .await?;
        tx.insert(schema, values).await?;
        crate::audit::record(
            tx,
            &self.catalog,
            Some(principal),
            "create",
            schema,
            &id,
            None,
            Some(&full),
        )
        .await?;
        let mut out = [full];
        self.compute_summaries(tx, principal, schema, None, &mut out)
            .await?;
        self.compute_formulas(schema, &access, None, &mut out);
        let [full] = out;
        if self.hooks.listens(&schema.name, "afterInsert") {
            self.run_hooks(
                Some(tx),
                principal,
                cx,
                EventInput {
                    object: &schema.name,
                    event: "afterInsert",
                    input: Value::Object(full.clone()),
                    previous: None,
                    record_id: Some(&id),
                },
            )
            .await?;
        }
        let mut out = [full];
        mask(&access, &mut out);
        let [full] = out;
        Ok(full)
    }

    /// Loads one record by id, as `principal` may see it (cascades pass `None`: they act inside the tenant
    /// whose record started them).
    pub(crate) async fn load(
        &self,
        tx: &mut dyn Transaction,
        principal: Option<&Principal>,
        schema: &ObjectSchema,
        id: &str,
    ) -> Result<Record, DataError> {
        let base = Query {
            filter: Some(id_filter(id)),
            limit: Some(1),
            ..Query::default()
        };
        let q = match principal {
            Some(p) => self.scoped_for(p, schema, &base, Operation::Read),
            None => base,
        };
        let cols: Vec<&FieldSchema> = schema.stored_fields().collect();
        let mut rows = tx.find(schema, &q, &cols, None).await?;
        if rows.is_empty() {
            return Err(DataError::RecordNotFound {
                object: schema.name.clone(),
                id: id.to_string(),
            });
        }
        Ok(rows.remove(0))
    }

    /// Loads a record and checks the caller's `expectedVersion` (its `updated_at`) against it.
    pub(crate) async fn load_at_version(
        &self,
        tx: &mut dyn Transaction,
        principal: Option<&Principal>,
        schema: &ObjectSchema,
        id: &str,
        expected: Option<&str>,
    ) -> Result<(Record, String), DataError> {
        let existing = self.load(tx, principal, schema, id).await?;
        let current_version = existing
            .get("updated_at")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if let Some(expected) = expected
            && !same_version(expected, &current_version)
        {
            return Err(DataError::ConcurrentUpdate {
                object: schema.name.clone(),
                id: id.to_string(),
                expected: expected.to_string(),
            });
        }
        Ok((existing, current_version))
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn update_in(
        &self,
        tx: &mut dyn Transaction,
        principal: &Principal,
        schema: &ObjectSchema,
        id: &str,
        patch: Record,
        expected: Option<&str>,
        cx: &mut WriteCx,
    ) -> Result<(Record, Vec<String>), DataError> {
        let access = self.access(principal, schema, Operation::Edit)?;
        check_editable(&access, schema, &patch)?;
        let patch = caller_payload(schema, patch)?;
        let sent: Vec<String> = patch.keys().cloned().collect();
        let (existing, current_version) = self
            .load_at_version(tx, Some(principal), schema, id, expected)
            .await?;
        let current_owner = existing.get("owner_id").and_then(Value::as_str);
        check_transfer(&access, schema, &patch, current_owner)?;
        self.check_row_writable(tx, principal, schema, &access, id, Operation::Edit)
            .await?;
        let mut patch = self
            .before_write(
                tx,
                principal,
                cx,
                schema,
                "beforeUpdate",
                patch,
                Some(&existing),
                Some(id),
            )
            .await?;
        reject_unwritable_keys(schema, &patch)?;
        let user = user_scope(principal);
        // What `readonlyWhen` takes out of the caller's own keys is reported; a hook's keys are the app's.
        let mut readonly_when =
            super::predicates::drop_readonly_when(schema, &existing, &mut patch, &user);
        readonly_when.retain(|k| sent.contains(k));
        let mut changes = Record::new();
        let mut errors = Vec::new();
        for (key, value) in &patch {
            let Some(f) = schema.field(key) else { continue };
            if f.system && key != "owner_id" {
                continue;
            }
            if key == "owner_id" {
                if existing.get("owner_id") != Some(value) {
                    self.check_owner_exists(tx, principal, schema, value)
                        .await?;
                }
                changes.insert(key.clone(), value.clone());
                continue;
            }
            if f.required && is_blank(value) {
                errors.push(FieldError::new(
                    &f.name,
                    &f.label,
                    "required",
                    format!("{} is required and cannot be cleared", f.label),
                ));
                continue;
            }
            match coerce(f, value) {
                Ok(v) => {
                    changes.insert(key.clone(), v);
                }
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(DataError::validation(&schema.name, errors));
        }
        self.check_references(tx, principal, schema, &changes)
            .await?;
        let mut candidate = existing.clone();
        candidate.extend(changes.clone());
        let errors = super::predicates::check(schema, &candidate, &changes, &user);
        if !errors.is_empty() {
            return Err(DataError::validation(&schema.name, errors));
        }
        check_rls(&access, schema, Operation::Edit, &candidate)?;
        self.check_master_writable(tx, principal, schema, "update", &existing)
            .await?;
        self.check_master_writable(tx, principal, schema, "update", &candidate)
            .await?;
        self.rules.check(
            schema,
            crate::automation::validation::Event::Update,
            &candidate,
            Some(&existing),
            &user_scope(principal),
        )?;
        let mut now = crate::data::values::now_iso();
        if now == current_version {
            // The version must change with every write, even within one millisecond.
            now = parse_datetime(&Value::String(now.clone()))
                .map(|d| format_datetime(d + chrono::Duration::milliseconds(1)))
                .unwrap_or(now);
        }
        changes.insert("updated_at".into(), Value::String(now));
        changes.insert(
            "updated_by".into(),
            principal
                .user_id
                .clone()
                .map(Value::String)
                .unwrap_or(Value::Null),
        );
        let values: Vec<(&FieldSchema, SqlValue)> = changes
            .iter()
            .filter_map(|(k, v)| {
                schema
                    .field(k)
                    .map(|f| (f, to_sql(f.storage.unwrap_or(StorageKind::Text), v)))
            })
            .collect();
        let version_guard = if current_version.is_empty() {
            None
        } else {
            Some(current_version.as_str())
        };
        let n = tx.update(schema, id, values, version_guard).await?;
        if n == 0 {
            return Err(DataError::ConcurrentUpdate {
                object: schema.name.clone(),
                id: id.to_string(),
                expected: current_version,
            });
        }
        let mut stored = existing.clone();
        stored.extend(changes.clone());
        crate::audit::record(
            tx,
            &self.catalog,
            Some(principal),
            "update",
            schema,
            id,
            Some(&existing),
            Some(&stored),
        )
        .await?;
        let after_hooks = self.hooks.listens(&schema.name, "afterUpdate");
        let previous = if after_hooks {
            Some(existing.clone())
        } else {
            None
        };
        let mut merged = existing;
        for (k, v) in changes {
            merged.insert(k, v);
        }
        let mut out = [merged];
        self.compute_summaries(tx, principal, schema, None, &mut out)
            .await?;
        self.compute_formulas(schema, &access, None, &mut out);
        let [merged] = out;
        if after_hooks {
            self.run_hooks(
                Some(tx),
                principal,
                cx,
                EventInput {
                    object: &schema.name,
                    event: "afterUpdate",
                    input: Value::Object(merged.clone()),
                    previous: previous.as_ref(),
                    record_id: Some(id),
                },
            )
            .await?;
        }
        let mut out = [merged];
        mask(&access, &mut out);
        let [merged] = out;
        Ok((merged, readonly_when))
    }

    /// Runs the before-hooks of an insert or update inside its transaction; they may replace the record.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn before_write(
        &self,
        tx: &mut dyn Transaction,
        principal: &Principal,
        cx: &mut WriteCx,
        schema: &ObjectSchema,
        event: &'static str,
        record: Record,
        previous: Option<&Record>,
        record_id: Option<&str>,
    ) -> Result<Record, DataError> {
        let out = self
            .run_hooks(
                Some(tx),
                principal,
                cx,
                EventInput {
                    object: &schema.name,
                    event,
                    input: Value::Object(record),
                    previous,
                    record_id,
                },
            )
            .await?;
        // Before-hooks only ever replace a record with a record.
        Ok(match out {
            Value::Object(m) => m,
            _ => Record::new(),
        })
    }
}

/// Does any hook or action carry a JavaScript body?
/// A multi-record write holds at most [`crate::data::limits::MAX_WRITE_BATCH`] records or operations,
/// whoever sends it (a guest's calls included).
pub(crate) fn check_write_size(op: &DataOp) -> Result<(), DataError> {
    let (n, object) = match op {
        DataOp::CreateMany { records, object } => (records.len(), object.as_str()),
        DataOp::Batch { operations, .. } => (operations.len(), ""),
        _ => return Ok(()),
    };
    let max = crate::data::limits::MAX_WRITE_BATCH;
    if n > max {
        return Err(DataError::invalid_query(
            object,
            format!(
                "a multi-record write holds at most {max} records or operations (limit MAX_WRITE_BATCH), got {n}"
            ),
        ));
    }
    Ok(())
}

/// What no API caller writes: the audit log (append-only) and the mirrors of the artifact.
pub(crate) fn refuse_runtime_write(principal: &Principal, object: &str) -> Result<(), DataError> {
    refuse_audit_write(object)?;
    Kernel::refuse_mirror_write(principal, object)
}

/// The audit log is written by the kernel alone.
pub(crate) fn refuse_audit_write(object: &str) -> Result<(), DataError> {
    if object == crate::audit::AUDIT_LOG {
        return Err(DataError::PermissionDenied {
            object: object.to_string(),
            field: None,
            message: format!(
                "{object} is append-only: it is written by the runtime, never through the API"
            ),
        });
    }
    Ok(())
}

/// `expectedVersion` is the record's `updated_at`; accept any spelling that denotes the same instant.
pub(crate) fn same_version(expected: &str, current: &str) -> bool {
    let expected = expected.trim().trim_matches('"');
    expected == current
        || match (
            parse_datetime(&Value::String(expected.to_string())),
            parse_datetime(&Value::String(current.to_string())),
        ) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
}

/// The caller's own payload as the before-hooks get it: every key a writable field of the object (the real
/// server checks undeclared keys first too), every value in its field's JSON kind
/// ([`crate::data::values::caller_value`]). A hook's condition or body never meets an object where a text
/// belongs or a number where a list belongs, so a malformed write is the caller's 400, not the app's 500.
pub(crate) fn caller_payload(schema: &ObjectSchema, input: Record) -> Result<Record, DataError> {
    reject_unwritable_keys(schema, &input)?;
    let mut errors: Vec<FieldError> = Vec::new();
    let mut out = Record::with_capacity(input.len());
    for (k, v) in input {
        let value = match schema.field(&k) {
            Some(f) if !f.system => match crate::data::values::caller_value(f, &v) {
                Ok(value) => value,
                Err(e) => {
                    errors.push(e);
                    v
                }
            },
            _ => v,
        };
        out.insert(k, value);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(DataError::validation(&schema.name, errors))
    }
}

pub(crate) fn reject_unwritable_keys(
    schema: &ObjectSchema,
    input: &Record,
) -> Result<(), DataError> {
    for key in input.keys() {
        match schema.field(key) {
            None => {
                return Err(DataError::invalid_field(
                    &schema.name,
                    key,
                    format!("Unknown field '{key}' on object '{}'", schema.name),
                ));
            }
            Some(f) if f.storage.is_none() || f.ftype == FieldType::Autonumber => {
                return Err(DataError::invalid_field(
                    &schema.name,
                    key,
                    format!(
                        "Field '{key}' on object '{}' is a {} field: its value is computed and cannot be written",
                        schema.name,
                        f.ftype.as_str()
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// An insert's payload with each unset field that has a default set to it.
fn with_defaults(schema: &ObjectSchema, principal: &Principal, mut input: Record) -> Record {
    let now = crate::data::values::now_iso();
    let missing: Vec<(String, Value)> = schema
        .stored_fields()
        .filter(|f| !f.system && f.default_value.is_some())
        .filter(|f| input.get(&f.name).is_none_or(Value::is_null))
        .filter_map(|f| Some((f.name.clone(), default_value(f, principal, &now, &input)?)))
        .collect();
    input.extend(missing);
    input
}

pub(crate) fn default_value(
    f: &FieldSchema,
    principal: &Principal,
    now: &str,
    input: &Record,
) -> Option<Value> {
    match f.default_value.as_ref()? {
        Value::String(s) if matches!(s.as_str(), "NOW()" | "now") => {
            Some(Value::String(match f.ftype {
                FieldType::Date => now[..10].to_string(),
                _ => now.to_string(),
            }))
        }
        Value::String(s) if matches!(s.as_str(), "TODAY()" | "today") => {
            Some(Value::String(now[..10].to_string()))
        }
        Value::String(s) if matches!(s.as_str(), "current_user" | "CURRENT_USER") => {
            principal.user_id.clone().map(Value::String)
        }
        // CEL: clock-only (`daysFromNow(7)`) or over the values given in this insert (`record.amount * 0.1`,
        // `current_user.id`); a default that cannot be evaluated leaves the field empty.
        v @ Value::Object(_) => {
            let src = crate::expr::expression_source(v)?;
            crate::expr::evaluate_constant(src, chrono::Utc::now())
                .ok()
                .or_else(|| {
                    let user = user_scope(principal);
                    crate::expr::compile(src)
                        .ok()?
                        .evaluate_in(
                            input,
                            &[("current_user", &user), ("user", &user)],
                            chrono::Utc::now(),
                        )
                        .ok()
                })
                .filter(|v| !v.is_null())
        }
        v => Some(v.clone()),
    }
}

pub(crate) fn check_client_id(object: &str, id: &str) -> Result<String, DataError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if ok {
        Ok(id.to_string())
    } else {
        Err(DataError::invalid_field(
            object,
            "id",
            "a client-supplied id must be 1–64 characters of A–Z, a–z, 0–9, '_', '-', '.'",
        ))
    }
}

/// The id of the record a batch operation wrote (none for a delete).
fn written_id(r: &OpResult) -> Option<String> {
    match r {
        OpResult::Record(rec) | OpResult::Updated { record: rec, .. } => {
            rec.get("id").and_then(Value::as_str).map(str::to_string)
        }
        _ => None,
    }
}

/// Replaces each top-level `{"$ref": n}` of a batch operation's record or patch with the id of the record
/// operation `n` wrote. `n` must be the number of an earlier operation that wrote a record (a create or an
/// update); anything else — a later or the same operation, a delete, a string, a fraction — is refused
/// rather than written as an empty reference.
fn resolve_batch_refs(op: DataOp, done: &[OpResult]) -> Result<DataOp, DataError> {
    let resolve = |mut data: Record| -> Result<Record, DataError> {
        for (field, value) in data.iter_mut() {
            let Some(target) = value.as_object().and_then(|m| m.get("$ref")) else {
                continue;
            };
            let id = target
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .and_then(|n| done.get(n))
                .and_then(written_id);
            match id {
                Some(id) => *value = Value::String(id),
                None => {
                    return Err(DataError::UnresolvedRef(format!(
                        "Unresolved $ref {target} on field '{field}' — must reference an earlier create in the same batch"
                    )));
                }
            }
        }
        Ok(data)
    };
    Ok(match op {
        DataOp::Create { object, record } => DataOp::Create {
            object,
            record: resolve(record)?,
        },
        DataOp::Update {
            object,
            id,
            patch,
            expected_version,
        } => DataOp::Update {
            object,
            id,
            patch: resolve(patch)?,
            expected_version,
        },
        other => other,
    })
}
