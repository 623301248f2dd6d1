//! The QueryAST (PROTOCOL.md §3), parsed from JSON and checked against an object's fields.

use crate::data::catalog::{Catalog, ObjectSchema};
use crate::data::error::DataError;
use crate::data::filter::{Filter, MacroContext, parse_filter};
use crate::data::limits;
use serde_json::{Map, Value};

/// Deepest nesting of `expand` (a lookup's lookup's lookup).
pub const MAX_EXPAND_DEPTH: usize = 3;

/// How a query came: a URL (`GET /data/:object`), a request body (`POST /data/:object/query`), or code.
#[derive(Clone, Debug, Default)]
pub struct ParseOptions {
    /// A request body: its shape is checked as the real server's schema checks it (`where` and `expand` are
    /// records, a sort node has only `field` and `order`, an aggregation needs an `alias`).
    pub body: bool,
    /// A URL: a sort is a comma list (never JSON).
    pub url: bool,
    /// The spelling the URL used for a slot (`where` → `filter`), named in messages.
    pub names: std::collections::BTreeMap<String, String>,
}

/// The real server cuts an error message longer than 500 characters to 499 and `…`.
pub fn truncated(message: String) -> String {
    if message.chars().count() <= 500 {
        return message;
    }
    let mut s: String = message.chars().take(499).collect();
    s.push('…');
    s
}

