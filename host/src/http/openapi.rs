//! OpenAPI 3.1 generated from the artifact: every route the router serves, per object its record, create,
//! update and query schemas (field types as JSON Schema, required fields, enums for selects, read-only system
//! fields), every parameter with its limits, and every error status with its body. It needs credentials and
//! describes only what the caller may read: the objects the kernel's access computation lets it read, without
//! the fields it may not read.
//!
//! What JSON Schema cannot say (validation rules, hooks, whether a referenced record exists, uniqueness) is
//! named in each operation's `x-objectos-rules`, so a client knows a schema-valid write may still be refused
//! with 400 `VALIDATION_FAILED` or 409.

use super::errors::ApiError;
use super::meta::Viewer;
use super::{Shared, identity, json_response};
use crate::artifact::fields::{FieldType, StorageKind};
use crate::data::catalog::{FieldSchema, ObjectSchema};
use crate::data::limits;
use crate::data::shapes::schema as shapes;
use crate::security::auth;
use crate::security::permissions::Access;
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Map, Value, json};

pub fn routes() -> Router<Shared> {
    Router::new().route("/api/v1/openapi.json", get(openapi))
}

/// Query parameters of the list route that are not field names (`<field>=value` filters).
const RESERVED: &[&str] = &[
    "limit",
    "top",
    "$top",
    "offset",
    "skip",
    "$skip",
    "orderBy",
    "sort",
    "$orderby",
    "fields",
    "select",
    "$select",
    "where",
    "filter",
    "filters",
    "$filter",
    "expand",
    "populate",
    "$expand",
    "search",
    "$search",
    "searchFields",
    "$searchFields",
    "count",
    "$count",
];

/// Where a field's value schema is used.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Use {
    /// In a record the server answers.
    Read,
    /// In a create or update body.
    Write,
}

/// The real server's phone test (data::values::is_phone).
const PHONE_PATTERN: &str = r"^[+()\-0-9 \t\n\f\r.]{5,}$";
/// An e-mail address as the server checks it: a local part without spaces, `@`, a domain with a dot inside.
const EMAIL_PATTERN: &str = r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$";
/// An http(s) URL with a host name (the server accepts any URL with a host, and `mailto:`).
const URL_PATTERN: &str = r"^https?://[A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?){0,4}(/[A-Za-z0-9._~-]{0,20}){0,4}$";
const TIME_PATTERN: &str = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$";
const DATE_PATTERN: &str = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])$";
const DATETIME_PATTERN: &str = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,3})?Z$";

fn nullable(mut s: Value) -> Value {
    match s.get("type").cloned() {
        Some(Value::String(t)) => {
            s["type"] = json!([t, "null"]);
            if let Some(e) = s.get_mut("enum").and_then(Value::as_array_mut) {
                e.push(Value::Null);
            }
            s
        }
        _ if s.as_object().is_some_and(|m| m.is_empty()) => s,
        _ => json!({"anyOf": [s, {"type": "null"}]}),
    }
}

fn is_text(f: &FieldSchema) -> bool {
    f.storage == Some(StorageKind::Text) && !f.ftype.is_reference() && !f.ftype.has_options()
}

/// A field's value, without `null`.
fn value_schema(f: &FieldSchema, usage: Use) -> Value {
    use FieldType::*;
    let list = f.ftype.is_list() || f.multiple;
    let mut s = match f.ftype {
        Formula => json!({}),
        Summary => json!({"type": "number"}),
        Autonumber => json!({"type": "string"}),
        Number | Currency | Percent | Rating | Slider | Progress => {
            let mut n = json!({"type": "number"});
            if usage == Use::Write
                && let Some(scale) = f.scale
                && scale <= 6
            {
                // At most `scale` fraction digits (max_scale otherwise).
                n["multipleOf"] = json!(10f64.powi(-(scale as i32)));
            }
            if usage == Use::Write {
                if let Some(min) = f.min {
                    n["minimum"] = json!(min);
                }
                if let Some(max) = f.max {
                    n["maximum"] = json!(max);
                }
            }
            n
        }
        Boolean | Toggle => match usage {
            Use::Read => json!({"type": "boolean"}),
            // Written as a boolean, or as 1/0 and their texts (data::values::coerce).
            Use::Write => {
                json!({"anyOf": [{"type": "boolean"}, {"enum": ["true", "false", "1", "0", 1, 0]}]})
            }
        },
        Date => match usage {
            Use::Read => json!({"type": "string", "format": "date"}),
            Use::Write => {
                json!({"anyOf": [{"type": "string", "format": "date", "pattern": DATE_PATTERN}, epoch_millis()]})
            }
        },
        Datetime => match usage {
            Use::Read => json!({"type": "string", "format": "date-time"}),
            Use::Write => {
                json!({"anyOf": [{"type": "string", "format": "date-time", "pattern": DATETIME_PATTERN}, epoch_millis()]})
            }
        },
        Time => json!({"type": "string", "pattern": TIME_PATTERN}),
        Select | Radio | Multiselect | Checkboxes => {
            let one = json!({"type": "string", "enum": f.options});
            if list {
                json!({"type": "array", "items": one, "maxItems": limits::MAX_IN_VALUES})
            } else {
                one
            }
        }
        Tags => {
            let one = json!({"type": "string", "maxLength": limits::MAX_VALUE_CHARS});
            json!({"type": "array", "items": one, "maxItems": limits::MAX_IN_VALUES})
        }
        Lookup | MasterDetail | Tree | User => {
            let id = json!({"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^\S(.*\S)?$"});
            let one = match usage {
                // An expanded lookup is the related record.
                Use::Read => json!({"type": ["string", "object"]}),
                Use::Write => id,
            };
            let mut s = if f.multiple {
                json!({"type": "array", "items": one, "maxItems": limits::MAX_IN_VALUES})
            } else {
                one
            };
            // A written id must name an existing record of the target in the caller's organization
            // (400 `reference_not_found` otherwise): what JSON Schema cannot say, said as an extension.
            if usage == Use::Write
                && let Some(target) = &f.reference
            {
                s["x-objectos-reference"] = json!(target);
            }
            s
        }
        Email => match usage {
            Use::Write => json!({"type": "string", "pattern": EMAIL_PATTERN}),
            Use::Read => json!({"type": "string"}),
        },
        Phone if usage == Use::Write => {
            let mut p = json!({"type": "string", "pattern": PHONE_PATTERN});
            if let Some(max) = f.max_length {
                p["maxLength"] = json!(max);
            }
            p
        }
        Url => match usage {
            Use::Write => json!({"type": "string", "pattern": URL_PATTERN}),
            Use::Read => json!({"type": "string"}),
        },
        Vector => json!({"type": "array", "items": {"type": "number"}}),
        // Written values are checked against these shapes (data::shapes); read and filtered ones are free.
        Composite | Record if usage == Use::Write => shapes::record(),
        Repeater if usage == Use::Write => shapes::repeater(),
        Location if usage == Use::Write => shapes::location(),
        Address if usage == Use::Write => shapes::address(),
        Image | File | Avatar | Video | Audio if usage == Use::Write => {
            if f.multiple {
                json!({"anyOf": [{"type": "array", "items": shapes::file_id(), "maxItems": limits::MAX_IN_VALUES}, shapes::file_id()]})
            } else {
                shapes::file_id()
            }
        }
        Json | Composite | Repeater | Record | Location | Address | Image | File | Avatar
        | Video | Audio => json!({}),
        Text | Textarea | Phone | Password | Secret | Markdown | Html | Richtext | Code | Color
        | Signature | Qrcode => {
            // A number or a boolean written to a text field is stored as its text (said only where no declared
            // length could refuse that text: a JSON number's text is at most 24 characters).
            let written =
                if f.max_length.is_none_or(|m| m >= 24) && f.min_length.is_none_or(|m| m <= 1) {
                    json!(["string", "number", "boolean"])
                } else {
                    json!("string")
                };
            let mut t = json!({"type": "string"});
            if usage == Use::Write {
                t["type"] = written.clone();
                // Lengths are the declared ones (the request body's size bounds the rest).
                if let Some(max) = f.max_length {
                    t["maxLength"] = json!(max);
                }
                if f.required {
                    // A blank text is no value, and a required field needs one.
                    t["minLength"] = json!(f.min_length.unwrap_or(1).max(1));
                    t["pattern"] = json!(r"\S");
                } else if let Some(n) = f.min_length.filter(|n| *n > 0) {
                    // An empty text is no value; a shorter non-empty one is refused.
                    t["minLength"] = json!(n);
                    t = json!({"anyOf": [t, {"type": "string", "maxLength": 0}]});
                }
            }
            t
        }
    };
    if let Some(m) = s.as_object_mut() {
        m.insert("title".into(), json!(f.label));
        if matches!(f.ftype, Password | Secret) {
            m.insert("writeOnly".into(), json!(true));
        }
    }
    s
}

