//! A driver plugin in Rust: a datasource the host stores objects through. The host does permissions, row
//! filters, validation, hooks and audit; a driver stores records and answers filter trees. [`query`] evaluates
//! those trees with the SQL driver's semantics (NULL placement, `$ne` keeping nulls, case rules), so an
//! in-memory driver needs only a map.
//!
//! ```ignore
//! struct Mem;
//! impl objectos_driver_plugin::DriverPlugin for Mem { /* find, count, insert, update, delete */ }
//! objectos_driver_plugin::export!(Mem);
//! ```

use objectos_sdk::{Error, Map, Value};
use std::cmp::Ordering;

/// Bindings of the `driver-plugin` world; its imports are the SDK's.
pub mod bindings {
    wit_bindgen::generate!({
        world: "driver-plugin",
        path: "../../wit",
        with: {
            "objectos:host/types@0.1.0": objectos_sdk::hook::objectos::host::types,
            "objectos:host/log@0.1.0": objectos_sdk::hook::objectos::host::log,
        },
        default_bindings_module: "objectos_driver_plugin::bindings",
        pub_export_macro: true,
        export_macro_name: "export_world",
    });
}

/// A record as the host sends and expects it.
pub type Record = Map<String, Value>;

/// A datasource. One long-lived instance, calls one at a time.
pub trait DriverPlugin {
    fn init(config: Value) -> Result<(), Error> {
        let _ = config;
        Ok(())
    }
    fn stop() {}
    /// The objects it serves: `[{"name", "fields": [{"name", "type", "unique", "required"}]}]`.
    fn sync_schema(objects: Value) -> Result<(), Error>;
    /// Records matching the query (see [`query::run`]).
    fn find(object: &str, query: Value) -> Result<Vec<Record>, Error>;
    fn count(object: &str, filter: Value) -> Result<u64, Error>;
    /// A taken unique value is `Error::Conflict("unique:<field>")`.
    fn insert(object: &str, record: Record) -> Result<(), Error>;
    fn update(
        object: &str,
        id: &str,
        patch: Record,
        expected_version: Option<&str>,
    ) -> Result<u64, Error>;
    fn delete(object: &str, id: &str, expected_version: Option<&str>) -> Result<u64, Error>;
}

fn record(v: Value, what: &str) -> Result<Record, Error> {
    match v {
        Value::Object(m) => Ok(m),
        other => Err(Error::Invalid(format!("{what} is not an object: {other}"))),
    }
}

#[doc(hidden)]
pub mod __glue {
    use super::*;

    pub fn init<T: DriverPlugin>(config: String) -> Result<(), Error> {
        T::init(objectos_sdk::__parse(&config, "the plugin configuration")?)
    }
    pub fn sync_schema<T: DriverPlugin>(objects: String) -> Result<(), Error> {
        T::sync_schema(objectos_sdk::__parse(&objects, "the objects")?)
    }
    pub fn find<T: DriverPlugin>(object: String, query: String) -> Result<String, Error> {
        let rows = T::find(&object, objectos_sdk::__parse(&query, "the query")?)?;
        Ok(Value::Array(rows.into_iter().map(Value::Object).collect()).to_string())
    }
    pub fn count<T: DriverPlugin>(object: String, filter: String) -> Result<u64, Error> {
        T::count(&object, objectos_sdk::__parse(&filter, "the filter")?)
    }
    pub fn insert<T: DriverPlugin>(object: String, r: String) -> Result<(), Error> {
        T::insert(
            &object,
            record(objectos_sdk::__parse(&r, "the record")?, "the record")?,
        )
    }
    pub fn update<T: DriverPlugin>(
        object: String,
        id: String,
        patch: String,
        expected: Option<String>,
    ) -> Result<u64, Error> {
        T::update(
            &object,
            &id,
            record(objectos_sdk::__parse(&patch, "the patch")?, "the patch")?,
            expected.as_deref(),
        )
    }
    pub fn delete<T: DriverPlugin>(
        object: String,
        id: String,
        expected: Option<String>,
    ) -> Result<u64, Error> {
        T::delete(&object, &id, expected.as_deref())
    }
}