/// `array`, `string`, … as the real server names a JSON value's kind.
fn kind_word(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Query {
    /// `None` selects every field.
    pub fields: Option<Vec<String>>,
    pub filter: Option<Filter>,
    pub search: Option<Search>,
    pub order_by: Vec<OrderBy>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    /// Lookup field → the query for the related records.
    pub expand: Vec<(String, Query)>,
    pub aggregations: Vec<Aggregation>,
    pub group_by: Vec<GroupBy>,
    /// A filter over the grouped rows, by their aliases (aggregate queries only).
    pub having: Option<super::having::Having>,
    /// Whether the caller wants `total`.
    pub count: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Search {
    pub text: String,
    pub fields: Vec<String>,
    /// The caller named the fields (`searchFields`, `search.fields`); otherwise they are the object's defaults.
    pub named: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OrderBy {
    /// A field, or an aggregation / group alias in aggregate queries.
    pub field: String,
    pub descending: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggFunction {
    Count,
    Sum,
    Avg,
    Min,
    Max,
    CountDistinct,
}

impl AggFunction {
    fn parse(s: &str) -> Option<AggFunction> {
        Some(match s {
            "count" => AggFunction::Count,
            "sum" => AggFunction::Sum,
            "avg" => AggFunction::Avg,
            "min" => AggFunction::Min,
            "max" => AggFunction::Max,
            "count_distinct" => AggFunction::CountDistinct,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Aggregation {
    pub function: AggFunction,
    pub field: Option<String>,
    pub alias: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateGranularity {
    Day,
    Month,
    Quarter,
    Year,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GroupBy {
    pub field: String,
    pub granularity: Option<DateGranularity>,
    pub alias: String,
}

impl Query {
    /// The names the rows of an aggregate query have: its aggregations' aliases, then its groups'.
    pub fn aliases(&self) -> Vec<&str> {
        self.aggregations
            .iter()
            .map(|a| a.alias.as_str())
            .chain(self.group_by.iter().map(|g| g.alias.as_str()))
            .collect()
    }

    pub fn is_aggregate(&self) -> bool {
        !self.aggregations.is_empty() || !self.group_by.is_empty()
    }

    /// Parses a QueryAST body (`where|filter`, `fields|select`, `orderBy|sort`, `limit|top`, `offset|skip`,
    /// `expand|populate`, `search`, `searchFields`, `aggregations`, `groupBy`, `count`).
    pub fn from_json(
        catalog: &Catalog,
        object: &ObjectSchema,
        body: &Value,
        ctx: &MacroContext,
    ) -> Result<Query, DataError> {
        Self::parse(
            catalog,
            object,
            body,
            ctx,
            0,
            &ParseOptions::default(),
            "query",
        )
    }

    /// [`Query::from_json`] for a query that came in a URL or a request body (see [`ParseOptions`]).
    pub fn from_json_with(
        catalog: &Catalog,
        object: &ObjectSchema,
        body: &Value,
        ctx: &MacroContext,
        opts: &ParseOptions,
    ) -> Result<Query, DataError> {
        Self::parse(catalog, object, body, ctx, 0, opts, "query")
    }

    fn parse(
        catalog: &Catalog,
        object: &ObjectSchema,
        body: &Value,
        ctx: &MacroContext,
        depth: usize,
        opts: &ParseOptions,
        path: &str,
    ) -> Result<Query, DataError> {
        let obj = &object.name;
        let m = match body {
            Value::Object(m) => m,
            Value::Null => {
                return Ok(Query {
                    count: true,
                    ..Query::default()
                });
            }
            other => {
                return Err(DataError::invalid_query(
                    obj,
                    format!("a query must be a JSON object, found {other}"),
                ));
            }
        };
        const KNOWN: &[&str] = &[
            "object",
            "fields",
            "select",
            "where",
            "filter",
            "filters",
            "search",
            "searchFields",
            "orderBy",
            "sort",
            "limit",
            "top",
            "offset",
            "skip",
            "expand",
            "populate",
            "aggregations",
            "groupBy",
            "count",
            "having",
        ];
        for key in m.keys() {
            if !KNOWN.contains(&key.as_str()) {
                let hint = match key.as_str() {
                    "cursor" | "joins" | "distinct" | "windowFunctions" => {
                        " (retired in protocol 17)".to_string()
                    }
                    _ => crate::artifact::validate::closest(key, KNOWN.iter().copied())
                        .map(|s| format!(" (did you mean '{s}'?)"))
                        .unwrap_or_default(),
                };
                return Err(DataError::invalid_query(
                    obj,
                    format!("unknown query key '{key}'{hint}"),
                ));
            }
        }
        let pick = |names: &[&'static str]| -> Result<Option<(&'static str, &Value)>, DataError> {
            let present: Vec<(&str, &Value)> = names
                .iter()
                .filter_map(|n| m.get(*n).map(|v| (*n, v)))
                .collect();
            if present.len() > 1 && present.windows(2).any(|w| w[0].1 != w[1].1) {
                return Err(DataError::invalid_query(
                    obj,
                    format!(
                        "conflicting query keys {}: give one spelling",
                        present
                            .iter()
                            .map(|p| p.0)
                            .collect::<Vec<_>>()
                            .join(" and ")
                    ),
                ));
            }
            Ok(present.first().copied())
        };
        // The spelling to name in a message: the URL's, else the body's.
        let label = |slot: &str, used: &str| -> String {
            opts.names
                .get(slot)
                .cloned()
                .unwrap_or_else(|| used.to_string())
        };
        let mut q = Query {
            count: true,
            ..Query::default()
        };
        if let Some((k, v)) = pick(&["fields", "select"])? {
            let names = parse_field_list(object, v, &label("fields", k))?;
            // An empty list selects every field, as no list does.
            q.fields = (!names.is_empty()).then_some(names);
        }
        if let Some((k, v)) = pick(&["where", "filter", "filters"])? {
            let source = label("where", k);
            if opts.body && !matches!(v, Value::Object(_) | Value::Null) {
                let kind = kind_word(v);
                let at = format!("{path}.{k}");
                let mut first = crate::data::error::FieldError::new(
                    &at,
                    "",
                    "invalid_type",
                    format!("Invalid input: expected record, received {kind}"),
                );
                first.label = None;
                let mut second = first.clone();
                second.message = format!("Invalid input: expected object, received {kind}");
                return Err(DataError::QueryShape {
                    object: obj.clone(),
                    fields: vec![first, second],
                });
            }
            let filter = match v {
                Value::String(s) => {
                    let parsed: Value = serde_json::from_str(s).map_err(|_| DataError::InvalidFilter {
                        object: obj.clone(),
                        message: format!("Query parameter '{source}' must be valid JSON. It was not applied, and an unapplied filter would have returned the unfiltered result set."),
                    })?;
                    parse_filter(object, &parsed, ctx, &source)?
                }
                v => parse_filter(object, v, ctx, &source)?,
            };
            q.filter = Some(filter);
        }
        let mut sort_param = "sort".to_string();
        if let Some((k, v)) = pick(&["orderBy", "sort"])? {
            sort_param = label("orderBy", k);
            q.order_by = if opts.url {
                match v {
                    Value::String(s) => parse_order_by(
                        object,
                        &Value::Array(s.split(',').map(|p| Value::String(p.to_string())).collect()),
                    )?,
                    other => parse_order_by(object, other)?,
                }
            } else {
                if opts.body
                    && let Value::Array(items) = v
                {
                    check_sort_nodes(obj, items, &format!("{path}.{k}"))?;
                }
                parse_order_by(object, v)?
            };
        }
        // null is no value (the default page, no offset).
        q.limit = pick(&["limit", "top"])?
            .filter(|(_, v)| !v.is_null())
            .map(|(_, v)| parse_count(obj, "limit", v))
            .transpose()?;
        q.offset = pick(&["offset", "skip"])?
            .filter(|(_, v)| !v.is_null())
            .map(|(_, v)| parse_count(obj, "offset", v))
            .transpose()?;
        if let Some(o) = q.offset
            && o > limits::MAX_OFFSET
        {
            return Err(DataError::invalid_query(
                obj,
                format!(
                    "'offset' {o} is larger than {} (limit MAX_OFFSET); narrow the query with a filter instead",
                    limits::MAX_OFFSET
                ),
            ));
        }
        if let Some(l) = q.limit
            && l > i64::MAX as u64
        {
            return Err(DataError::invalid_query(
                obj,
                format!("'limit' {l} is out of range"),
            ));
        }
        if let Some(v) = m.get("count") {
            q.count = match v {
                Value::Bool(b) => *b,
                Value::Null => true,
                Value::String(s) if matches!(s.as_str(), "true" | "1") => true,
                Value::String(s) if matches!(s.as_str(), "false" | "0") => false,
                other => {
                    return Err(DataError::invalid_query(
                        obj,
                        format!("'count' must be true or false, found {other}"),
                    ));
                }
            };
        }
        let search_fields = match m.get("searchFields") {
            None | Some(Value::Null) => None,
            Some(v) => Some(parse_field_list(object, v, "searchFields")?),
        };
        match m.get("search") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => {
                q.search = Some(Search {
                    text: s.clone(),
                    named: search_fields.is_some(),
                    fields: search_fields.unwrap_or_else(|| object.search_fields.clone()),
                })
            }
            Some(Value::Object(s)) => {
                let text = s
                    .get("query")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let named = s.get("fields").is_some() || search_fields.is_some();
                let fields = match s.get("fields") {
                    Some(v) => parse_field_list(object, v, "search.fields")?,
                    None => search_fields.unwrap_or_else(|| object.search_fields.clone()),
                };
                q.search = Some(Search {
                    text,
                    fields,
                    named,
                });
            }
            Some(other) => {
                return Err(DataError::invalid_query(
                    obj,
                    format!("'search' must be text or {{query, fields}}, found {other}"),
                ));
            }
        }
        if let Some(s) = &q.search
            && s.text.chars().count() > limits::MAX_VALUE_CHARS
        {
            return Err(DataError::invalid_query(
                obj,
                format!(
                    "'search' is longer than {} characters (limit MAX_VALUE_CHARS)",
                    limits::MAX_VALUE_CHARS
                ),
            ));
        }
        if let Some((k, v)) = pick(&["expand", "populate"])? {
            q.expand = parse_expand(catalog, object, v, ctx, depth, opts, &format!("{path}.{k}"))?;
        }
        if let Some(v) = m.get("groupBy") {
            q.group_by = parse_group_by(object, v)?;
        }
        if let Some(v) = m.get("aggregations") {
            q.aggregations = parse_aggregations(object, v, opts.body.then_some(path))?;
        }
        if let Some(h) = m.get("having").filter(|h| !h.is_null()) {
            q.having = Some(super::having::parse(object, &q, h)?);
        }
        if q.is_aggregate() {
            let aliases = q.aliases();
            for o in &q.order_by {
                if !aliases.contains(&o.field.as_str()) {
                    return Err(DataError::InvalidSort {
                        object: obj.clone(),
                        message: format!(
                            "an aggregate query can only sort by its group or aggregation aliases ({}), not '{}'",
                            aliases.join(", "),
                            o.field
                        ),
                    });
                }
            }
        } else {
            check_sort(object, &q.order_by, &sort_param, opts.url)?;
        }
        Ok(q)
    }
}

fn parse_count(object: &str, key: &str, v: &Value) -> Result<u64, DataError> {
    match v {
        Value::Number(n) if n.as_u64().is_some() => Ok(n.as_u64().unwrap_or(0)),
        // A whole number written with a fraction part (`501.0`) is that number, up to 2^53.
        Value::Number(n)
            if n.as_f64()
                .is_some_and(|f| f >= 0.0 && f.fract() == 0.0 && f <= 9_007_199_254_740_991.0) =>
        {
            Ok(n.as_f64().map_or(0, |f| f as u64))
        }
        Value::String(s) if s.trim().parse::<u64>().is_ok() => Ok(s.trim().parse().unwrap_or(0)),
        other => Err(DataError::invalid_query(
            object,
            format!("'{key}' must be a non-negative integer, found {other}"),
        )),
    }
}

/// A comma list or JSON array of field names, each checked.
pub fn parse_field_list(
    object: &ObjectSchema,
    v: &Value,
    param: &str,
) -> Result<Vec<String>, DataError> {
    let names: Vec<String> = match v {
        Value::String(s) => s
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect(),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                DataError::invalid_query(&object.name, format!("'{param}' must list field names"))
            })?,
        other => {
            return Err(DataError::invalid_query(
                &object.name,
                format!("'{param}' must list field names, found {other}"),
            ));
        }
    };
    for n in &names {
        if object.field(n).is_none() {
            let message = if matches!(param, "fields" | "select" | "$select") {
                format!(
                    "Unknown field '{n}' on object '{}'. '{param}' chooses which fields to return; dropping an unknown one silently answered a NARROWER projection with a WIDER one — a projection naming no known field fell all the way back to every field.",
                    object.name
                )
            } else {
                format!(
                    "Query parameter '{param}' names '{n}', which is not a field on object '{}'.",
                    object.name
                )
            };
            return Err(DataError::invalid_field(&object.name, n, message));
        }
    }
    Ok(names)
}

/// `title`, `-title`, `title desc`, comma lists, `[{field, order}]`, `{field: "asc"}`.
pub fn parse_order_by(object: &ObjectSchema, v: &Value) -> Result<Vec<OrderBy>, DataError> {
    let mut out = Vec::new();
    let mut push = |spec: &str, explicit: Option<&str>| -> Result<(), DataError> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Ok(());
        }
        // A leading '-' sorts descending unless a direction word follows the field (the word decides).
        let (spec, minus) = match spec.strip_prefix('-') {
            Some(rest) => (rest.trim(), true),
            None => (spec, false),
        };
        let (name, desc) = if minus && !spec.contains(char::is_whitespace) {
            (spec.to_string(), true)
        } else if let Some((n, dir)) = spec.split_once(char::is_whitespace) {
            let dir = dir.trim();
            if !dir.eq_ignore_ascii_case("desc") && !dir.eq_ignore_ascii_case("asc") {
                return Err(DataError::InvalidSort {
                    object: object.name.clone(),
                    message: format!(
                        "sort '{spec}': the order after the field must be asc or desc"
                    ),
                });
            }
            (n.to_string(), dir.eq_ignore_ascii_case("desc"))
        } else {
            (spec.trim_start_matches('+').to_string(), false)
        };
        let desc = match explicit {
            Some(o) if o.eq_ignore_ascii_case("desc") => true,
            Some(o) if o.eq_ignore_ascii_case("asc") => false,
            Some(o) => {
                return Err(DataError::InvalidSort {
                    object: object.name.clone(),
                    message: format!("sort order '{o}' must be asc or desc"),
                });
            }
            None => desc,
        };
        out.push(OrderBy {
            field: name,
            descending: desc,
        });
        Ok(())
    };
    match v {
        Value::String(s) => {
            if s.trim_start().starts_with('[') || s.trim_start().starts_with('{') {
                let parsed: Value =
                    serde_json::from_str(s).map_err(|_| DataError::InvalidSort {
                        object: object.name.clone(),
                        message: "Query parameter 'sort' looks like JSON but does not parse".into(),
                    })?;
                return parse_order_by(object, &parsed);
            }
            for part in s.split(',') {
                push(part, None)?;
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::String(s) => push(s, None)?,
                    Value::Object(o) => {
                        if o.contains_key("direction") {
                            return Err(DataError::InvalidSort {
                                object: object.name.clone(),
                                message: "sort entries use 'order' (asc|desc), not 'direction'"
                                    .into(),
                            });
                        }
                        let f = o.get("field").and_then(Value::as_str).ok_or_else(|| {
                            DataError::InvalidSort {
                                object: object.name.clone(),
                                message: format!("sort entry {item} needs a 'field'"),
                            }
                        })?;
                        push(
                            f,
                            Some(o.get("order").and_then(Value::as_str).unwrap_or("asc")),
                        )?;
                    }
                    other => {
                        return Err(DataError::InvalidSort {
                            object: object.name.clone(),
                            message: format!("bad sort entry {other}"),
                        });
                    }
                }
            }
        }
        Value::Object(o) => {
            for (f, dir) in o {
                push(f, Some(dir.as_str().unwrap_or("asc")))?;
            }
        }
        other => {
            return Err(DataError::InvalidSort {
                object: object.name.clone(),
                message: format!("bad sort {other}"),
            });
        }
    }
    Ok(out)
}

/// A sort node of a request body has only `field` and `order`.
fn check_sort_nodes(object: &str, items: &[Value], path: &str) -> Result<(), DataError> {
    for (i, item) in items.iter().enumerate() {
        let Value::Object(node) = item else { continue };
        let unknown: Vec<&str> = node
            .keys()
            .map(String::as_str)
            .filter(|k| !matches!(*k, "field" | "order"))
            .collect();
        if unknown.is_empty() {
            continue;
        }
        let keys = unknown
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let hint = if unknown.contains(&"direction") {
            " Did you mean `direction` → `order`?"
        } else {
            ""
        };
        return Err(DataError::query_shape(
            object,
            format!("{path}.{i}"),
            "unknown_field",
            format!(
                "Unrecognized key(s) on this sort node: {keys}.{hint} Until this shape was closed, an unknown key here was dropped silently and `order` fell back to its `asc` default, so a descending request came back ascending — and with `limit`, a different set of rows under an ordinary 200."
            ),
        ));
    }
    Ok(())
}

/// Checks the sort of a plain (non-aggregate) query, naming the parameter as the caller spelled it.
fn check_sort(
    object: &ObjectSchema,
    order: &[OrderBy],
    param: &str,
    url: bool,
) -> Result<(), DataError> {
    let o = &object.name;
    let mut unknown: Vec<&str> = Vec::new();
    for s in order {
        match object.field(&s.field) {
            Some(f) if f.is_sortable() => {}
            Some(f) if f.storage.is_none() => {
                return Err(DataError::InvalidSort {
                    object: o.clone(),
                    message: truncated(format!(
                        "Query parameter '{param}' sorts by '{n}', a {kind} field on '{o}' — a formula value is computed on read, so no driver materialises a column to order by. It was not applied, and an unapplied sort returns the rows in an arbitrary order — which 'top'/'limit' then slices into an arbitrary page. Denormalise the value onto '{o}' (a stored field, written when the source changes) and sort by that. A formula field is virtual: with no column behind it the ORDER BY reaches the driver, finds nothing to order by, and the rows come back in whatever order the driver keeps them.",
                        n = s.field,
                        kind = f.ftype.as_str(),
                    )),
                });
            }
            Some(_) => {}
            None => unknown.push(&s.field),
        }
    }
    let Some(first) = unknown.first() else {
        return check_sort_fields(object, order);
    };
    let also = if unknown.len() > 1 {
        format!(" (also: {})", unknown[1..].join(", "))
    } else {
        String::new()
    };
    let mut message = format!(
        "Query parameter '{param}' sorts by '{first}', which is not a field on object '{o}'{also}. It was not applied, and an unapplied sort returns the rows in an arbitrary order — which 'top'/'limit' then slices into an arbitrary page."
    );
    if url && let Some((head, _)) = first.split_once(':') {
        message.push_str(&format!(
            " The list route spells a direction with a space or a leading '-' ('{param}={head} desc', '{param}=-{head}'); 'field:direction' is the export route's spelling."
        ));
    }
    Err(DataError::InvalidSort {
        object: o.clone(),
        message: truncated(message),
    })
}

/// Checks sort fields of a plain (non-aggregate) query.
pub fn check_sort_fields(object: &ObjectSchema, order: &[OrderBy]) -> Result<(), DataError> {
    for o in order {
        match object.field(&o.field) {
            Some(f) if f.is_sortable() => {}
            Some(f) => {
                return Err(DataError::InvalidSort {
                    object: object.name.clone(),
                    message: format!(
                        "Query parameter 'sort' sorts by '{}', a {} field of object '{}' that cannot be sorted.",
                        o.field,
                        f.ftype.as_str(),
                        object.name
                    ),
                });
            }
            None => {
                return Err(DataError::InvalidSort {
                    object: object.name.clone(),
                    message: format!(
                        "Query parameter 'sort' sorts by '{}', which is not a field on object '{}'. It was not applied, and an unapplied sort returns the rows in an arbitrary order — which 'top'/'limit' then slices into an arbitrary page.",
                        o.field, object.name
                    ),
                });
            }
        }
    }
    Ok(())
}

fn parse_expand(
    catalog: &Catalog,
    object: &ObjectSchema,
    v: &Value,
    ctx: &MacroContext,
    depth: usize,
    opts: &ParseOptions,
    path: &str,
) -> Result<Vec<(String, Query)>, DataError> {
    if opts.body {
        // A body's `expand` is a record: lookup field → {object, fields?, expand?, …}.
        let Value::Object(m) = v else {
            return Err(DataError::query_shape(
                &object.name,
                path.to_string(),
                "invalid_type",
                format!("Invalid input: expected record, received {}", kind_word(v)),
            ));
        };
        for (k, sub) in m {
            match sub {
                Value::Object(o) if o.get("object").is_some_and(Value::is_string) => {}
                Value::Object(_) => {
                    return Err(DataError::query_shape(
                        &object.name,
                        format!("{path}.{k}.object"),
                        "required",
                        "Invalid input: expected string, received undefined",
                    ));
                }
                other => {
                    return Err(DataError::query_shape(
                        &object.name,
                        format!("{path}.{k}"),
                        "invalid_type",
                        format!(
                            "Invalid input: expected object, received {}",
                            kind_word(other)
                        ),
                    ));
                }
            }
        }
    }
    let entries: Vec<(String, Value)> = match v {
        Value::String(s) => s
            .split(',')
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
            .map(|p| (p.to_string(), Value::Null))
            .collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(|s| (s.to_string(), Value::Null)))
            .collect(),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    if v.is_object() {
                        v.clone()
                    } else {
                        Value::Null
                    },
                )
            })
            .collect(),
        other => {
            return Err(DataError::invalid_query(
                &object.name,
                format!("'expand' must list lookup fields, found {other}"),
            ));
        }
    };
    if depth >= MAX_EXPAND_DEPTH && !entries.is_empty() {
        return Err(DataError::invalid_query(
            &object.name,
            format!("'expand' nests deeper than {MAX_EXPAND_DEPTH} levels"),
        ));
    }
    let mut out = Vec::new();
    for (name, sub) in entries {
        let field = object.field(&name).ok_or_else(|| {
            DataError::invalid_field(
                &object.name,
                &name,
                format!(
                    "Unknown field '{name}' on object '{}'. 'expand' resolves a reference field into the related record, so a name the object does not declare can never be expanded.",
                    object.name
                ),
            )
        })?;
        let target = match (&field.reference, field.ftype.is_reference()) {
            (Some(t), true) => t,
            _ => {
                return Err(DataError::invalid_field(
                    &object.name,
                    &name,
                    format!(
                        "Field '{name}' on object '{}' is not a relationship. 'expand' resolves a reference field into the related record, so only lookup / master_detail / user / tree fields can be expanded.",
                        object.name
                    ),
                ));
            }
        };
        let Some(target_schema) = catalog.object(target) else {
            // References to runtime-provided objects (sys_user, …) stay ids until those objects exist.
            continue;
        };
        let q = Query::parse(
            catalog,
            target_schema,
            &sub,
            ctx,
            depth + 1,
            opts,
            &format!("{path}.{name}"),
        )?;
        out.push((name, q));
    }
    Ok(out)
}