/// A record as the server answers it (every field may be absent when `fields` selects others).
fn record_schema(o: &ObjectSchema, access: &Access) -> Value {
    let mut props = Map::new();
    for f in o
        .fields
        .iter()
        .filter(|f| !access.unreadable.contains(&f.name))
    {
        let mut s = nullable(value_schema(f, Use::Read));
        if f.system || f.storage.is_none() || f.ftype == FieldType::Autonumber {
            s["readOnly"] = json!(true);
        }
        props.insert(f.name.clone(), s);
    }
    json!({"type": "object", "title": o.label, "properties": props, "additionalProperties": false})
}

/// Whether a caller may send `f` in a create or update body.
fn writable(f: &FieldSchema, access: &Access) -> bool {
    !f.system
        && f.storage.is_some()
        && f.ftype != FieldType::Autonumber
        && !access.uneditable.contains(&f.name)
}

/// The body of a create (`create == true`) or an update.
fn write_schema(o: &ObjectSchema, access: &Access, create: bool) -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    for f in o.fields.iter().filter(|f| writable(f, access)) {
        let v = value_schema(f, Use::Write);
        let needed = f.required && f.default_value.is_none();
        props.insert(f.name.clone(), if f.required { v } else { nullable(v) });
        if create && needed {
            required.push(f.name.clone());
        }
    }
    if create {
        props.insert(
            "id".into(),
            json!({"type": ["string", "null"], "pattern": "^[A-Za-z0-9_-]{1,64}$", "description": "A client-chosen id is kept; otherwise (or null) the server makes one"}),
        );
    } else {
        props.insert(
            "expectedVersion".into(),
            json!({"type": ["string", "null"], "description": "Optimistic locking: the record's updated_at as last read; 409 CONCURRENT_UPDATE when it changed since (null: no check)"}),
        );
    }
    let mut s = json!({"type": "object", "properties": props, "additionalProperties": false,
        "description": "System fields (id, created_at, owner_id, …) are set by the server; a field the object does not have is refused with 400 INVALID_FIELD"});
    if !required.is_empty() {
        s["required"] = json!(required);
    }
    s
}

fn names<'a>(fields: impl Iterator<Item = &'a FieldSchema>) -> Vec<String> {
    fields.map(|f| f.name.clone()).collect()
}

fn readable<'a>(o: &'a ObjectSchema, access: &'a Access) -> impl Iterator<Item = &'a FieldSchema> {
    o.fields
        .iter()
        .filter(|f| !access.unreadable.contains(&f.name))
}

/// Fields a filter, a sort or a `groupBy` may name: stored and readable.
fn filterable<'a>(
    o: &'a ObjectSchema,
    access: &'a Access,
) -> impl Iterator<Item = &'a FieldSchema> {
    readable(o, access).filter(|f| f.storage.is_some() && f.storage != Some(StorageKind::Json))
}

/// A value a filter compares with anything (a text field, an alias of a grouped row): any scalar, a text no
/// longer than MAX_VALUE_CHARS.
fn filter_operand() -> Value {
    json!({"type": ["string", "number", "boolean"], "maxLength": limits::MAX_VALUE_CHARS})
}

/// A date or date-time may also be written as milliseconds since 1970-01-01 UTC (years 1 to 9999).
fn epoch_millis() -> Value {
    json!({"type": "integer", "minimum": -62_135_596_800_000i64, "maximum": 253_402_300_799_999i64,
        "description": "Milliseconds since 1970-01-01T00:00:00Z"})
}

/// A numeric text, as a number field's filter takes it.
const NUMERIC_PATTERN: &str = r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$";

/// What a filter may compare `f` with, by its column (data::filter refuses the rest): a number or a
/// numeric text, a date or date-time text, a boolean (or 1/0, "true"/"false"/"1"/"0"), any scalar for text.
fn field_operand(f: &FieldSchema) -> Value {
    let dates = json!({"anyOf": [{"type": "string", "pattern": DATE_PATTERN}, {"type": "string", "pattern": DATETIME_PATTERN}, epoch_millis()]});
    match f.storage {
        Some(StorageKind::Number(_)) => {
            json!({"anyOf": [{"type": "number"}, {"type": "string", "pattern": NUMERIC_PATTERN}]})
        }
        Some(StorageKind::Date | StorageKind::DateTime) => dates,
        Some(StorageKind::Boolean) => {
            json!({"anyOf": [{"type": ["boolean", "number"]}, {"enum": ["true", "false", "1", "0"]}]})
        }
        _ => filter_operand(),
    }
}

/// A field's equality filter in the URL (`?status=open`): the text forms of [`field_operand`].
fn field_param(f: &FieldSchema) -> Value {
    match f.storage {
        Some(StorageKind::Number(_)) => json!({"type": "string", "pattern": NUMERIC_PATTERN}),
        Some(StorageKind::Date | StorageKind::DateTime) => {
            json!({"type": "string", "pattern": format!("{}|{}", DATE_PATTERN, DATETIME_PATTERN)})
        }
        Some(StorageKind::Boolean) => {
            json!({"type": "string", "enum": ["true", "false", "1", "0"]})
        }
        _ => json!({"type": "string", "maxLength": limits::MAX_VALUE_CHARS}),
    }
}

/// The object form of a filter on `o`: field → value, `null`, or operators; `$and` / `$or` of such maps.
fn where_schema(o: &ObjectSchema, access: &Access) -> Value {
    let mut props = Map::new();
    for f in filterable(o, access) {
        // A text column compares with any scalar (an id with any text: it matches nothing when it is none).
        let v = field_operand(f);
        let mut ops = Map::new();
        // null compares as "no value" (`$eq: null` is `$null: true`).
        for op in ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"] {
            ops.insert(op.into(), nullable(v.clone()));
        }
        for op in ["$in", "$nin"] {
            // A list, or a text of comma-separated values.
            ops.insert(
                op.into(),
                json!({"anyOf": [{"type": "array", "items": nullable(v.clone()), "maxItems": limits::MAX_IN_VALUES},
                    {"type": "string", "maxLength": limits::MAX_VALUE_CHARS}]}),
            );
        }
        for op in ["$null", "$exists"] {
            ops.insert(op.into(), json!({"type": "boolean"}));
        }
        if is_text(f) {
            for op in [
                "$contains",
                "$startsWith",
                "$endsWith",
                "$icontains",
                "$like",
            ] {
                ops.insert(
                    op.into(),
                    json!({"type": ["string", "number"], "maxLength": limits::MAX_VALUE_CHARS}),
                );
            }
        }
        let ops = json!({"type": "object", "properties": ops, "additionalProperties": false, "minProperties": 1});
        props.insert(f.name.clone(), json!({"anyOf": [v, {"type": "null"}, ops]}));
    }
    // `$and` / `$or` hold field filters, `$not` one. The server takes deeper nesting too (up to
    // MAX_FILTER_DEPTH and MAX_FILTER_NODES); the document stops at one level, so that what it generates stays
    // inside those bounds.
    let leaf = json!({"type": "object", "properties": props, "additionalProperties": false});
    let mut top = props;
    for op in ["$and", "$or"] {
        top.insert(
            op.into(),
            json!({"type": "array", "items": leaf, "maxItems": 16}),
        );
    }
    top.insert("$not".into(), leaf);
    json!({"type": "object", "properties": top, "additionalProperties": false,
        "description": format!("A filter in the object form: field → value, null, or {{$eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $null, $exists, and on text $contains, $startsWith, $endsWith, $icontains, $like}}; $and / $or / $not combine filters. The array form ([\"field\", \"operator\", value], [\"and\", …]) is accepted too. At most {} conditions, {} levels deep, {} values in $in.",
            limits::MAX_FILTER_NODES, limits::MAX_FILTER_DEPTH, limits::MAX_IN_VALUES)})
}