/// Exports a [`DriverPlugin`] implementation as the component's `driver-plugin` world.
#[macro_export]
macro_rules! export {
    ($t:ty) => {
        struct __ObjectosDriverPlugin;
        impl $crate::bindings::exports::objectos::host::plugin::Guest for __ObjectosDriverPlugin {
            fn init(config: String) -> Result<(), $crate::__Error> {
                $crate::__glue::init::<$t>(config)
            }
            fn stop() {
                <$t as $crate::DriverPlugin>::stop()
            }
        }
        impl $crate::bindings::exports::objectos::host::driver::Guest for __ObjectosDriverPlugin {
            fn sync_schema(objects: String) -> Result<(), $crate::__Error> {
                $crate::__glue::sync_schema::<$t>(objects)
            }
            fn find(object: String, query: String) -> Result<String, $crate::__Error> {
                $crate::__glue::find::<$t>(object, query)
            }
            fn count(object: String, filter: String) -> Result<u64, $crate::__Error> {
                $crate::__glue::count::<$t>(object, filter)
            }
            fn insert(object: String, record: String) -> Result<(), $crate::__Error> {
                $crate::__glue::insert::<$t>(object, record)
            }
            fn update(
                object: String,
                id: String,
                patch: String,
                expected_version: Option<String>,
            ) -> Result<u64, $crate::__Error> {
                $crate::__glue::update::<$t>(object, id, patch, expected_version)
            }
            fn delete(
                object: String,
                id: String,
                expected_version: Option<String>,
            ) -> Result<u64, $crate::__Error> {
                $crate::__glue::delete::<$t>(object, id, expected_version)
            }
        }
        $crate::bindings::export_world!(__ObjectosDriverPlugin with_types_in $crate::bindings);
    };
}

#[doc(hidden)]
pub use objectos_sdk::Error as __Error;

/// Evaluating the host's queries over records in memory, with the SQL driver's semantics.
pub mod query {
    use super::*;

