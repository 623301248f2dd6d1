//! The JSON Schemas of one object's values: a field's value as answered and as written, the record, the create
//! and update bodies, the filter (`where`), the QueryAST and `having`, and the list route's reserved parameters.
//! Each says what the server's checks (`data::values`, `data::filter`, `data::query`) accept.

use super::*;
use serde_json::{Map, Value, json};
/// Query parameters of the list route that are not field names (`<field>=value` filters).
pub(super) const RESERVED: &[&str] = &[
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
pub(super) enum Use {
    /// In a record the server answers.
    Read,
    /// In a create or update body.
    Write,
}

/// The real server's phone test (data::values::is_phone).
pub(super) const PHONE_PATTERN: &str = r"^[+()\-0-9 \t\n\f\r.]{5,}$";
/// An e-mail address as the server checks it: a local part without spaces, `@`, a domain with a dot inside.
pub(super) const EMAIL_PATTERN: &str = r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$";
/// An http(s) URL with a host name (the server accepts any URL with a host, and `mailto:`).
pub(super) const URL_PATTERN: &str = r"^https?://[A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?){0,4}(/[A-Za-z0-9._~-]{0,20}){0,4}$";
pub(super) const TIME_PATTERN: &str = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$";
pub(super) const DATE_PATTERN: &str = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])$";
pub(super) const DATETIME_PATTERN: &str = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,3})?Z$";

/// The booleans and whole numbers whose text has `min..=max` characters (a blank text aside, `min` 0 or 1 is
/// no bound): `true`/`false`, and integers of the right number of digits (a minus sign counts), within 64 bits.
fn fitting_scalars(min: usize, max: Option<usize>) -> Vec<Value> {
    let min = min.max(1);
    let max = max.unwrap_or(20).min(20);
    let mut out = Vec::new();
    let fits = |len: usize| min <= len && len <= max;
    match (fits(4), fits(5)) {
        (true, true) => out.push(json!({"type": "boolean"})),
        (true, false) => out.push(json!({"const": true})),
        (false, true) => out.push(json!({"const": false})),
        (false, false) => {}
    }
    // 10^k as an integer; the server takes whole numbers below 10^18 in size (18 digits at most).
    let pow = |k: usize| -> u64 { 10u64.saturating_pow(k as u32) };
    // Non-negative: digits in min..=max.
    if max >= min && min <= 18 {
        let lo = if min <= 1 { 0 } else { pow(min - 1) };
        let hi = pow(max.min(18)) - 1;
        out.push(json!({"type": "integer", "minimum": lo, "maximum": hi}));
    }
    // Negative: a minus sign and 1..=max-1 digits, at least min-1 of them.
    if max >= 2 {
        let digits_lo = min.saturating_sub(1).max(1);
        let digits_hi = (max - 1).min(18);
        if digits_hi >= digits_lo {
            let hi = -(pow(digits_lo - 1) as i64);
            let lo = -((pow(digits_hi) - 1) as i64);
            out.push(json!({"type": "integer", "minimum": lo, "maximum": hi}));
        }
    }
    out
}

/// `s` with the field's declared `maxLength`, if any.
fn with_max_length(mut s: Value, f: &FieldSchema) -> Value {
    if let Some(max) = f.max_length {
        s["maxLength"] = json!(max);
    }
    s
}

/// A list field's value: a list of `one` (bounded), or, written, `one` alone.
fn list_of(one: Value, usage: Use) -> Value {
    let list = json!({"type": "array", "items": one, "maxItems": limits::MAX_LIST_ITEMS});
    match usage {
        Use::Write => json!({"anyOf": [list, one]}),
        Use::Read => list,
    }
}