/// A comma list of names out of `choices` (empty = none given).
fn comma_list(choices: &[String], directions: bool) -> Value {
    if choices.is_empty() {
        return json!({"type": "string", "maxLength": 0});
    }
    let alt = choices
        .iter()
        .map(|c| regex_escape(c))
        .collect::<Vec<_>>()
        .join("|");
    let one = if directions {
        // `field`, `-field`, `field asc|desc` (with a leading '-' too: the word decides).
        format!("-?({alt})( (asc|desc))?")
    } else {
        format!("({alt})")
    };
    json!({"type": "string", "pattern": format!("^({one}(,{one})*)?$")})
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

fn sortable_names(o: &ObjectSchema, access: &Access) -> Vec<String> {
    names(readable(o, access).filter(|f| f.is_sortable()))
}

fn lookup_names(o: &ObjectSchema, access: &Access, s: &Shared) -> Vec<String> {
    names(readable(o, access).filter(|f| {
        f.ftype.is_reference()
            && f.reference
                .as_deref()
                .is_some_and(|t| s.kernel.catalog().object(t).is_some())
    }))
}

/// The largest integer a JSON number carries exactly (2^53 - 1).
const MAX_SAFE_INTEGER: u64 = 9_007_199_254_740_991;

/// The QueryAST body of `POST /data/:object/query`: a plain query, or an aggregate one.
fn query_schema(o: &ObjectSchema, access: &Access, s: &Shared) -> Value {
    let fields = names(readable(o, access));
    let sortable = sortable_names(o, access);
    let lookups = lookup_names(o, access, s);
    let grouping = names(filterable(o, access));
    let numeric =
        names(filterable(o, access).filter(|f| matches!(f.storage, Some(StorageKind::Number(_)))));
    let where_ref = json!({"$ref": format!("#/components/schemas/{}_where", o.name)});
    let page = |m: &mut Map<String, Value>| {
        m.insert("limit".into(), json!({"type": "integer", "minimum": 0, "maximum": MAX_SAFE_INTEGER, "description": format!("Page size; larger values are cut to the server's maximum page (default 1000). Default page: 100")}));
        m.insert(
            "offset".into(),
            json!({"type": "integer", "minimum": 0, "maximum": limits::MAX_OFFSET}),
        );
        m.insert(
            "count".into(),
            json!({"type": "boolean", "description": "false leaves out `total`"}),
        );
        m.insert("where".into(), where_ref.clone());
    };
    let mut plain = Map::new();
    plain.insert("fields".into(), json!({"type": "array", "items": {"type": "string", "enum": fields}, "description": "Fields to return; empty or absent: all"}));
    plain.insert("orderBy".into(), json!({"type": "array", "maxItems": 16, "items": {"type": "object", "required": ["field"], "additionalProperties": false,
        "properties": {"field": {"type": "string", "enum": sortable}, "order": {"type": "string", "enum": ["asc", "desc"]}}}}));
    let nested: Map<String, Value> = lookups
        .iter()
        .map(|l| {
            (
                l.clone(),
                json!({"type": "object", "required": ["object"], "additionalProperties": false,
            "properties": {"object": {"type": "string", "minLength": 1, "maxLength": 255}}}),
            )
        })
        .collect();
    plain.insert("expand".into(), json!({"type": "object", "properties": nested, "additionalProperties": false,
        "description": "Lookup fields replaced by their records: {lookup: {object, fields?, expand?, …}} (a QueryAST over the related object)"}));
    plain.insert(
        "search".into(),
        json!({"type": "string", "maxLength": limits::MAX_VALUE_CHARS}),
    );
    plain.insert("searchFields".into(), json!({"type": "array", "items": {"type": "string", "enum": names(readable(o, access).filter(|f| f.storage.is_some()))}}));
    page(&mut plain);
    let agg_count = json!({"type": "object", "required": ["function", "alias"], "additionalProperties": false, "properties": {
        "function": {"const": "count"},
        "field": {"type": "string", "enum": grouping},
        "alias": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,30}$"}}});
    let agg_any = json!({"type": "object", "required": ["function", "field", "alias"], "additionalProperties": false, "properties": {
        "function": {"type": "string", "enum": ["count_distinct", "min", "max"]},
        "field": {"type": "string", "enum": grouping},
        "alias": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,30}$"}}});
    let agg_num = json!({"type": "object", "required": ["function", "field", "alias"], "additionalProperties": false, "properties": {
        "function": {"type": "string", "enum": ["sum", "avg"]},
        "field": {"type": "string", "enum": numeric},
        "alias": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,30}$"}}});
    let mut agg = Map::new();
    agg.insert("groupBy".into(), json!({"type": "array", "items": {"type": "string", "enum": grouping}, "minItems": 1, "maxItems": 8}));
    agg.insert(
        "aggregations".into(),
        json!({"type": "array", "items": {"anyOf": [agg_count, agg_any, agg_num]}, "maxItems": 16,
        "description": "Aliases must differ from each other and from the grouped fields"}),
    );
    agg.insert("having".into(), schema_ref("Having"));
    page(&mut agg);
    json!({"oneOf": [
        {"type": "object", "title": "Query", "properties": plain, "additionalProperties": false},
        {"type": "object", "title": "Aggregate query", "properties": agg, "additionalProperties": false,
            "anyOf": [{"required": ["aggregations"]}, {"required": ["groupBy"]}]}
    ]})
}

/// `having`: a filter over the grouped rows by alias (data::having); `$and` / `$or` hold lists of such
/// filters (a common schema).
fn having_schema() -> Value {
    let v = filter_operand();
    let mut ops = Map::new();
    for op in ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"] {
        ops.insert(op.into(), nullable(v.clone()));
    }
    for op in ["$in", "$nin"] {
        ops.insert(op.into(), json!({"type": "array", "items": nullable(v.clone()), "maxItems": limits::MAX_IN_VALUES}));
    }
    ops.insert("$null".into(), json!({"type": "boolean"}));
    let condition = json!({"anyOf": [nullable(v), {"type": "object", "properties": ops, "additionalProperties": false, "minProperties": 1}]});
    // One level of `$and` / `$or`, as in `where`.
    let leaf = json!({"type": "object", "propertyNames": {"pattern": "^[a-z][a-z0-9_]{0,30}$"}, "additionalProperties": condition});
    let list = json!({"type": "array", "items": leaf, "maxItems": 16});
    json!({"type": "object", "properties": {"$and": list, "$or": list},
        "propertyNames": {"pattern": "^(\\$and|\\$or|[a-z][a-z0-9_]{0,30})$"},
        "additionalProperties": condition,
        "description": "A filter over the grouped rows by their aliases (a name that is not an alias or grouped field of this query: 400): {alias: value}, {alias: {$eq|$ne|$gt|$gte|$lt|$lte: value}}, {alias: {$in|$nin: [values]}}, {alias: {$null: bool}}, $and / $or"})
}

fn content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

fn ok(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": content(schema)})
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn response_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/responses/{name}")})
}

/// The error statuses of a data route.
fn data_errors(extra: &[&str]) -> Map<String, Value> {
    let mut m = Map::new();
    for (status, name) in [
        ("400", "BadRequest"),
        ("401", "Unauthenticated"),
        ("403", "Forbidden"),
        ("404", "NotFound"),
        ("413", "PayloadTooLarge"),
        ("500", "ServerError"),
        ("503", "Unavailable"),
        ("504", "Timeout"),
    ] {
        m.insert(status.into(), response_ref(name));
    }
    for e in extra {
        let name = match *e {
            "409" => "Conflict",
            "501" => "NotImplemented",
            _ => "ServerError",
        };
        m.insert((*e).to_string(), response_ref(name));
    }
    m
}

fn operation(
    tag: &str,
    id: String,
    summary: &str,
    success: &[(&str, Value)],
    errors: Map<String, Value>,
) -> Map<String, Value> {
    let mut responses = errors;
    // The HTTP layer's own refusals of an oversized request line or header block (no body).
    responses.insert("414".into(), json!({"description": "URI too long"}));
    responses.insert(
        "431".into(),
        json!({"description": "Request header fields too large"}),
    );
    for (status, r) in success {
        responses.insert((*status).to_string(), r.clone());
    }
    let mut op = Map::new();
    op.insert("tags".into(), json!([tag]));
    op.insert("operationId".into(), json!(id));
    op.insert("summary".into(), json!(summary));
    op.insert("responses".into(), Value::Object(responses));
    op
}

fn with(op: impl Into<Value>, key: &str, v: Value) -> Value {
    let mut op = match op.into() {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    op.insert(key.into(), v);
    Value::Object(op)
}

fn body(schema: Value) -> Value {
    json!({"required": true, "content": content(schema)})
}

/// What JSON Schema cannot say about writes to `o`.
fn rules(s: &Shared, o: &ObjectSchema) -> Value {
    let def = &s.kernel.artifact().definition;
    let mut out = Vec::new();
    if let Some(obj) = def.objects.iter().find(|d| d.name == o.name) {
        for v in &obj.validations {
            let v = serde_json::to_value(v).unwrap_or_default();
            out.push(json!({"kind": "validation", "name": v.get("name"), "type": v.get("type"), "message": v.get("message")}));
        }
    }
    for h in &def.hooks {
        let applies = match &h.object {
            Value::String(t) => t == &o.name || t == "*",
            Value::Array(a) => a.iter().any(|t| t.as_str() == Some(&o.name)),
            _ => false,
        };
        if applies {
            out.push(json!({"kind": "hook", "name": h.name, "events": h.events}));
        }
    }
    for f in &o.fields {
        if f.ftype.is_reference() && !f.system {
            out.push(json!({"kind": "reference", "field": f.name, "object": f.reference}));
        }
        if f.unique != crate::artifact::fields::Uniqueness::None {
            out.push(json!({"kind": "unique", "field": f.name}));
        }
    }
    Value::Array(out)
}

fn object_paths(
    s: &Shared,
    o: &ObjectSchema,
    access: &Access,
    paths: &mut Map<String, Value>,
    schemas: &mut Map<String, Value>,
) {
    let name = &o.name;
    schemas.insert(name.clone(), record_schema(o, access));
    schemas.insert(format!("{name}_create"), write_schema(o, access, true));
    schemas.insert(format!("{name}_update"), write_schema(o, access, false));
    schemas.insert(format!("{name}_where"), where_schema(o, access));
    schemas.insert(format!("{name}_query"), query_schema(o, access, s));
    let r = schema_ref(name);
    let list = json!({"type": "object", "required": ["object", "records", "hasMore"], "additionalProperties": false, "properties": {
        "object": {"const": name}, "records": {"type": "array", "items": r}, "total": {"type": "integer", "minimum": 0}, "hasMore": {"type": "boolean"}}});
    let single = json!({"type": "object", "required": ["object", "id", "record"], "additionalProperties": false, "properties": {
        "object": {"const": name}, "id": {"type": "string"}, "record": r}});
    // A create or update: its answer names the fields the write left out (`droppedFields`).
    let written = json!({"type": "object", "required": ["object", "id", "record"], "additionalProperties": false, "properties": {
        "object": {"const": name}, "id": {"type": "string"}, "record": r, "droppedFields": {"type": "array", "items": {
            "type": "object", "required": ["object", "fields", "reason"], "additionalProperties": false, "properties": {
                "object": {"type": "string"}, "fields": {"type": "array", "items": {"type": "string"}},
                "reason": {"enum": ["readonly", "readonly_when"]}}}}}});
    let batch_report = schema_ref("BatchReport");
    let rules = rules(s, o);

    // GET /data/:object
    let fields = names(readable(o, access));
    let mut params = vec![
        json!({"name": "limit", "in": "query", "schema": {"type": "string"}, "description": "Page size (aliases: top, $top). A non-negative integer; anything else is ignored and the default page (100) applies, as on ObjectStack 17.4. Larger than the maximum page (1000): cut to it. 0: no records"}),
        json!({"name": "offset", "in": "query", "schema": {"type": "string"}, "description": format!("Records to skip (aliases: skip, $skip): an integer from 0 to {} (a negative or larger one is refused with 400); text that is not a number is ignored", limits::MAX_OFFSET)}),
        json!({"name": "orderBy", "in": "query", "schema": comma_list(&sortable_names(o, access), true), "description": "Sort (aliases: sort, $orderby): comma list of `field`, `-field` or `field desc`"}),
        json!({"name": "fields", "in": "query", "schema": comma_list(&fields, false), "description": "Fields to return (aliases: select, $select); empty: all"}),
        json!({"name": "where", "in": "query", "content": {"application/json": {"schema": schema_ref(&format!("{name}_where"))}}, "description": "JSON filter (aliases: filter, filters, $filter), object or array form"}),
        json!({"name": "expand", "in": "query", "schema": comma_list(&lookup_names(o, access, s), false), "description": "Lookup fields replaced by their records (aliases: populate, $expand)"}),
        json!({"name": "search", "in": "query", "schema": {"type": "string", "maxLength": limits::MAX_VALUE_CHARS}, "description": "Text search over the searchable fields (alias: $search)"}),
        json!({"name": "count", "in": "query", "schema": {"type": "string", "enum": ["true", "false", "1", "0"]}, "description": "false (or 0) leaves out `total` (alias: $count)"}),
    ];
    for f in filterable(o, access) {
        if RESERVED.contains(&f.name.as_str()) {
            continue;
        }
        params.push(
            json!({"name": f.name, "in": "query", "schema": field_param(f),
            "description": format!("Equality filter on {}, AND-ed with `where`", f.label)}),
        );
    }
    let mut entry = Map::new();
    entry.insert(
        "get".into(),
        with(
            operation(
                name,
                format!("list_{name}"),
                &format!("List {} records", o.label),
                &[("200", ok("A page of records", list.clone()))],
                data_errors(&[]),
            ),
            "parameters",
            Value::Array(params),
        ),
    );
    let mut create = operation(
        name,
        format!("create_{name}"),
        &format!("Create a {} record", o.label),
        &[("201", ok("The created record", written.clone()))],
        data_errors(&["409"]),
    );
    create.insert(
        "requestBody".into(),
        body(schema_ref(&format!("{name}_create"))),
    );
    create.insert("x-objectos-rules".into(), rules.clone());
    entry.insert("post".into(), Value::Object(create));
    paths.insert(format!("/api/v1/data/{name}"), Value::Object(entry));

    paths.insert(
        format!("/api/v1/data/{name}/query"),
        json!({"post": with(operation(name, format!("query_{name}"), &format!("Query {} records with a QueryAST", o.label),
            &[("200", ok("A page of records, or of aggregate rows", json!({"type": "object", "required": ["object", "records", "hasMore"], "additionalProperties": false, "properties": {
                "object": {"const": name}, "records": {"type": "array", "items": {"anyOf": [r, {"type": "object", "title": "Aggregate row: grouped fields and aliases"}]}},
                "total": {"type": "integer", "minimum": 0}, "hasMore": {"type": "boolean"}}})))], data_errors(&[])),
            "requestBody", json!({"required": false, "content": content(schema_ref(&format!("{name}_query")))}))}),
    );
    let many = json!({"type": "array", "items": schema_ref(&format!("{name}_create")), "maxItems": limits::MAX_WRITE_BATCH});
    let mut create_many = operation(
        name,
        format!("create_many_{name}"),
        &format!("Create {} records in one transaction", o.label),
        &[(
            "201",
            ok(
                "The created records",
                json!({"type": "object", "required": ["object", "records", "count"], "additionalProperties": false, "properties": {
            "object": {"const": name}, "records": {"type": "array", "items": r}, "count": {"type": "integer"}}}),
            ),
        )],
        data_errors(&["409"]),
    );
    create_many.insert("requestBody".into(), body(many));
    create_many.insert("x-objectos-rules".into(), rules.clone());
    paths.insert(
        format!("/api/v1/data/{name}/createMany"),
        json!({"post": create_many}),
    );
    // Other option keys are ignored, as on the real server (its client sends some of its own).
    let options = json!({"type": "object", "properties": {
        "atomic": {"type": "boolean"}, "continueOnError": {"type": "boolean"}, "returnRecords": {"type": "boolean"}}});
    // Each record of these routes is checked on its own: an empty or unknown id, or data that the object's
    // create/update schema refuses, fails that record in the report (200), not the request. Other keys of the
    // body and of its items are ignored, as on the real server.
    let id = json!({"type": "string", "description": "An empty id or one that names no record fails its own record"});
    let data = |d: &str| json!({"type": "object", "description": format!("Checked as #/components/schemas/{name}_{d}; a record whose data is refused fails on its own in the report")});
    let mut update_many = operation(
        name,
        format!("update_many_{name}"),
        &format!("Update {} records", o.label),
        &[(
            "200",
            ok("What happened to each record", batch_report.clone()),
        )],
        data_errors(&["409"]),
    );
    update_many.insert("requestBody".into(), body(json!({"type": "object", "required": ["records"], "properties": {
        "records": {"type": "array", "maxItems": limits::MAX_WRITE_BATCH, "items": {"type": "object", "required": ["id", "data"],
            "properties": {"id": id, "data": data("update")}}},
        "options": options}})));
    update_many.insert("x-objectos-rules".into(), rules.clone());
    paths.insert(
        format!("/api/v1/data/{name}/updateMany"),
        json!({"post": update_many}),
    );
    let mut delete_many = operation(
        name,
        format!("delete_many_{name}"),
        &format!("Delete {} records", o.label),
        &[(
            "200",
            ok("What happened to each record", batch_report.clone()),
        )],
        data_errors(&["409"]),
    );
    delete_many.insert("requestBody".into(), body(json!({"type": "object", "required": ["ids"], "properties": {
        "ids": {"type": "array", "items": {"type": "string", "minLength": 1, "description": "An empty id refuses the request (400); one that names no record fails its own record"}, "maxItems": limits::MAX_WRITE_BATCH},
        "options": options}})));
    paths.insert(
        format!("/api/v1/data/{name}/deleteMany"),
        json!({"post": delete_many}),
    );
    // Without `data`, a create takes the item itself as its data and an update changes nothing; an item
    // without an id that its operation needs fails on its own.
    let item = |op: &str, data_of: Option<&str>| {
        let mut props = Map::new();
        props.insert("id".into(), id.clone());
        if let Some(d) = data_of {
            props.insert("data".into(), data(d));
        }
        json!({"type": "object", "title": op, "required": ["operation", "records"], "properties": {
            "operation": {"const": op},
            "records": {"type": "array", "maxItems": limits::MAX_WRITE_BATCH, "items": {"type": "object", "properties": props}},
            "options": options}})
    };
    let mut object_batch = operation(
        name,
        format!("batch_{name}"),
        &format!("Create, update, upsert or delete {} records", o.label),
        &[("200", ok("What happened to each record", batch_report))],
        data_errors(&["409"]),
    );
    object_batch.insert(
        "requestBody".into(),
        body(
            json!({"oneOf": [item("create", Some("create")), item("update", Some("update")),
        item("upsert", Some("create")), item("delete", None)]}),
        ),
    );
    object_batch.insert("x-objectos-rules".into(), rules.clone());
    paths.insert(
        format!("/api/v1/data/{name}/batch"),
        json!({"post": object_batch}),
    );
    paths.insert(
        format!("/api/v1/data/{name}/export"),
        json!({"get": with(operation(name, format!("export_{name}"), &format!("Export {} records as CSV (objects whose default permission set allows export)", o.label),
            &[("200", json!({"description": "CSV, one page; `x-total-count` and `x-has-more` say how much there is",
                "headers": {"x-total-count": {"schema": {"type": "integer"}}, "x-has-more": {"schema": {"type": "string", "enum": ["true", "false"]}}},
                "content": {"text/csv": {"schema": {"type": "string"}}}}))], data_errors(&[])),
            "parameters", json!([
                {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["csv"]}},
                {"name": "limit", "in": "query", "schema": {"type": "string"}, "description": "Page size (alias: top); not a number: ignored"},
                {"name": "offset", "in": "query", "schema": {"type": "string"}, "description": "Records to skip (alias: skip); not a number: ignored"}]))}),
    );
    let id_param = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1, "maxLength": 255}});
    let mut one = Map::new();
    one.insert("parameters".into(), json!([id_param]));
    one.insert("get".into(), with(operation(name, format!("get_{name}"), &format!("Read a {} record", o.label),
        &[("200", ok("The record", single.clone()))], data_errors(&[])),
        "parameters", json!([
            {"name": "select", "in": "query", "schema": comma_list(&fields, false), "description": "Fields to return (alias: $select); empty: all"},
            {"name": "expand", "in": "query", "schema": comma_list(&lookup_names(o, access, s), false), "description": "Lookup fields replaced by their records (alias: $expand)"}])));
    let mut update = operation(
        name,
        format!("update_{name}"),
        &format!("Update a {} record", o.label),
        &[("200", ok("The updated record", written))],
        data_errors(&["409"]),
    );
    update.insert(
        "parameters".into(),
        json!([{"name": "If-Match", "in": "header", "schema": {"type": "string"},
        "description": "Optimistic locking (like the body's expectedVersion, which wins when the body has one): 409 CONCURRENT_UPDATE when the record's version differs"}]),
    );
    update.insert(
        "requestBody".into(),
        body(schema_ref(&format!("{name}_update"))),
    );
    update.insert("x-objectos-rules".into(), rules);
    one.insert("patch".into(), Value::Object(update));
    one.insert("delete".into(), with(operation(name, format!("delete_{name}"), &format!("Delete a {} record", o.label),
        &[("200", ok("Deleted", json!({"type": "object", "required": ["object", "id", "success"], "additionalProperties": false, "properties": {
            "object": {"const": name}, "id": {"type": "string"}, "success": {"const": true}}})))], data_errors(&["409"])),
        "parameters", json!([{"name": "expectedVersion", "in": "query", "schema": {"type": "string"}, "description": "Optimistic locking: 409 CONCURRENT_UPDATE when the record's version differs"},
            {"name": "If-Match", "in": "header", "schema": {"type": "string"}}])));
    paths.insert(format!("/api/v1/data/{name}/{{id}}"), Value::Object(one));

    // Actions on this object.
    for a in s
        .kernel
        .artifact()
        .definition
        .actions
        .iter()
        .filter(|a| a.object_name.as_deref() == Some(name.as_str()))
    {
        let mut props = Map::new();
        let mut required = Vec::new();
        for p in &a.params {
            let t = match p.kind.as_deref() {
                Some("number" | "currency" | "percent") => json!({"type": "number"}),
                Some("boolean" | "toggle") => json!({"type": "boolean"}),
                Some("date") => json!({"type": "string", "format": "date"}),
                _ => json!({"type": "string"}),
            };
            props.insert(p.name.clone(), t);
            if p.required {
                required.push(p.name.clone());
            }
        }
        let params = json!({"type": "object", "properties": props, "required": required,
            "description": "The action's params, bare or wrapped in {params: {…}}"});
        let op = |with_record: bool| {
            let mut m = operation(
                name,
                format!(
                    "action_{name}_{}{}",
                    a.name,
                    if with_record { "_record" } else { "" }
                ),
                &format!("Run the action {}", a.label.as_deref().unwrap_or(&a.name)),
                &[(
                    "200",
                    ok(
                        "The action's result",
                        json!({"type": "object", "required": ["success", "data"], "properties": {"success": {"const": true}, "data": {}}}),
                    ),
                )],
                action_errors(),
            );
            m.insert(
                "requestBody".into(),
                json!({"required": false, "content": content(params.clone())}),
            );
            m.insert(
                "description".into(),
                json!("Runs as the caller; the action's own code decides the result, and a failure it raises answers in the action envelope"),
            );
            Value::Object(m)
        };
        paths.insert(
            format!("/api/v1/actions/{name}/{}", a.name),
            json!({"post": op(false)}),
        );
        paths.insert(
            format!("/api/v1/actions/{name}/{}/{{recordId}}", a.name),
            json!({"parameters": [{"name": "recordId", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1, "maxLength": 255}}],
                "post": op(true)}),
        );
    }
}

fn action_errors() -> Map<String, Value> {
    let mut m = Map::new();
    for status in ["400", "403", "404", "409", "500", "501", "503", "504"] {
        m.insert(
            status.into(),
            ok("The action failed", schema_ref("ActionError")),
        );
    }
    m.insert("401".into(), response_ref("Unauthenticated"));
    m.insert("413".into(), response_ref("PayloadTooLarge"));
    m
}

fn common_schemas(schemas: &mut Map<String, Value>) {
    schemas.insert("Having".into(), having_schema());
    schemas.insert(
        "FieldError".into(),
        json!({"type": "object", "required": ["field", "code", "message"], "properties": {
            "field": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}, "label": {"type": "string"},
            "constraint": {"type": "object"}, "options": {"type": "array", "items": {"type": "string"}}}}),
    );
    schemas.insert(
        "Error".into(),
        json!({"type": "object", "title": "Error", "required": ["error", "code"], "properties": {
            "error": {"type": "string"}, "code": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]*$"}, "message": {"type": "string"},
            "object": {"type": "string"}, "field": {"type": "string"}, "requestId": {"type": "string"},
            "fields": {"type": "array", "items": schema_ref("FieldError")}}}),
    );
    schemas.insert(
        "NestedError".into(),
        json!({"type": "object", "title": "Parameter refusal", "required": ["error"], "properties": {
            "error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}),
    );
    schemas.insert(
        "HookRefusal".into(),
        json!({"type": "object", "title": "A hook's refusal", "required": ["error", "object"], "additionalProperties": false,
            "description": "A before-hook of the app refused the write with its own message (as the real server answers it: no code)",
            "properties": {"error": {"type": "string"}, "object": {"type": "string"}}}),
    );
    schemas.insert(
        "AnyError".into(),
        json!({"anyOf": [schema_ref("Error"), schema_ref("NestedError"), schema_ref("HookRefusal")]}),
    );
    schemas.insert(
        "AuthError".into(),
        json!({"type": "object", "title": "Auth error", "required": ["code"], "properties": {
            "message": {"type": "string"}, "error": {"type": "string"}, "code": {"type": "string"},
            "fields": {"type": "array", "items": schema_ref("FieldError")}}}),
    );
    schemas.insert(
        "ActionError".into(),
        json!({"type": "object", "required": ["success", "error"], "properties": {"success": {"const": false},
            "error": {"type": "object", "required": ["code", "message", "httpStatus"], "properties": {
                "code": {"type": "string"}, "message": {"type": "string"}, "httpStatus": {"type": "integer"},
                "fields": {"type": "array", "items": schema_ref("FieldError")}}}}}),
    );
    schemas.insert(
        "BatchReport".into(),
        json!({"type": "object", "required": ["success", "total", "succeeded", "failed", "results"], "additionalProperties": false, "properties": {
            "success": {"type": "boolean"}, "operation": {"enum": ["create", "update", "upsert", "delete"]},
            "total": {"type": "integer"}, "succeeded": {"type": "integer"}, "failed": {"type": "integer"},
            "results": {"type": "array", "items": {"type": "object", "required": ["success"], "properties": {
                "id": {"type": ["string", "null"]}, "success": {"type": "boolean"}, "index": {"type": "integer"}, "data": {"type": "object"},
                "errors": {"type": "array", "items": {"type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"}, "httpStatus": {"type": "integer"}, "field": {"type": "string"}}}}}}}}}),
    );
    schemas.insert(
        "User".into(),
        json!({"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": ["string", "null"]}, "email": {"type": "string"},
            "emailVerified": {"type": "boolean"}, "image": {"type": ["string", "null"]}, "createdAt": {"type": ["string", "null"]},
            "updatedAt": {"type": ["string", "null"]}, "role": {"type": ["string", "null"]}, "banned": {"type": "boolean"}}}),
    );
    schemas.insert(
        "SignedIn".into(),
        json!({"type": "object", "required": ["token", "user"], "properties": {"redirect": {"type": "boolean"},
            "token": {"type": "string"}, "user": schema_ref("User")}}),
    );
    schemas.insert(
        "Success".into(),
        json!({"type": "object", "required": ["success"], "properties": {"success": {"type": "boolean"}, "data": {}}}),
    );
}

