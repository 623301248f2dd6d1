//! Seeds (`data[]`): upserted at boot by their external id, only for the environments they name.

use super::{DataOp, Kernel, OpResult, Principal};
use crate::config::SeedEnvironment;
use crate::data::catalog::ObjectSchema;
use crate::data::driver::Record;
use crate::data::error::DataError;
use crate::data::filter::{Condition, Filter, Op, Operand};
use crate::data::query::Query;
use serde_json::Value;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub inserted: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Seed sets skipped, with the reason (other environment, system object).
    pub skipped: Vec<String>,
}

pub async fn apply(kernel: &Kernel, env: SeedEnvironment) -> Result<SeedReport, DataError> {
    let system = Principal::system();
    let mut report = SeedReport::default();
    for (i, seed) in kernel.artifact.definition.data.iter().enumerate() {
        let envs = seed
            .env
            .clone()
            .unwrap_or_else(|| vec!["prod".into(), "dev".into(), "test".into()]);
        if !envs.iter().any(|e| e == env.as_str()) {
            report.skipped.push(format!(
                "data[{i}] ({}): not for environment {}",
                seed.object,
                env.as_str()
            ));
            continue;
        }
        let Some(schema) = kernel.catalog.object(&seed.object).cloned() else {
            report.skipped.push(format!(
                "data[{i}] ({}): not an object of this artifact",
                seed.object
            ));
            continue;
        };
        let keys = seed.external_id_fields();
        let mode = seed.mode.as_deref().unwrap_or("upsert");
        for (r, raw_record) in seed.records.iter().enumerate() {
            let at = |e: DataError| {
                DataError::Schema(format!(
                    "seed data[{i}].records[{r}] ({}) failed: {e}",
                    seed.object
                ))
            };
            let record = &resolve_record(kernel, &schema, raw_record)
                .await
                .map_err(at)?;
            let conditions: Vec<Filter> = keys
                .iter()
                .map(|k| match record.get(k) {
                    Some(v) if !v.is_null() => Filter::Cond(Condition {
                        field: k.clone(),
                        op: Op::Eq,
                        operand: Operand::Value(v.clone()),
                    }),
                    _ => Filter::Cond(Condition {
                        field: k.clone(),
                        op: Op::Null(true),
                        operand: Operand::None,
                    }),
                })
                .collect();
            let query = Query {
                filter: Some(Filter::And(conditions)),
                limit: Some(1),
                ..Query::default()
            };
            let found = kernel
                .execute(
                    &system,
                    DataOp::Find {
                        object: schema.name.clone(),
                        query,
                    },
                )
                .await?;
            let existing = match found {
                OpResult::List { mut records, .. } if !records.is_empty() => {
                    Some(records.remove(0))
                }
                _ => None,
            };
            match existing {
                None => {
                    kernel
                        .execute(
                            &system,
                            DataOp::Create {
                                object: schema.name.clone(),
                                record: record.clone(),
                            },
                        )
                        .await
                        .map_err(at)?;
                    report.inserted += 1;
                }
                Some(_) if mode != "upsert" => report.unchanged += 1,
                Some(current) => {
                    // Values written as CEL (`daysAgo(3)`) are relative to the boot that inserted the row; later
                    // boots leave them alone instead of moving them every restart.
                    let mut record = record.clone();
                    record.retain(|k, _| {
                        raw_record
                            .get(k)
                            .is_none_or(|v| crate::expr::expression_source(v).is_none())
                    });
                    let changed = record.iter().any(|(k, v)| {
                        let stored_form = schema
                            .field(k)
                            .and_then(|f| crate::data::values::coerce(f, v).ok())
                            .unwrap_or_else(|| v.clone());
                        current.get(k).is_none_or(|c| !same_value(c, &stored_form))
                    });
                    if !changed {
                        report.unchanged += 1;
                        continue;
                    }
                    let id = current
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    let mut patch = record.clone();
                    patch.shift_remove("id");
                    kernel
                        .execute(
                            &system,
                            DataOp::Update {
                                object: schema.name.clone(),
                                id,
                                patch,
                                expected_version: None,
                            },
                        )
                        .await
                        .map_err(at)?;
                    report.updated += 1;
                }
            }
        }
    }
    Ok(report)
}