fn parse_group_by(object: &ObjectSchema, v: &Value) -> Result<Vec<GroupBy>, DataError> {
    let items: Vec<Value> = match v {
        Value::Array(a) => a.clone(),
        Value::String(s) => s
            .split(',')
            .map(|p| Value::String(p.trim().to_string()))
            .collect(),
        other => {
            return Err(DataError::invalid_query(
                &object.name,
                format!("'groupBy' must be a list, found {other}"),
            ));
        }
    };
    items
        .iter()
        .map(|item| {
            let (field, granularity, alias) = match item {
                Value::String(f) => (f.clone(), None, None),
                Value::Object(o) => (
                    o.get("field").and_then(Value::as_str).unwrap_or("").to_string(),
                    o.get("dateGranularity").and_then(Value::as_str).map(str::to_string),
                    o.get("alias").and_then(Value::as_str).map(str::to_string),
                ),
                other => return Err(DataError::invalid_query(&object.name, format!("bad groupBy entry {other}"))),
            };
            let f = match object.field(&field) {
                Some(f) if f.storage.is_some() => f,
                Some(_) => return Err(no_column(object, &field)),
                None => return Err(DataError::invalid_field(&object.name, &field, format!("Unknown field '{field}' on object '{}'. 'groupBy' buckets rows by a column's values, so an unknown column puts every row in ONE bucket keyed null — a result indistinguishable from a column that really holds a single value.", object.name))),
            };
            let granularity = match granularity.as_deref() {
                None => None,
                Some(g) => {
                    if !matches!(f.storage, Some(crate::artifact::fields::StorageKind::Date | crate::artifact::fields::StorageKind::DateTime)) {
                        return Err(DataError::invalid_query(&object.name, format!("dateGranularity needs a date field; '{field}' is {}", f.ftype.as_str())));
                    }
                    Some(match g {
                        "day" => DateGranularity::Day,
                        "month" => DateGranularity::Month,
                        "quarter" => DateGranularity::Quarter,
                        "year" => DateGranularity::Year,
                        other => return Err(DataError::invalid_query(&object.name, format!("dateGranularity '{other}' is not supported (day, month, quarter, year)"))),
                    })
                }
            };
            let alias = alias.unwrap_or_else(|| field.clone());
            check_alias(object, &alias)?;
            Ok(GroupBy { field, granularity, alias })
        })
        .collect()
}