fn common_responses() -> Value {
    let e = |d: &str| ok(d, schema_ref("AnyError"));
    json!({
        "BadRequest": e("The request is malformed or names something the object does not have (INVALID_FIELD, INVALID_SORT, INVALID_FILTER, INVALID_QUERY, INVALID_REQUEST, VALIDATION_FAILED, INVALID_JSON, UNSUPPORTED_CONTENT_TYPE, UNSUPPORTED_QUERY_PARAM, or {error: {code: VALIDATION_ERROR}} for a parameter the route does not take)"),
        "Unauthenticated": e("No valid credentials (UNAUTHENTICATED)"),
        "Forbidden": e("Not permitted (PERMISSION_DENIED, RECORD_NOT_ACCESSIBLE, EXPORT_NOT_PERMITTED, PASSWORD_EXPIRED)"),
        "NotFound": e("No such object or record (OBJECT_NOT_FOUND, RECORD_NOT_FOUND, ROUTE_NOT_FOUND)"),
        "Conflict": e("UNIQUE_VIOLATION, CONCURRENT_UPDATE, DELETE_RESTRICTED"),
        "PayloadTooLarge": e("The body is larger than the server's limit (PAYLOAD_TOO_LARGE)"),
        "ServerError": e("The server failed (INTERNAL_ERROR, a hook or function that trapped); never a client mistake"),
        "NotImplemented": e("The artifact needs code this build cannot run (FUNCTION_UNAVAILABLE)"),
        "Unavailable": e("The database or a plugin is unavailable, or the server is at its connection limit"),
        "Timeout": e("The request ran out of time (REQUEST_TIMEOUT, FUNCTION_TIMEOUT)"),
        "AuthFailed": ok("Refused", schema_ref("AuthError")),
    })
}

