//! The paths of one object: list, create, query, the multi-record routes, export, the single-record routes and
//! its actions, with their parameters, bodies, answers and `x-objectos-rules` (what JSON Schema cannot say).

use super::schemas::*;
use super::*;
use serde_json::{Map, Value, json};

/// What JSON Schema cannot say about writes to `o`.
pub(super) fn rules(s: &Shared, o: &ObjectSchema) -> Value {
    let def = &s.kernel.artifact().definition;
    let mut out = Vec::new();
    if let Some(obj) = def.objects.iter().find(|d| d.name == o.name) {
        for v in &obj.validations {
            let v = serde_json::to_value(v).unwrap_or_default();
            // A conditional rule refuses with the message of the branch that applies.
            let mut messages = Vec::new();
            branch_messages(&v, &mut messages, 0);
            out.push(json!({"kind": "validation", "name": v.get("name"), "type": v.get("type"), "message": v.get("message"), "messages": messages}));
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
        if let Some(p) = &f.predicates {
            if p.required_when.is_some() {
                // Required only when its condition holds on the record (400 `required` then).
                out.push(json!({"kind": "requiredWhen", "field": f.name}));
            }
            if !p.option_visible_when.is_empty() {
                // Some options are offered only when their condition holds (400 `invalid_option` otherwise).
                out.push(json!({"kind": "optionVisibleWhen", "field": f.name}));
            }
        }
    }
    Value::Array(out)
}

/// The messages of a validation rule and of the rules nested in it (`then` / `otherwise`), depth-bounded.
fn branch_messages(rule: &Value, out: &mut Vec<Value>, depth: usize) {
    if depth > 8 {
        return;
    }
    if let Some(m) = rule.get("message").filter(|m| m.is_string()) {
        out.push(m.clone());
    }
    for key in ["then", "otherwise"] {
        if let Some(branch) = rule.get(key) {
            branch_messages(branch, out, depth + 1);
        }
    }
}

pub(super) fn object_paths(
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
    delete_many.insert("x-objectos-rules".into(), rules.clone());
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
    update.insert("x-objectos-rules".into(), rules.clone());
    one.insert("patch".into(), Value::Object(update));
    let mut delete = with(
        operation(
            name,
            format!("delete_{name}"),
            &format!("Delete a {} record", o.label),
            &[(
                "200",
                ok(
                    "Deleted",
                    json!({"type": "object", "required": ["object", "id", "success"], "additionalProperties": false, "properties": {
            "object": {"const": name}, "id": {"type": "string"}, "success": {"const": true}}}),
                ),
            )],
            data_errors(&["409"]),
        ),
        "parameters",
        json!([{"name": "expectedVersion", "in": "query", "schema": {"type": "string"}, "description": "Optimistic locking: 409 CONCURRENT_UPDATE when the record's version differs"},
            {"name": "If-Match", "in": "header", "schema": {"type": "string"}}]),
    );
    // A delete runs the object's hooks (a beforeDelete hook may refuse it).
    delete["x-objectos-rules"] = rules;
    one.insert("delete".into(), delete);
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
        action_paths(name, a, paths);
    }
}

/// Where an action is offered on a record (its `locations`); one offered only there needs the record.
const RECORD_LOCATIONS: [&str; 4] = [
    "record_header",
    "record_more",
    "record_related",
    "list_item",
];