pub(super) fn nullable(mut s: Value) -> Value {
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

pub(super) fn is_text(f: &FieldSchema) -> bool {
    f.storage == Some(StorageKind::Text) && !f.ftype.is_reference() && !f.ftype.has_options()
}

/// A field's value, without `null`.
pub(super) fn value_schema(f: &FieldSchema, usage: Use) -> Value {
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
            // A progress value is not held to its bounds, as on the real server (data::values).
            if usage == Use::Write && f.ftype != Progress {
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
        // A list is written as a list, or as one value (a list of one); its items as their text.
        Select | Radio | Multiselect | Checkboxes => {
            let one = json!({"type": "string", "enum": f.options});
            if list { list_of(one, usage) } else { one }
        }
        Tags => {
            let one = match usage {
                _ if !f.options.is_empty() => json!({"type": "string", "enum": f.options}),
                Use::Write => {
                    json!({"type": ["string", "number", "boolean"], "maxLength": limits::MAX_VALUE_CHARS})
                }
                Use::Read => json!({"type": "string"}),
            };
            list_of(one, usage)
        }
        Lookup | MasterDetail | Tree | User => {
            let one = match usage {
                // An expanded lookup is the related record.
                Use::Read => json!({"type": ["string", "object"]}),
                // An id; a number is read as its text, a record (`{id}`, as an expanded one) as its id.
                Use::Write => json!({"anyOf": [
                    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^\S(.*\S)?$"},
                    {"type": "number"},
                    {"type": "object", "required": ["id"], "properties": {"id": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^\S(.*\S)?$"}}}]}),
            };
            let mut s = if f.multiple { list_of(one, usage) } else { one };
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
            Use::Write => with_max_length(json!({"type": "string", "pattern": EMAIL_PATTERN}), f),
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
            Use::Write => with_max_length(json!({"type": "string", "pattern": URL_PATTERN}), f),
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
            // A number or a boolean written to a text field is stored as its text; where a declared length
            // could refuse that text, numbers are whole ones (data::values::length_bounded_text), listed below.
            let bounded = crate::data::values::length_bounded_text(f);
            let written = if bounded {
                json!("string")
            } else if f.ftype == Code {
                // A code field given a JSON object or list stores its JSON text.
                json!(["string", "number", "boolean", "object", "array"])
            } else {
                json!(["string", "number", "boolean"])
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
                if bounded {
                    let mut alts = vec![t];
                    alts.extend(fitting_scalars(f.min_length.unwrap_or(0), f.max_length));
                    t = json!({"anyOf": alts});
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
pub(super) fn record_schema(o: &ObjectSchema, access: &Access) -> Value {
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
pub(super) fn writable(f: &FieldSchema, access: &Access) -> bool {
    !f.system
        && f.storage.is_some()
        && f.ftype != FieldType::Autonumber
        && !access.uneditable.contains(&f.name)
}

/// The body of a create (`create == true`) or an update.
pub(super) fn write_schema(o: &ObjectSchema, access: &Access, create: bool) -> Value {
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

pub(super) fn names<'a>(fields: impl Iterator<Item = &'a FieldSchema>) -> Vec<String> {
    fields.map(|f| f.name.clone()).collect()
}

pub(super) fn readable<'a>(
    o: &'a ObjectSchema,
    access: &'a Access,
) -> impl Iterator<Item = &'a FieldSchema> {
    o.fields
        .iter()
        .filter(|f| !access.unreadable.contains(&f.name))
}

/// Fields a filter, a sort or a `groupBy` may name: stored and readable.
pub(super) fn filterable<'a>(
    o: &'a ObjectSchema,
    access: &'a Access,
) -> impl Iterator<Item = &'a FieldSchema> {
    readable(o, access).filter(|f| f.storage.is_some() && f.storage != Some(StorageKind::Json))
}

/// A value a filter compares with anything (a text field, an alias of a grouped row): any scalar, a text no
/// longer than MAX_VALUE_CHARS.
pub(super) fn filter_operand() -> Value {
    json!({"type": ["string", "number", "boolean"], "maxLength": limits::MAX_VALUE_CHARS})
}

/// A date or date-time may also be written as milliseconds since 1970-01-01 UTC (years 1 to 9999).
pub(super) fn epoch_millis() -> Value {
    json!({"type": "integer", "minimum": -62_135_596_800_000i64, "maximum": 253_402_300_799_999i64,
        "description": "Milliseconds since 1970-01-01T00:00:00Z"})
}

/// A numeric text, as a number field's filter takes it.
pub(super) const NUMERIC_PATTERN: &str = crate::data::scalar::NUMERIC_TEXT;

/// What a filter may compare `f` with, by its column (data::filter refuses the rest): a number or a
/// numeric text, a date or date-time text, a boolean (or 1/0, "true"/"false"/"1"/"0"), any scalar for text.
pub(super) fn field_operand(f: &FieldSchema) -> Value {
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

/// `$in` / `$nin` written as one text: comma-separated values the field's column can be compared with, each
/// trimmed of spaces and tabs (a blank text lists nothing).
pub(super) fn comma_operand(f: &FieldSchema) -> Value {
    let strip = |p: &str| p.trim_start_matches('^').trim_end_matches('$').to_string();
    let item = match f.storage {
        Some(StorageKind::Number(_)) => strip(NUMERIC_PATTERN).replace(r"[ \t]*", ""),
        Some(StorageKind::Date | StorageKind::DateTime) => {
            format!("({}|{})", strip(DATE_PATTERN), strip(DATETIME_PATTERN))
        }
        Some(StorageKind::Boolean) => "(true|false|1|0)".to_string(),
        _ => return json!({"type": "string", "maxLength": limits::MAX_VALUE_CHARS}),
    };
    json!({"type": "string", "maxLength": limits::MAX_VALUE_CHARS,
        "pattern": format!(r"^[ \t]*({item}([ \t]*,[ \t]*{item})*)?[ \t]*$")})
}

/// A field's equality filter in the URL (`?status=open`): the text forms of [`field_operand`].
pub(super) fn field_param(f: &FieldSchema) -> Value {
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
pub(super) fn where_schema(o: &ObjectSchema, access: &Access) -> Value {
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
                    comma_operand(f)]}),
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
pub(super) fn comma_list(choices: &[String], directions: bool) -> Value {
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

pub(super) fn regex_escape(s: &str) -> String {
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

pub(super) fn sortable_names(o: &ObjectSchema, access: &Access) -> Vec<String> {
    names(readable(o, access).filter(|f| f.is_sortable()))
}

pub(super) fn lookup_names(o: &ObjectSchema, access: &Access, s: &Shared) -> Vec<String> {
    names(readable(o, access).filter(|f| {
        f.ftype.is_reference()
            && f.reference
                .as_deref()
                .is_some_and(|t| s.kernel.catalog().object(t).is_some())
    }))
}

/// The QueryAST body of `POST /data/:object/query`: a plain query, or an aggregate one.
pub(super) fn query_schema(o: &ObjectSchema, access: &Access, s: &Shared) -> Value {
    let fields = names(readable(o, access));
    let sortable = sortable_names(o, access);
    let lookups = lookup_names(o, access, s);
    let grouping = names(filterable(o, access));
    let numeric =
        names(filterable(o, access).filter(|f| matches!(f.storage, Some(StorageKind::Number(_)))));
    let where_ref = json!({"$ref": format!("#/components/schemas/{}_where", o.name)});
    let page = |m: &mut Map<String, Value>| {
        m.insert("limit".into(), json!({"type": ["integer", "null"], "minimum": 0, "maximum": u64::MAX, "description": format!("Page size; larger values are cut to the server's maximum page (default 1000). Default page (also for null): 100")}));
        m.insert(
            "offset".into(),
            json!({"type": ["integer", "null"], "minimum": 0, "maximum": limits::MAX_OFFSET}),
        );
        m.insert(
            "count".into(),
            json!({"type": ["boolean", "null"], "description": "false leaves out `total`"}),
        );
        // null: no filter.
        m.insert(
            "where".into(),
            json!({"anyOf": [where_ref.clone(), {"type": "null"}]}),
        );
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
        json!({"type": ["string", "null"], "maxLength": limits::MAX_VALUE_CHARS}),
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
    agg.insert(
        "having".into(),
        json!({"anyOf": [schema_ref("Having"), {"type": "null"}]}),
    );
    page(&mut agg);
    json!({"oneOf": [
        {"type": "object", "title": "Query", "properties": plain, "additionalProperties": false},
        {"type": "object", "title": "Aggregate query", "properties": agg, "additionalProperties": false,
            "anyOf": [{"required": ["aggregations"]}, {"required": ["groupBy"]}]}
    ]})
}

/// `having`: a filter over the grouped rows by alias (data::having); `$and` / `$or` hold lists of such
/// filters (a common schema).
pub(super) fn having_schema() -> Value {
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