/// An aggregation or grouping over a field that has no column (a formula, a summary).
fn no_column(object: &ObjectSchema, field: &str) -> DataError {
    DataError::invalid_field(
        &object.name,
        field,
        format!(
            "An aggregation of this query names '{field}', a column that object '{}' has no column for, so the aggregate never ran. Grouping and aggregation run over columns that exist; over a missing one they could only answer blanks, so the query was refused instead of answered with an invented result. Check the name against the object's fields; if the field was declared recently, run schema sync so the column exists before aggregating on it.",
            object.name
        ),
    )
}

/// `body`: the path of a request body's query, whose aggregations are checked as the real server's schema does.
fn parse_aggregations(
    object: &ObjectSchema,
    v: &Value,
    body: Option<&str>,
) -> Result<Vec<Aggregation>, DataError> {
    let items = v
        .as_array()
        .ok_or_else(|| DataError::invalid_query(&object.name, "'aggregations' must be an array"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let o: &Map<String, Value> = item.as_object().ok_or_else(|| DataError::invalid_query(&object.name, format!("bad aggregation {item}")))?;
            let fname = o.get("function").and_then(Value::as_str).unwrap_or("");
            let function = match (AggFunction::parse(fname), body) {
                (Some(f), _) => f,
                (None, Some(path)) => return Err(DataError::query_shape(&object.name, format!("{path}.aggregations.{i}.function"), "invalid_option",
                    "Invalid option: expected one of \"count\"|\"sum\"|\"avg\"|\"min\"|\"max\"|\"count_distinct\"")),
                (None, None) => return Err(DataError::invalid_query(&object.name, format!("unknown aggregation function '{fname}' (count, sum, avg, min, max, count_distinct)"))),
            };
            if let Some(path) = body && !o.get("alias").is_some_and(Value::is_string) {
                let received = o.get("alias").map(kind_word).unwrap_or("undefined");
                return Err(DataError::query_shape(&object.name, format!("{path}.aggregations.{i}.alias"), "required",
                    format!("Invalid input: expected string, received {received}")));
            }
            let field = o.get("field").and_then(Value::as_str).map(str::to_string);
            match (&field, function) {
                (None, AggFunction::Count) => {}
                (None, _) => return Err(DataError::invalid_query(&object.name, format!("aggregation '{fname}' needs a field"))),
                (Some(f), _) => {
                    let schema = match object.field(f) {
                        Some(s) if s.storage.is_some() => s,
                        Some(_) => return Err(no_column(object, f)),
                        None => return Err(DataError::invalid_field(&object.name, f, format!("Unknown field '{f}' on object '{}'. An aggregation computes over a column's values, so an unknown column could only aggregate blanks — sum answered 0 and avg/min/max answered null, each indistinguishable from the same result over real data.", object.name))),
                    };
                    if matches!(function, AggFunction::Sum | AggFunction::Avg) && !matches!(schema.storage, Some(crate::artifact::fields::StorageKind::Number(_))) {
                        return Err(DataError::invalid_query(&object.name, format!("'{fname}' needs a numeric field; '{f}' is {}", schema.ftype.as_str())));
                    }
                }
            }
            let alias = o.get("alias").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| match &field {
                Some(f) => format!("{fname}_{f}"),
                None => fname.to_string(),
            });
            check_alias(object, &alias)?;
            Ok(Aggregation { function, field, alias })
        })
        .collect()
}

/// Aliases become SQL column aliases: they must be plain identifiers.
fn check_alias(object: &ObjectSchema, alias: &str) -> Result<(), DataError> {
    let mut chars = alias.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && alias.len() <= 63;
    if ok {
        Ok(())
    } else {
        Err(DataError::invalid_query(
            &object.name,
            format!("alias '{alias}' must match ^[A-Za-z_][A-Za-z0-9_]*$"),
        ))
    }
}