    /// SQLite's order of types: NULL, then numbers (and booleans), then text, then anything else.
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) | Value::Number(_) => 1,
            Value::String(_) => 2,
            _ => 3,
        }
    }

    fn number(v: &Value) -> Option<f64> {
        match v {
            Value::Number(n) => n.as_f64(),
            Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            _ => None,
        }
    }

    /// The total order `orderBy` uses (NULLs smallest).
    pub fn order(a: &Value, b: &Value) -> Ordering {
        match (rank(a), rank(b)) {
            (x, y) if x != y => x.cmp(&y),
            (1, _) => number(a).partial_cmp(&number(b)).unwrap_or(Ordering::Equal),
            (2, _) => a.as_str().cmp(&b.as_str()),
            _ => a.to_string().cmp(&b.to_string()),
        }
    }

    /// A comparison as SQL makes it: none when either side is NULL or they are of different kinds.
    fn compare(a: &Value, b: &Value) -> Option<Ordering> {
        if a.is_null() || b.is_null() || rank(a) != rank(b) {
            return None;
        }
        Some(order(a, b))
    }

    /// The text a text operator sees (numbers as their digits).
    fn text(v: &Value) -> Option<String> {
        match v {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }

    /// `%` and `_` wildcards, `\` escapes; `fold` makes it case-insensitive (ASCII, as SQL's LIKE).
    fn like(pattern: &str, text: &str, fold: bool) -> bool {
        let norm = |s: &str| {
            if fold {
                s.to_ascii_lowercase()
            } else {
                s.to_string()
            }
        };
        let (p, t): (Vec<char>, Vec<char>) = (
            norm(pattern).chars().collect(),
            norm(text).chars().collect(),
        );
        fn go(p: &[char], t: &[char]) -> bool {
            match p.first() {
                None => t.is_empty(),
                Some('%') => (0..=t.len()).any(|i| go(&p[1..], &t[i..])),
                Some('_') => !t.is_empty() && go(&p[1..], &t[1..]),
                Some('\\') if p.len() > 1 => t.first() == Some(&p[1]) && go(&p[2..], &t[1..]),
                Some(c) => t.first() == Some(c) && go(&p[1..], &t[1..]),
            }
        }
        go(&p, &t)
    }

    /// Whether `record` matches `filter` (`null` matches everything).
    pub fn matches(filter: &Value, record: &Record) -> bool {
        let Some(f) = filter.as_object() else {
            return true;
        };
        if let Some(Value::Array(items)) = f.get("and") {
            return items.iter().all(|i| matches(i, record));
        }
        if let Some(Value::Array(items)) = f.get("or") {
            return items.iter().any(|i| matches(i, record));
        }
        if let Some(inner) = f.get("not") {
            return !matches(inner, record);
        }
        let field = f.get("field").and_then(Value::as_str).unwrap_or("");
        let v = record.get(field).unwrap_or(&Value::Null);
        let operand = match f.get("otherField").and_then(Value::as_str) {
            Some(other) => record.get(other).unwrap_or(&Value::Null),
            None => f.get("value").unwrap_or(&Value::Null),
        };
        let op = f.get("op").and_then(Value::as_str).unwrap_or("");
        let cmp = || compare(v, operand);
        let text_op = |check: &dyn Fn(&str, &str) -> bool| match (text(v), text(operand)) {
            (Some(t), Some(o)) => check(&t, &o),
            _ => false,
        };
        match op {
            "null" => v.is_null(),
            "notNull" => !v.is_null(),
            "eq" => cmp() == Some(Ordering::Equal) || (rank(v) == 3 && v == operand),
            "ne" => v.is_null() || (cmp() != Some(Ordering::Equal) && v != operand),
            "gt" => cmp() == Some(Ordering::Greater),
            "gte" => matches!(cmp(), Some(Ordering::Greater | Ordering::Equal)),
            "lt" => cmp() == Some(Ordering::Less),
            "lte" => matches!(cmp(), Some(Ordering::Less | Ordering::Equal)),
            "between" => {
                let (lo, hi) = (
                    f.get("from").unwrap_or(&Value::Null),
                    f.get("to").unwrap_or(&Value::Null),
                );
                matches!(compare(v, lo), Some(Ordering::Greater | Ordering::Equal))
                    && matches!(compare(v, hi), Some(Ordering::Less | Ordering::Equal))
            }
            "in" | "nin" => {
                let any = f
                    .get("values")
                    .and_then(Value::as_array)
                    .is_some_and(|vs| vs.iter().any(|x| compare(v, x) == Some(Ordering::Equal)));
                if op == "in" { any } else { v.is_null() || !any }
            }
            "listContains" => v
                .as_array()
                .is_some_and(|items| items.iter().any(|x| x == operand)),
            "contains" => text_op(&|t, o| t.contains(o)),
            "notContains" => v.is_null() || !text_op(&|t, o| t.contains(o)),
            "startsWith" => text_op(&|t, o| t.starts_with(o)),
            "endsWith" => text_op(&|t, o| t.ends_with(o)),
            "iContains" => text_op(&|t, o| t.to_lowercase().contains(&o.to_lowercase())),
            "like" => text_op(&|t, o| like(o, t, false)),
            "iLike" => text_op(&|t, o| like(o, t, true)),
            _ => false,
        }
    }

    /// Filters, sorts and pages `records` as `query` says (`where`, `orderBy`, `limit`, `offset`).
    pub fn run<'a>(records: impl Iterator<Item = &'a Record>, query: &Value) -> Vec<Record> {
        let filter = query.get("where").unwrap_or(&Value::Null);
        let mut out: Vec<Record> = records.filter(|r| matches(filter, r)).cloned().collect();
        let keys: Vec<(String, bool)> = query
            .get("orderBy")
            .and_then(Value::as_array)
            .map(|o| {
                o.iter()
                    .filter_map(|k| {
                        Some((
                            k.get("field")?.as_str()?.to_string(),
                            k.get("order").and_then(Value::as_str) == Some("desc"),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by(|a, b| {
            for (field, desc) in &keys {
                let o = order(
                    a.get(field).unwrap_or(&Value::Null),
                    b.get(field).unwrap_or(&Value::Null),
                );
                let o = if *desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
        let offset = query.get("offset").and_then(Value::as_u64).unwrap_or(0) as usize;
        let limit = query
            .get("limit")
            .and_then(Value::as_u64)
            .map(|l| l as usize);
        out.into_iter()
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
            .collect()
    }
}