fn errors_of(statuses: &[(&str, &str)]) -> Map<String, Value> {
    statuses
        .iter()
        .map(|(s, r)| ((*s).to_string(), response_ref(r)))
        .collect()
}

/// Routes that do not depend on the artifact's objects: batch, metadata, auth, discovery, health.
/// The routes every app has (batch, metadata, auth); `permission_sets` names the artifact's permission sets.
fn fixed_paths(paths: &mut Map<String, Value>, permission_sets: &[String], key_ttl: u64) {
    let std_errors = || {
        errors_of(&[
            ("400", "BadRequest"),
            ("401", "Unauthenticated"),
            ("403", "Forbidden"),
            ("404", "NotFound"),
            ("413", "PayloadTooLarge"),
            ("500", "ServerError"),
            ("503", "Unavailable"),
            ("504", "Timeout"),
        ])
    };
    let mut batch_errors = std_errors();
    batch_errors.insert("409".into(), response_ref("Conflict"));
    paths.insert("/api/v1/batch".into(), json!({"post": with(operation("batch", "batch".into(), "Create, update and delete records of any objects in one transaction",
        &[("200", ok("Each operation's record (or {id, success} for a delete), in order", json!({"type": "object", "required": ["results"], "properties": {"results": {"type": "array", "items": {"type": "object"}}}})))],
        batch_errors),
        "requestBody", body(json!({"type": "object", "required": ["operations"], "properties": {"operations": {"type": "array", "maxItems": limits::MAX_WRITE_BATCH, "items": {
            "type": "object", "required": ["object"], "properties": {"object": {"type": "string", "minLength": 1},
            "action": {"type": "string", "enum": ["create", "update", "delete"], "description": "Default: create"}, "id": {"type": "string"}, "data": {"type": "object"}}}},
            "atomic": {"const": true, "description": "A cross-object batch is always atomic (false: 400 BATCH_NOT_ATOMIC)"}}})))}));
    let meta_errors = || {
        errors_of(&[
            ("401", "Unauthenticated"),
            ("403", "Forbidden"),
            ("404", "NotFound"),
            ("500", "ServerError"),
            ("503", "Unavailable"),
            ("504", "Timeout"),
        ])
    };
    let types = json!({"type": "object", "required": ["types", "entries"], "properties": {"types": {"type": "array", "items": {"type": "string"}}, "entries": {"type": "array", "items": {"type": "object"}}}});
    paths.insert("/api/v1/meta".into(), json!({"get": operation("metadata", "meta_types".into(), "The metadata types the caller may see", &[("200", ok("Types", types.clone()))], meta_errors())}));
    paths.insert("/api/v1/meta/types".into(), json!({"get": operation("metadata", "meta_types_alias".into(), "The metadata types the caller may see", &[("200", ok("Types", types))], meta_errors())}));
    let kind = json!({"name": "kind", "in": "path", "required": true, "schema": {"type": "string", "enum": super::meta::known_kinds()},
        "description": "A metadata type; any other is 400 INVALID_REQUEST"});
    let item_name = json!({"name": "name", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1, "maxLength": 255}});
    let kind_errors = || {
        let mut m = meta_errors();
        m.insert("400".into(), response_ref("BadRequest"));
        m
    };
    paths.insert("/api/v1/meta/{kind}".into(), json!({"parameters": [kind], "get": operation("metadata", "meta_list".into(), "The items of a metadata type the caller may see",
        &[("200", ok("Items", json!({"type": "object", "required": ["type", "items"], "properties": {"type": {"type": "string"}, "items": {"type": "array", "items": {"type": "object"}}}})))], kind_errors())}));
    paths.insert("/api/v1/meta/{kind}/{name}".into(), json!({"parameters": [kind, item_name], "get": operation("metadata", "meta_item".into(), "One metadata item",
        &[("200", ok("The item", json!({"type": "object", "required": ["type", "name", "item"], "properties": {"type": {"type": "string"}, "name": {"type": "string"}, "item": {"type": "object"}}})))], kind_errors())}));
    paths.insert("/api/v1/meta/object/{name}/state/{field}".into(), json!({"parameters": [item_name,
        {"name": "field", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1, "maxLength": 255}}],
        "get": operation("metadata", "meta_state".into(), "The state machine of a field: the states and the transitions from each",
        &[("200", ok("Transitions", json!({"type": "object"})))], meta_errors())}));

    // Auth (better-auth's shapes).
    let auth_errors = |extra: &[&str]| {
        let mut m = Map::new();
        for s in ["400", "401", "403", "429", "500", "503"]
            .iter()
            .chain(extra)
        {
            m.insert((*s).to_string(), response_ref("AuthFailed"));
        }
        m.insert("413".into(), response_ref("PayloadTooLarge"));
        m
    };
    let anon = json!([]);
    // The server's own bounds (security::auth), in characters.
    let email = json!({"type": "string", "maxLength": auth::MAX_EMAIL_LEN, "pattern": "^[^@]*@"});
    let password = json!({"type": "string", "maxLength": auth::MAX_PASSWORD_LEN});
    let new_password = json!({"type": "string", "minLength": auth::MIN_PASSWORD_LEN, "maxLength": auth::MAX_PASSWORD_LEN});
    let creds = |extra: Value| {
        let mut p = json!({"email": email.clone(), "password": password.clone()});
        if let (Some(m), Value::Object(x)) = (p.as_object_mut(), extra) {
            m.extend(x);
        }
        json!({"type": "object", "required": ["email", "password"], "properties": p})
    };
    let signed_in = || {
        json!({"description": "Signed in; the token is also in `set-auth-token` and the session cookie",
        "headers": {"set-auth-token": {"schema": {"type": "string"}}, "set-cookie": {"schema": {"type": "string"}}},
        "content": content(schema_ref("SignedIn"))})
    };
    paths.insert("/api/v1/auth/sign-up/email".into(), json!({"post": with(with(operation("auth", "sign_up".into(), "Sign up (the first user becomes the platform administrator; later sign-ups are closed unless the server allows them)",
        &[("200", signed_in())], auth_errors(&["422"])), "security", anon.clone()).as_object().cloned().unwrap_or_default(),
        "requestBody", body(creds(json!({"name": {"type": "string", "maxLength": auth::MAX_NAME_LEN}, "password": new_password.clone()}))))}));
    paths.insert("/api/v1/auth/sign-in/email".into(), json!({"post": with(with(operation("auth", "sign_in".into(), "Sign in",
        &[("200", signed_in())], auth_errors(&[])), "security", anon.clone()).as_object().cloned().unwrap_or_default(),
        "requestBody", body(creds(json!({}))))}));
    paths.insert("/api/v1/auth/get-session".into(), json!({"get": operation("auth", "get_session".into(), "The caller's session and user",
        &[("200", ok("The session", json!({"type": "object", "required": ["user", "session"], "properties": {"user": {"type": "object"}, "session": {"type": ["object", "null"]}}})))], auth_errors(&[]))}));
    paths.insert(
        "/api/v1/auth/sign-out".into(),
        json!({"post": operation("auth", "sign_out".into(), "End the caller's session",
        &[("200", ok("Signed out", schema_ref("Success")))], auth_errors(&[]))}),
    );
    paths.insert("/api/v1/auth/change-password".into(), json!({"post": with(operation("auth", "change_password".into(), "Change the caller's password",
        &[("200", ok("Changed", json!({"type": "object", "properties": {"token": {"type": ["string", "null"]}, "user": schema_ref("User")}})))], auth_errors(&[])),
        "requestBody", body(json!({"type": "object", "required": ["currentPassword", "newPassword"], "properties": {
            "currentPassword": password, "newPassword": new_password.clone(), "revokeOtherSessions": {"type": "boolean"}}})))}));
    let admin = |path: &str, id: &str, summary: &str, props: Value, required: Value| {
        let mut errors = auth_errors(&["404"]);
        if id == "admin_create_user" {
            // An e-mail address that already has a user, answered as the real server's admin route does.
            errors.insert("409".into(), ok("USER_ALREADY_EXISTS", json!({"type": "object", "required": ["success", "error"], "properties": {
                "success": {"const": false}, "error": {"type": "object", "required": ["code", "message"], "properties": {
                    "code": {"const": "USER_ALREADY_EXISTS"}, "message": {"type": "string"}}}}})));
        }
        (
            path.to_string(),
            json!({"post": with(operation("auth", id.into(), summary, &[("200", ok("Done", schema_ref("Success")))], errors),
            "requestBody", body(json!({"type": "object", "required": required, "properties": props})))}),
        )
    };
    let sets = json!({"type": "array", "items": {"type": "string", "enum": permission_sets}, "maxItems": super::auth::MAX_PERMISSION_SETS,
        "description": "Names of the artifact's permission sets"});
    let position = json!({"type": "string", "minLength": 1, "maxLength": crate::security::admin::MAX_POSITION_LEN, "pattern": r"\S"});
    let positions = json!({"type": "array", "items": position.clone(), "maxItems": crate::security::admin::MAX_POSITIONS});
    for (path, item) in [
        admin(
            "/api/v1/auth/admin/create-user",
            "admin_create_user",
            "Create a user (administrators); the user must change the password at first sign-in",
            json!({"email": {"type": "string", "maxLength": auth::MAX_EMAIL_LEN, "pattern": EMAIL_PATTERN}, "password": new_password, "name": {"type": ["string", "null"], "maxLength": auth::MAX_NAME_LEN}, "positions": positions.clone()}),
            json!(["email", "password"]),
        ),
        admin(
            "/api/v1/auth/admin/set-positions",
            "admin_set_positions",
            "Replace a user's positions (administrators)",
            json!({"userId": {"type": "string"}, "positions": positions}),
            json!(["userId"]),
        ),
        admin(
            "/api/v1/auth/admin/bind-permission-sets",
            "admin_bind_permission_sets",
            "Replace the permission sets a position grants (administrators)",
            json!({"position": position, "permissionSets": sets}),
            json!(["position"]),
        ),
        admin(
            "/api/v1/auth/admin/ban-user",
            "admin_ban_user",
            "Ban a user: their sessions end (administrators)",
            json!({"userId": {"type": "string"}}),
            json!(["userId"]),
        ),
        admin(
            "/api/v1/auth/admin/unban-user",
            "admin_unban_user",
            "Lift a ban (administrators)",
            json!({"userId": {"type": "string"}}),
            json!(["userId"]),
        ),
    ] {
        paths.insert(path, item);
    }
    paths.insert("/api/v1/auth/api-keys".into(), json!({
        "post": with(operation("auth", "create_api_key".into(), "Issue an API key for the caller (the key is shown once)",
            &[("201", ok("The key", schema_ref("Success")))], auth_errors(&[])),
            "requestBody", body(json!({"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"\S"},
                "expiresIn": {"type": ["integer", "null"], "minimum": 1, "maximum": key_ttl, "description": "Seconds, at most the deployment's longest key lifetime; null: the default lifetime"}, "expiresAt": {"type": ["string", "null"], "format": "date-time", "description": "In the future, at most the deployment's longest key lifetime ahead; null: the default lifetime"}},
                "not": {"required": ["expiresIn", "expiresAt"]}}))),
        "get": operation("auth", "list_api_keys".into(), "The caller's API keys (never the keys themselves)", &[("200", ok("Keys", schema_ref("Success")))], auth_errors(&[]))}));
    paths.insert("/api/v1/auth/api-keys/{id}".into(), json!({"parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1, "maxLength": 255}}],
        "delete": operation("auth", "revoke_api_key".into(), "Revoke one of the caller's API keys", &[("200", ok("Revoked", schema_ref("Success")))], auth_errors(&["404"]))}));

    // Services of plugins.
    paths.insert("/api/v1/services/{plugin}/{method}".into(), json!({"parameters": [
        {"name": "plugin", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1, "maxLength": 255}},
        {"name": "method", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1, "maxLength": 255}}],
        "post": with(operation("services", "call_service".into(), "Call a method of a service plugin",
            &[("200", ok("The method's result", json!({"type": "object", "required": ["success", "data"], "properties": {"success": {"const": true}, "data": {}}})))], action_errors()),
            "requestBody", json!({"required": false, "content": content(json!({}))}))}));

    // Discovery, health, this document.
    let public = |id: &str, summary: &str, schema: Value| {
        with(
            operation(
                "discovery",
                id.into(),
                summary,
                &[("200", ok("OK", schema))],
                Map::new(),
            ),
            "security",
            json!([]),
        )
    };
    paths.insert("/.well-known/objectstack".into(), json!({"get": public("well_known", "Discovery, wrapped in {success, data}",
        json!({"type": "object", "required": ["success", "data"], "properties": {"success": {"const": true}, "data": schema_ref("Discovery")}}))}));
    paths.insert(
        "/api/v1".into(),
        json!({"get": public("discovery_root", "Discovery", schema_ref("Discovery"))}),
    );
    paths.insert(
        "/api/v1/discovery".into(),
        json!({"get": public("discovery", "Discovery", schema_ref("Discovery"))}),
    );
    let health = json!({"type": "object", "required": ["status"], "properties": {"status": {"type": "string", "enum": ["ok", "degraded"]}}});
    paths.insert("/api/v1/health".into(), json!({"get": with(operation("health", "health".into(), "Liveness and database reachability (details for a platform administrator)",
        &[("200", ok("Up", health.clone())), ("503", ok("The database is down", health))], Map::new()), "security", json!([{}, {"bearerAuth": []}]))}));
    paths.insert("/metrics".into(), json!({"get": with(operation("health", "metrics".into(), "Prometheus metrics",
        &[("200", json!({"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}))], Map::new()), "security", json!([]))}));
    paths.insert("/api/v1/openapi.json".into(), json!({"get": operation("discovery", "openapi".into(), "This document, as the caller may see it",
        &[("200", ok("OpenAPI 3.1", json!({"type": "object", "required": ["openapi", "paths"]})))], errors_of(&[("401", "Unauthenticated"), ("403", "Forbidden"), ("500", "ServerError"), ("503", "Unavailable"), ("504", "Timeout")]))}));
}

/// The document as `viewer` may see it.
pub fn document(s: &Shared, viewer: &Viewer) -> Value {
    let readable: Vec<_> = s
        .kernel
        .catalog()
        .public_objects()
        .filter_map(|o| Some((o, viewer.readable(s, o)?)))
        .collect();
    let mut paths = Map::new();
    let mut schemas = Map::new();
    common_schemas(&mut schemas);
    schemas.insert(
        "Discovery".into(),
        json!({"type": "object", "required": ["name", "version", "routes"], "properties": {
            "name": {"type": "string"}, "apiName": {"type": "string"}, "version": {"type": "string"}, "environment": {"type": "string"},
            "routes": {"type": "object", "additionalProperties": {"type": "string"}}, "locale": {"type": "object"},
            "services": {"type": "object"}, "capabilities": {"type": "object"}, "scoping": {"type": "object"}}}),
    );
    for (o, access) in &readable {
        object_paths(s, o, access, &mut paths, &mut schemas);
    }
    let sets: Vec<String> = s
        .kernel
        .artifact()
        .definition
        .permissions
        .iter()
        .map(|p| p.name.clone())
        .collect();
    fixed_paths(&mut paths, &sets, s.config.auth.api_key_max_ttl.as_secs());
    let manifest = s
        .kernel
        .artifact()
        .definition
        .manifest
        .clone()
        .unwrap_or_default();
    let mut tags: Vec<Value> = readable
        .iter()
        .map(|(o, _)| json!({"name": o.name}))
        .collect();
    for t in [
        "batch",
        "metadata",
        "auth",
        "services",
        "discovery",
        "health",
    ] {
        tags.push(json!({"name": t}));
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": manifest.name.unwrap_or_else(|| "objectos".into()), "version": manifest.version.unwrap_or_else(|| "0.0.0".into()),
                 "description": format!("Generated by objectos {} from the artifact's objects, as the caller may see them. Request bodies are limited by the server's body limit (413 PAYLOAD_TOO_LARGE); multi-record writes hold at most {} records; filters at most {} conditions; text values at most {} characters unless the field says less.",
                    env!("CARGO_PKG_VERSION"), limits::MAX_WRITE_BATCH, limits::MAX_FILTER_NODES, limits::MAX_VALUE_CHARS)},
        "servers": [{"url": "/", "description": "This server"}],
        "tags": tags,
        "components": {"schemas": schemas, "responses": common_responses(), "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearerAuth": []}],
        "paths": paths
    })
}

async fn openapi(State(s): State<Shared>, headers: HeaderMap) -> Result<Response, ApiError> {
    let viewer = Viewer::new(identity(&s, &headers).await?.principal);
    Ok(json_response(200, document(&s, &viewer)))
}