/// Seed values may be CEL (`{dialect: "cel", source: "daysAgo(3)"}`), and lookups may name the target record by
/// its natural key (the target's seed external id, its `nameField`, or `name`) instead of its id.
async fn resolve_record(
    kernel: &Kernel,
    schema: &ObjectSchema,
    record: &Record,
) -> Result<Record, DataError> {
    let now = chrono::Utc::now();
    let mut out = Record::with_capacity(record.len());
    for (key, value) in record {
        let mut value = value.clone();
        if let Some(source) = crate::expr::expression_source(&value) {
            value = crate::expr::evaluate_constant(source, now).map_err(|e| {
                DataError::validation(
                    &schema.name,
                    vec![crate::data::FieldError::new(
                        key,
                        key,
                        "invalid_expression",
                        e,
                    )],
                )
            })?;
        }
        if let Some(f) = schema.field(key)
            && f.ftype.is_reference()
            && !f.system
            && let Some(target) = f
                .reference
                .as_deref()
                .and_then(|t| kernel.catalog.object(t))
        {
            value = match value {
                Value::String(text) => resolve_reference(kernel, target, text).await?,
                Value::Array(items) => {
                    let mut resolved = Vec::with_capacity(items.len());
                    for item in items {
                        resolved.push(match item {
                            Value::String(text) => resolve_reference(kernel, target, text).await?,
                            other => other,
                        });
                    }
                    Value::Array(resolved)
                }
                other => other,
            };
        }
        out.insert(key.clone(), value);
    }
    Ok(out)
}

/// An id stays an id; otherwise the natural key that names a record is replaced by that record's id.
async fn resolve_reference(
    kernel: &Kernel,
    target: &ObjectSchema,
    text: String,
) -> Result<Value, DataError> {
    let system = Principal::system();
    let value = Value::String(text);
    let by_id = Query {
        filter: Some(eq("id", &value)),
        limit: Some(1),
        count: false,
        ..Query::default()
    };
    if !is_empty(
        kernel
            .execute(
                &system,
                DataOp::Find {
                    object: target.name.clone(),
                    query: by_id,
                },
            )
            .await?,
    ) {
        return Ok(value);
    }
    for key_field in natural_keys(kernel, &target.name) {
        if target.field(&key_field).is_none_or(|f| f.storage.is_none()) {
            continue;
        }
        let q = Query {
            filter: Some(eq(&key_field, &value)),
            limit: Some(1),
            count: false,
            ..Query::default()
        };
        if let OpResult::List { records, .. } = kernel
            .execute(
                &system,
                DataOp::Find {
                    object: target.name.clone(),
                    query: q,
                },
            )
            .await?
            && let Some(id) = records.first().and_then(|r| r.get("id")).cloned()
        {
            return Ok(id);
        }
    }
    Ok(value)
}

fn eq(field: &str, v: &Value) -> Filter {
    Filter::Cond(Condition {
        field: field.to_string(),
        op: Op::Eq,
        operand: Operand::Value(v.clone()),
    })
}

fn is_empty(r: OpResult) -> bool {
    matches!(r, OpResult::List { records, .. } if records.is_empty())
}

/// The fields that name a record of `object` in other seeds.
fn natural_keys(kernel: &Kernel, object: &str) -> Vec<String> {
    let def = &kernel.artifact.definition;
    let mut keys: Vec<String> = def
        .data
        .iter()
        .filter(|s| s.object == object)
        .flat_map(|s| s.external_id_fields())
        .collect();
    if let Some(o) = def.objects.iter().find(|o| o.name == object) {
        keys.extend(o.name_field.clone());
        keys.extend(o.display_name_field.clone());
    }
    keys.push("name".into());
    keys.dedup();
    keys
}

/// Equality between a stored value and a seed value (numbers compare numerically).
fn same_value(stored: &Value, seed: &Value) -> bool {
    match (stored.as_f64(), seed.as_f64()) {
        (Some(a), Some(b)) => (a - b).abs() < 1e-9,
        _ => stored == seed,
    }
}
