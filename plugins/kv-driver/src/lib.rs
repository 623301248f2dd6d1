//! The `kv-driver` plugin: an in-memory key-value datasource, to prove the driver contract end to end. Objects
//! mapped to it (`datasources: [{"name": "kv", "driver": "<its id>"}]`) live in a map per object, keyed by id;
//! queries are evaluated by the SDK's evaluator; unique fields and optimistic versions are enforced here.
//! Its contents last as long as its instance: a restart (after a trapped call, or of the server) empties it.

use objectos_driver_plugin::{DriverPlugin, Record, query};
use objectos_sdk::{Error, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

#[derive(Default)]
struct Store {
    /// Object → id → record.
    records: HashMap<String, BTreeMap<String, Record>>,
    /// Object → (field, per organization) of its unique fields.
    unique: HashMap<String, Vec<(String, bool)>>,
}

static STORE: Mutex<Option<Store>> = Mutex::new(None);

fn with_store<T>(f: impl FnOnce(&mut Store) -> Result<T, Error>) -> Result<T, Error> {
    let mut guard = STORE
        .lock()
        .map_err(|_| Error::Internal("the store lock is poisoned".into()))?;
    f(guard.get_or_insert_with(Store::default))
}

fn table<'a>(s: &'a mut Store, object: &str) -> Result<&'a mut BTreeMap<String, Record>, Error> {
    s.records
        .get_mut(object)
        .ok_or_else(|| Error::NotFound(format!("kv-driver does not serve {object}")))
}

/// A unique value another record of the object already has (NULLs never collide).
fn taken(s: &Store, object: &str, record: &Record, except: Option<&str>) -> Option<String> {
    let rows = s.records.get(object)?;
    for (field, per_org) in s.unique.get(object)? {
        let Some(v) = record.get(field).filter(|v| !v.is_null()) else {
            continue;
        };
        let org = record.get("organization_id");
        let clash = rows.iter().any(|(id, other)| {
            Some(id.as_str()) != except
                && other.get(field) == Some(v)
                && (!per_org || other.get("organization_id") == org)
        });
        if clash {
            return Some(field.clone());
        }
    }
    None
}

fn version_matches(record: &Record, expected: Option<&str>) -> bool {
    match (expected, record.get("updated_at")) {
        (None, _) => true,
        (Some(e), Some(Value::String(v))) => v == e,
        (Some(e), Some(v)) => v.to_string() == e,
        (Some(_), None) => false,
    }
}

struct KvDriver;

impl DriverPlugin for KvDriver {
    fn sync_schema(objects: Value) -> Result<(), Error> {
        with_store(|s| {
            for o in objects.as_array().into_iter().flatten() {
                let Some(name) = o.get("name").and_then(Value::as_str) else {
                    continue;
                };
                s.records.entry(name.to_string()).or_default();
                let unique = o
                    .get("fields")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|f| {
                        let field = f.get("name")?.as_str()?.to_string();
                        match f.get("unique") {
                            Some(Value::String(scope)) => Some((field, scope == "organization")),
                            _ => None,
                        }
                    })
                    .collect();
                s.unique.insert(name.to_string(), unique);
            }
            Ok(())
        })
    }

    fn find(object: &str, q: Value) -> Result<Vec<Record>, Error> {
        with_store(|s| Ok(query::run(table(s, object)?.values(), &q)))
    }

    fn count(object: &str, filter: Value) -> Result<u64, Error> {
        with_store(|s| {
            Ok(table(s, object)?
                .values()
                .filter(|r| query::matches(&filter, r))
                .count() as u64)
        })
    }

    fn insert(object: &str, record: Record) -> Result<(), Error> {
        with_store(|s| {
            let id = record
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::Invalid("a record needs its id".into()))?
                .to_string();
            table(s, object)?;
            if let Some(field) = taken(s, object, &record, None) {
                return Err(Error::Conflict(format!("unique:{field}")));
            }
            let rows = table(s, object)?;
            if rows.contains_key(&id) {
                return Err(Error::Conflict("unique:id".into()));
            }
            rows.insert(id, record);
            Ok(())
        })
    }

    fn update(object: &str, id: &str, patch: Record, expected: Option<&str>) -> Result<u64, Error> {
        with_store(|s| {
            let Some(current) = table(s, object)?.get(id) else {
                return Ok(0);
            };
            if !version_matches(current, expected) {
                return Ok(0);
            }
            let mut next = current.clone();
            next.extend(patch);
            if let Some(field) = taken(s, object, &next, Some(id)) {
                return Err(Error::Conflict(format!("unique:{field}")));
            }
            table(s, object)?.insert(id.to_string(), next);
            Ok(1)
        })
    }

    fn delete(object: &str, id: &str, expected: Option<&str>) -> Result<u64, Error> {
        with_store(|s| {
            let rows = table(s, object)?;
            match rows.get(id) {
                Some(r) if version_matches(r, expected) => {
                    rows.remove(id);
                    Ok(1)
                }
                _ => Ok(0),
            }
        })
    }
}

objectos_driver_plugin::export!(KvDriver);
