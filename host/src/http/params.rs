//! List query parameters (WIRE.md §4.4): every spelling of every slot, field-name equality filters, and the real
//! server's strictness (unknown `$` params, near-miss names with a suggestion, conflicting spellings).

use super::HttpConfig;
use super::errors::ApiError;
use crate::data::catalog::ObjectSchema;
use crate::data::query::ParseOptions;
use serde_json::{Map, Value};

/// Canonical QueryAST key → the spellings a URL may use.
const SLOTS: &[(&str, &[&str])] = &[
    ("limit", &["limit", "top", "$top"]),
    ("offset", &["offset", "skip", "$skip"]),
    ("orderBy", &["orderBy", "sort", "$orderby"]),
    ("fields", &["fields", "select", "$select"]),
    ("where", &["where", "filter", "filters", "$filter"]),
    ("expand", &["expand", "populate", "$expand"]),
    ("search", &["search", "$search"]),
    ("searchFields", &["searchFields", "$searchFields"]),
    ("count", &["count", "$count"]),
];

const SUPPORTED_DOLLAR: &str =
    "$top, $skip, $orderby, $select, $count, $search, $searchFields, $filter, $expand";

/// Common names of other APIs' parameters, and the slot they mean here.
const NEAR_MISSES: &[(&str, &str, &str)] = &[
    ("pageSize", "top", "$top"),
    ("page_size", "top", "$top"),
    ("perPage", "top", "$top"),
    ("per_page", "top", "$top"),
    ("size", "top", "$top"),
    ("page", "skip", "$skip"),
    ("start", "skip", "$skip"),
    ("sortBy", "sort", "$orderby"),
    ("order", "sort", "$orderby"),
    ("order_by", "sort", "$orderby"),
    ("q", "search", "$search"),
    ("query", "search", "$search"),
    ("columns", "select", "$select"),
    ("include", "expand", "$expand"),
];

pub fn pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect()
    })
    .unwrap_or_default()
}

/// Builds a QueryAST body from the URL of `GET /data/:object`, with the spellings the URL used (for messages).
/// An empty value (`sort=`) is no value.
pub fn list_query(
    object: &ObjectSchema,
    raw: Option<&str>,
    config: &HttpConfig,
) -> Result<(Value, ParseOptions), ApiError> {
    let mut body = Map::new();
    let mut equality = Map::new();
    let mut seen: Vec<(&str, String, String)> = Vec::new();
    for (key, value) in pairs(raw) {
        if let Some((slot, names)) = SLOTS
            .iter()
            .find(|(_, names)| names.contains(&key.as_str()))
        {
            if value.trim().is_empty() {
                continue;
            }
            if seen.iter().any(|(s, _, prev)| s == slot && *prev != value) {
                // Every spelling of the slot that was given, in the canonical order.
                let given: Vec<String> = names
                    .iter()
                    .filter(|n| **n == key || seen.iter().any(|(s, k, _)| s == slot && k == *n))
                    .map(|n| format!("'{n}'"))
                    .collect();
                return Err(ApiError::bad_request(
                    "INVALID_REQUEST",
                    format!(
                        "Conflicting query parameters: {} are spellings of the same parameter (canonical '{slot}') and were given different values. Send exactly one.",
                        given.join(", ")
                    ),
                )
                .with_object(&object.name));
            }
            seen.push((slot, key.clone(), value.clone()));
            continue;
        }
        if key.starts_with('$') {
            return Err(ApiError::bad_request(
                "UNSUPPORTED_QUERY_PARAM",
                format!("Unsupported query parameter(s): {key}. Supported $-prefixed parameters: {SUPPORTED_DOLLAR}."),
            )
            .with_object(&object.name));
        }
        match object.field(&key) {
            Some(f) if f.storage.is_some() => {
                equality.insert(key, Value::String(value));
            }
            _ => {
                let hint = NEAR_MISSES
                    .iter()
                    .find(|(miss, _, _)| miss.eq_ignore_ascii_case(&key))
                    .map(|(_, slot, odata)| {
                        format!(
                            " Did you mean the '{slot}' query parameter (OData spelling '{odata}')?"
                        )
                    })
                    .unwrap_or_default();
                return Err(ApiError::Data(crate::data::DataError::invalid_field(
                    &object.name,
                    &key,
                    format!(
                        "Unknown field '{key}' on object '{}'. Query parameters that are not reserved are read as field filters, so an unknown name can only match zero records.{hint}",
                        object.name
                    ),
                )));
            }
        }
    }
    let mut opts = ParseOptions {
        url: true,
        ..ParseOptions::default()
    };
    for (slot, key, value) in seen {
        opts.names.insert(slot.to_string(), key.clone());
        let v = match slot {
            // A limit or offset that is not a number is ignored, as the real server does (the default page
            // applies), and so is a negative limit; a negative offset is refused as the query body's is (the
            // real server fails with a 500).
            "limit" | "offset" => {
                match (value.trim().parse::<u64>(), value.trim().parse::<i64>()) {
                    (Ok(n), _) => Value::from(n),
                    (_, Ok(n)) if slot == "offset" => Value::from(n),
                    _ => continue,
                }
            }
            "where" => {
                let parsed: Value = serde_json::from_str(&value).map_err(|_| {
                    ApiError::Data(crate::data::DataError::InvalidFilter {
                        object: object.name.clone(),
                        message: format!(
                            "Query parameter '{key}' must be valid JSON. It was not applied, and an unapplied filter would have returned the unfiltered result set."
                        ),
                    })
                })?;
                parsed
            }
            _ => Value::String(value),
        };
        body.insert(slot.to_string(), v);
    }
    if !equality.is_empty() {
        let filter = match body.remove("where") {
            Some(w) => Value::Array(vec![
                Value::String("and".into()),
                w,
                Value::Object(equality),
            ]),
            None => Value::Object(equality),
        };
        body.insert("where".into(), filter);
    }
    apply_page_size(&mut body, config);
    Ok((Value::Object(body), opts))
}

/// Without `limit`, a page of the default size; a larger `limit` than the maximum is clamped.
pub fn apply_page_size(body: &mut Map<String, Value>, config: &HttpConfig) {
    let aggregate = body.contains_key("aggregations") || body.contains_key("groupBy");
    let key = if body.contains_key("top") && !body.contains_key("limit") {
        "top"
    } else {
        "limit"
    };
    let given = body.get(key).filter(|v| !v.is_null());
    match given.map(|v| {
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
    }) {
        Some(Some(n)) if n > config.max_page_size => {
            body.insert(key.into(), Value::from(config.max_page_size));
        }
        // A limit that is no count is refused by the query parser, naming it.
        Some(_) => {}
        None if !aggregate => {
            body.remove(key);
            body.insert("limit".into(), Value::from(config.default_page_size));
        }
        None => {}
    }
}

/// The single-record GET accepts only `select` and `expand` (and their `$` spellings).
pub fn get_query(raw: Option<&str>) -> Result<Value, ApiError> {
    let mut body = Map::new();
    for (key, value) in pairs(raw) {
        let slot = match key.as_str() {
            "select" | "$select" => "fields",
            "expand" | "$expand" => "expand",
            other => {
                return Err(ApiError::StrictParam(format!(
                    "The \"{other}\" query parameter is not supported by this endpoint. This endpoint will not silently ignore a parameter it does not understand — an ignored filter is indistinguishable from one that matched everything. Supported parameters: expand, select."
                )));
            }
        };
        body.insert(slot.into(), Value::String(value));
    }
    Ok(Value::Object(body))
}