/// The routes of one action: `/actions/{object}/{action}/{recordId}`, and the form without a record unless the
/// action only makes sense on one (every location a record's, or a declarative `operation: 'update'`). A
/// `type: 'url'` action has nothing to run on the server and is left out. The body is `{params, recordId}` as
/// the route reads it (bare keys are not params), the params as `check_params` holds them.
fn action_paths(name: &str, a: &crate::artifact::model::ActionDef, paths: &mut Map<String, Value>) {
    if a.kind.as_deref() == Some("url") {
        return;
    }
    let locations: Vec<&str> = a
        .extra
        .get("locations")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let needs_record = a.extra.get("operation").and_then(Value::as_str) == Some("update")
        || (!locations.is_empty() && locations.iter().all(|l| RECORD_LOCATIONS.contains(l)));
    let params = action_params_schema(a);
    let any_required = a.params.iter().any(|p| p.required);
    let object_body = json!({"type": "object", "properties": {
            "params": params,
            "recordId": {"type": ["string", "number", "null"], "maxLength": 255, "description": "The record, when the path names none (a number is read as its text)"}},
        "required": if any_required { json!(["params"]) } else { json!([]) }});
    // Like the real server, a body that is not an object carries no params (fine when none is required).
    let body = if any_required {
        object_body
    } else {
        json!({"anyOf": [object_body, {"not": {"type": "object"}}]})
    };
    let mut rules = Vec::new();
    if let Some(v) = &a.visible {
        rules.push(json!({"kind": "visible", "condition": v.source}));
    }
    if let Some(d) = &a.disabled {
        rules.push(json!({"kind": "disabled", "condition": d.source}));
    }
    if a.body.is_some() {
        rules.push(json!({"kind": "code", "description": "The action's own code may refuse (400 VALIDATION_ERROR with its message)"}));
    }
    if a.required_permissions.is_some() {
        rules.push(json!({"kind": "permission", "requires": a.required_permissions}));
    }
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
            json!({"required": false, "content": content(body.clone())}),
        );
        m.insert(
            "description".into(),
            json!("Runs as the caller; the action's own code decides the result, and a failure it raises answers in the action envelope"),
        );
        m.insert("x-objectos-rules".into(), Value::Array(rules.clone()));
        Value::Object(m)
    };
    if !needs_record {
        paths.insert(
            format!("/api/v1/actions/{name}/{}", a.name),
            json!({"post": op(false)}),
        );
    }
    paths.insert(
        format!("/api/v1/actions/{name}/{}/{{recordId}}", a.name),
        json!({"parameters": [{"name": "recordId", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1, "maxLength": 255}}],
            "post": op(true)}),
    );
}

/// An action's `params` object as `kernel::actions::check_params` holds it: declared keys only (and the
/// built-in ones), each of its declared shape and options, the required ones present and not blank. An action
/// declaring no params takes any object.
fn action_params_schema(a: &crate::artifact::model::ActionDef) -> Value {
    use crate::kernel::actions::{BUILTIN_PARAMS, param_shape};
    if a.params.is_empty() {
        return json!({"type": "object"});
    }
    let mut props = Map::new();
    let mut required = Vec::new();
    for p in &a.params {
        let multiple = p.extra.get("multiple").and_then(Value::as_bool) == Some(true);
        let shape = if multiple {
            Some("array")
        } else {
            param_shape(p.kind.as_deref())
        };
        let options: Option<Vec<Value>> =
            p.extra.get("options").and_then(Value::as_array).map(|o| {
                o.iter()
                    .map(|x| x.get("value").unwrap_or(x).clone())
                    .collect()
            });
        let mut t = match (shape, &options) {
            (Some("array"), Some(opts)) => json!({"type": "array", "items": {"enum": opts}}),
            (_, Some(opts)) => json!({"enum": opts}),
            (Some(shape), None) => json!({"type": shape}),
            (None, None) => json!({}),
        };
        if shape == Some("string") && options.is_none() {
            // A blank text is no value.
            t["minLength"] = json!(1);
            t["pattern"] = json!(r"\S");
        }
        if p.required {
            required.push(p.name.clone());
        } else {
            // An absent, null or blank optional param is no value.
            t = json!({"anyOf": [t, {"type": "null"}, {"type": "string", "pattern": r"^\s*$"}]});
        }
        props.insert(p.name.clone(), t);
    }
    for b in BUILTIN_PARAMS {
        props.entry(b.to_string()).or_insert(json!({}));
    }
    json!({"type": "object", "properties": props, "required": required, "additionalProperties": false})
}

pub(super) fn action_errors() -> Map<String, Value> {
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
