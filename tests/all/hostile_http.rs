//! Hostile requests, table-driven, over REST against a real server on SQLite and on PostgreSQL: injection
//! through every parameter and at every expand depth, oracles on hidden, write-only and runtime fields,
//! malformed, oversized and deeply nested input, out-of-range numbers and dates, forged tokens, admin-route
//! escalation, ownership transfer, `runAs: system` code reaching past the caller's organization or into the
//! runtime's objects, and actions that fail half-way. Every case asserts its status and code, that no hidden
//! value appears anywhere in the answer, and that the server still answers afterwards.

use crate::support::{Db, Server, start_server_with};
use serde_json::{Value, json};
use std::collections::HashMap;

/// Values that must never reach a caller who may not read them.
const SALARY: i64 = 987_654;
const LEAKS: &[&str] = &[
    "987654",
    "98765.4",
    "PIN-SECRET",
    "PW-SECRET",
    "argon2",
    "token_hash\":\"",
];

fn artifact() -> Value {
    let mut a: Value =
        serde_json::from_str(include_str!("../fixtures/expense/objectstack.json")).expect("JSON");
    let objects = a["objects"].as_array_mut().expect("objects");
    objects.push(json!({
        "name": "hx_secret", "label": "Secret", "sharingModel": "private",
        "fields": {
            "title": {"type": "text", "required": true, "searchable": true},
            "salary": {"type": "number"},
            "pin": {"type": "secret"},
            "code": {"type": "password"},
            "bonus": {"type": "formula", "expression": "record.salary * 0.1"},
            "label_copy": {"type": "formula", "expression": "record.title + '!'"}
        }
    }));
    objects.push(json!({
        "name": "hx_task", "label": "Task", "sharingModel": "public_read_write",
        "fields": {
            "title": {"type": "text", "searchable": true},
            "rank": {"type": "number"},
            "due": {"type": "date"},
            "note": {"type": "lookup", "reference": "hx_secret"},
            "tags": {"type": "json"}
        }
    }));
    let sets = a["permissions"].as_array_mut().expect("permissions");
    let crud =
        json!({"allowCreate": true, "allowRead": true, "allowEdit": true, "allowDelete": true});
    sets.push(json!({
        "name": "hx_user", "isDefault": false,
        "objects": {"hx_secret": crud, "hx_task": crud},
        "fields": {"hx_secret.salary": {"readable": false, "editable": false}}
    }));
    let body = |source: &str| json!({"language": "js", "capabilities": ["api.read", "api.write"], "source": source});
    let actions = a["actions"].as_array_mut().expect("actions");
    for (name, run_as, source) in [
        (
            "hx_read_users",
            Some("system"),
            "return await ctx.api.object('sys_user').find({});",
        ),
        (
            "hx_read_sessions",
            Some("system"),
            "return await ctx.api.object('sys_session').find({});",
        ),
        (
            "hx_promote",
            Some("system"),
            "return await ctx.api.object('sys_user').update(ctx.user.id, {positions: ['platform_admin']});",
        ),
        (
            "hx_read_audit",
            Some("system"),
            "return await ctx.api.object('sys_audit_log').find({});",
        ),
        (
            "hx_count_tasks",
            Some("system"),
            "return (await ctx.api.object('hx_task').find({})).length;",
        ),
        (
            "hx_read_secrets",
            Some("system"),
            "return await ctx.api.object('hx_secret').find({});",
        ),
        (
            "hx_half_write",
            None,
            "await ctx.api.object('hx_task').insert({title: 'half-written'}); throw new Error('boom after a write');",
        ),
        (
            "hx_half_write_system",
            Some("system"),
            "await ctx.api.object('hx_task').insert({title: 'half-written'}); throw new Error('boom after a write');",
        ),
        (
            "hx_write_ok",
            None,
            "return await ctx.api.object('hx_task').insert({title: 'from an action'});",
        ),
    ] {
        let mut def = json!({"name": name, "label": name, "objectName": "hx_task", "type": "script", "body": body(source)});
        if let Some(r) = run_as {
            def["runAs"] = json!(r);
        }
        actions.push(def);
    }
    a
}

/// One hostile request and what it must answer.
struct Case {
    who: &'static str,
    method: &'static str,
    path: String,
    body: Value,
    /// Acceptable statuses (the first is the expected one; a few cases accept either of two outcomes).
    status: &'static [u16],
    code: Option<&'static str>,
    /// A field that must not appear in the answer.
    absent: Option<&'static str>,
}

fn case(
    who: &'static str,
    method: &'static str,
    path: impl Into<String>,
    body: Value,
    status: &'static [u16],
) -> Case {
    Case {
        who,
        method,
        path: path.into(),
        body,
        status,
        code: None,
        absent: None,
    }
}

impl Case {
    fn code(mut self, c: &'static str) -> Case {
        self.code = Some(c);
        self
    }

    fn absent(mut self, field: &'static str) -> Case {
        self.absent = Some(field);
        self
    }
}

const Q_SECRET: &str = "/api/v1/data/hx_secret/query";
const Q_TASK: &str = "/api/v1/data/hx_task/query";
const BAD: &[u16] = &[400];
/// Filtering, sorting, grouping, aggregating, searching or expanding by a field the caller may not read.
const ORACLE: &[u16] = &[403];
const ORACLE_CODE: &str = "PERMISSION_DENIED";

/// Every place a query names a field, each with a field the caller may not use.
fn field_oracles() -> Vec<Case> {
    let mut out = Vec::new();
    // salary: hidden from hx_user by FLS; pin / code: write-only for everyone (admin included).
    for (who, field) in [
        ("emp", "salary"),
        ("emp", "pin"),
        ("emp", "code"),
        ("admin", "pin"),
        ("admin", "code"),
    ] {
        let places = [
            json!({"where": {field: {"$gte": 0}}}),
            json!({"where": {"$and": [{field: {"$gte": 0}}]}}),
            json!({"where": {"$or": [{"title": "x"}, {field: 1}]}}),
            json!({"where": {"$not": {field: {"$ne": null}}}}),
            json!({"orderBy": [{"field": field, "order": "desc"}]}),
            json!({"search": {"query": "9", "fields": [field]}}),
            json!({"groupBy": [field], "aggregations": [{"function": "count", "alias": "n"}]}),
            json!({"aggregations": [{"function": "max", "field": field, "alias": "m"}]}),
        ];
        for body in places {
            out.push(case(who, "POST", Q_SECRET, body, ORACLE).code(ORACLE_CODE));
        }
        // Selecting it is no oracle: the answer just leaves it out (as the real server does).
        out.push(
            case(
                who,
                "POST",
                Q_SECRET,
                json!({"fields": ["title", field]}),
                &[200],
            )
            .absent(field),
        );
        // The same field one and two expands deep (hx_task.note → hx_secret).
        for body in [
            json!({"expand": {"note": {"object": "hx_secret", "filter": {field: {"$gte": 0}}}}}),
            json!({"expand": {"note": {"object": "hx_secret", "orderBy": [{"field": field}]}}}),
        ] {
            out.push(case(who, "POST", Q_TASK, body, ORACLE).code(ORACLE_CODE));
        }
        out.push(
            case(
                who,
                "POST",
                Q_TASK,
                json!({"expand": {"note": {"object": "hx_secret", "fields": [field]}}}),
                &[200],
            )
            .absent(field),
        );
    }
    // The runtime's user object through lookups: only id, name, email, image are readable, by anyone.
    for field in [
        "password_hash",
        "is_platform_admin",
        "positions",
        "banned",
        "role",
        "must_change_password",
    ] {
        for who in ["emp", "admin"] {
            out.push(
                case(
                    who,
                    "POST",
                    Q_TASK,
                    json!({"expand": {"created_by": {"object": "sys_user", "filter": {field: {"$ne": null}}}}}),
                    ORACLE,
                )
                .code(ORACLE_CODE),
            );
        }
        out.push(
            case("emp", "POST", Q_TASK, json!({"expand": {"note": {"object": "hx_secret", "expand": {"owner_id": {"object": "sys_user", "filter": {field: {"$ne": null}}}}}}}), ORACLE)
                .code(ORACLE_CODE),
        );
        out.push(
            case(
                "emp",
                "POST",
                Q_TASK,
                json!({"expand": {"owner_id": {"object": "sys_user", "fields": [field]}}}),
                &[200],
            )
            .absent(field),
        );
    }
    out
}

/// Injection through every parameter, malformed, oversized and out-of-range input.
fn malformed() -> Vec<Case> {
    let deep_and = (0..40).fold(json!({"title": "x"}), |acc, _| json!({"$and": [acc]}));
    let deep_array = (0..40).fold(json!(["title", "=", "x"]), |acc, _| json!(["and", acc]));
    let wide_or: Vec<Value> = (0..2000)
        .map(|i| json!({"title": format!("t{i}")}))
        .collect();
    let many: Vec<Value> = (0..5000).map(|i| json!(format!("v{i}"))).collect();
    let long = "x".repeat(60_000);
    let mut deep_body = String::new();
    for _ in 0..10_000 {
        deep_body.push('[');
    }
    vec![
        case("emp", "POST", Q_TASK, json!({"where": deep_and}), BAD).code("INVALID_FILTER"),
        // A list where the query body takes a record is refused by shape, as on the real server.
        case("emp", "POST", Q_TASK, json!({"where": deep_array}), BAD).code("VALIDATION_FAILED"),
        case(
            "emp",
            "POST",
            Q_TASK,
            json!({"where": {"$or": wide_or}}),
            BAD,
        )
        .code("INVALID_FILTER"),
        case(
            "emp",
            "POST",
            Q_TASK,
            json!({"where": {"title": {"$in": many}}}),
            BAD,
        )
        .code("INVALID_FILTER"),
        case(
            "emp",
            "POST",
            Q_TASK,
            json!({"where": {"title": {"$nin": many}}}),
            BAD,
        )
        .code("INVALID_FILTER"),
        case(
            "emp",
            "POST",
            Q_TASK,
            json!({"where": {"title": {"$contains": long}}}),
            BAD,
        )
        .code("INVALID_FILTER"),
        case(
            "emp",
            "POST",
            Q_TASK,
            json!({"where": {"title": {"$in": long}}}),
            BAD,
        )
        .code("INVALID_FILTER"),
        case("emp", "POST", Q_TASK, json!({"search": long}), BAD).code("INVALID_QUERY"),
        case(
            "emp",
            "GET",
            format!("/api/v1/data/hx_task?search={}", "y".repeat(5000)),
            Value::Null,
            BAD,
        ),
        case(
            "emp",
            "POST",
            Q_TASK,
            json!({"offset": 9_223_372_036_854_775_807u64}),
            BAD,
        )
        .code("INVALID_QUERY"),
        case(
            "emp",
            "POST",
            Q_TASK,
            json!({"offset": 18_446_744_073_709_551_615u64}),
            BAD,
        )
        .code("INVALID_QUERY"),
        case(
            "emp",
            "GET",
            "/api/v1/data/hx_task?offset=9223372036854775808",
            Value::Null,
            BAD,
        ),
        case(
            "emp",
            "GET",
            "/api/v1/data/hx_task?skip=99999999999",
            Value::Null,
            BAD,
        ),
        case("emp", "POST", Q_TASK, json!({"limit": -1}), BAD),
        case("emp", "POST", Q_TASK, json!({"limit": "ten"}), BAD),
        case("emp", "POST", Q_TASK, json!({"limit": 1.5}), BAD),
        case(
            "emp",
            "POST",
            Q_TASK,
            json!({"limit": 18_446_744_073_709_551_615u64}),
            &[200],
        ),
        case(
            "emp",
            "POST",
            Q_TASK,
            json!({"where": {"due": {"$gte": "{100000000_days_ago}"}}}),
            &[200, 400],
        ),
        case(
            "emp",
            "POST",
            Q_TASK,
            json!({"where": {"due": {"$lte": "{9223372036854775807_years_from_now}"}}}),
            &[200, 400],
        ),
        case(
            "emp",
            "POST",
            Q_TASK,
            json!({"where": {"due": {"$gte": "{-9223372036854775808_weeks_ago}"}}}),
            &[200, 400],
        ),
        case(
            "emp",
            "POST",
            Q_TASK,
            json!({"where": {"due": {"$gte": "{99999999999_months_ago}"}}}),
            &[200, 400],
        ),
        case(
            "emp",
            "POST",
            Q_TASK,
            json!({"where": {"rank": {"$gt": 1e308}}}),
            &[200, 400],
        ),
        case(
            "emp",
            "POST",
            Q_TASK,
            json!({"where": {"rank": {"$gt": "NaN"}}}),
            &[200, 400],
        ),
        case(
            "emp",
            "POST",
            Q_TASK,
            json!({"where": {"rank": {"$between": [1]}}}),
            BAD,
        )
        .code("INVALID_FILTER"),
        case(
            "emp",
            "POST",
            Q_TASK,
            json!({"where": {"title": {"$regex": ".*"}}}),
            BAD,
        )
        .code("INVALID_FILTER"),
        case(
            "emp",
            "POST",
            Q_TASK,
            json!({"where": {"title": {"$where": "1"}}}),
            BAD,
        )
        .code("INVALID_FILTER"),
        case(
            "emp",
            "POST",
            Q_TASK,
            json!({"where": {"$expr": {"$eq": [1, 1]}}}),
            BAD,
        )
        .code("INVALID_FILTER"),
        case(
            "emp",
            "POST",
            Q_TASK,
            json!({"where": {"title": {"$eq": {"$gt": ""}}}}),
            BAD,
        )
        .code("INVALID_FILTER"),
        case(
            "emp",
            "POST",
            Q_TASK,
            json!({"where": {"title": {"$eq": {"nested": "object"}}}}),
            BAD,
        ),
        // SQL in names and values: names are refused, values are only ever bound.
        case(
            "emp",
            "POST",
            Q_TASK,
            json!({"where": {"title\" OR 1=1 --": "x"}}),
            BAD,
        )
        .code("INVALID_FIELD"),
        case(
            "emp",
            "POST",
            Q_TASK,
            json!({"where": {"title": "' OR '1'='1"}}),
            &[200],
        ),
        case(
            "emp",
            "POST",
            Q_TASK,
            json!({"where": {"title": {"$like": "%' OR 1=1 --"}}}),
            &[200],
        ),
        case(
            "emp",
            "POST",
            Q_TASK,
            json!({"orderBy": "title; DROP TABLE hx_task"}),
            BAD,
        ),
        case(
            "emp",
            "POST",
            Q_TASK,
            json!({"fields": ["title", "(SELECT 1)"]}),
            BAD,
        )
        .code("INVALID_FIELD"),
        case(
            "emp",
            "POST",
            Q_TASK,
            json!({"groupBy": ["title) --"]}),
            BAD,
        ),
        case("emp", "POST", Q_TASK, json!({"expand": {"title": {}}}), BAD),
        case(
            "emp",
            "POST",
            Q_TASK,
            json!({"expand": {"note": {"object": "hx_secret", "expand": {"owner_id": {"object": "sys_user", "expand": {"x": {"object": "x", "expand": {"y": {"object": "y"}}}}}}}}}),
            BAD,
        ),
        case(
            "emp",
            "GET",
            "/api/v1/data/hx_task?where=%7B%22title%22%3A",
            Value::Null,
            BAD,
        ),
        case(
            "emp",
            "GET",
            "/api/v1/data/hx_task?filter=[[[[[[[[[[",
            Value::Null,
            BAD,
        ),
        case(
            "emp",
            "GET",
            "/api/v1/data/hx_task?sort=-title,--rank",
            Value::Null,
            BAD,
        ),
        case(
            "emp",
            "GET",
            "/api/v1/data/hx_task?$orderby=title%20desc%3B%20DROP",
            Value::Null,
            BAD,
        ),
        case(
            "emp",
            "GET",
            "/api/v1/data/hx_task?$unknown=1",
            Value::Null,
            BAD,
        ),
        case(
            "emp",
            "GET",
            "/api/v1/data/hx_task?rank[$gt]=1",
            Value::Null,
            BAD,
        ),
        case(
            "emp",
            "GET",
            "/api/v1/data/hx_task/..%2F..%2Fetc%2Fpasswd",
            Value::Null,
            &[404],
        ),
        case("emp", "GET", "/api/v1/data/sys_user", Value::Null, &[404]),
        case(
            "emp",
            "GET",
            "/api/v1/data/sys_session",
            Value::Null,
            &[404],
        ),
        case(
            "emp",
            "POST",
            "/api/v1/data/sys_user/query",
            json!({}),
            &[404],
        ),
        case(
            "admin",
            "GET",
            "/api/v1/data/sys_session",
            Value::Null,
            &[404],
        ),
        case(
            "admin",
            "GET",
            "/api/v1/data/sys_api_key",
            Value::Null,
            &[404],
        ),
        case(
            "emp",
            "GET",
            "/api/v1/data/sys_audit_log",
            Value::Null,
            &[404],
        ),
        case("emp", "POST", "/api/v1/data/hx_task", json!([1, 2, 3]), BAD),
        case(
            "emp",
            "POST",
            "/api/v1/data/hx_task",
            json!({"title": "t", "rank": "not a number"}),
            BAD,
        ),
        case(
            "emp",
            "POST",
            "/api/v1/data/hx_task",
            json!({"title": "t", "unknown_field": 1}),
            BAD,
        )
        .code("INVALID_FIELD"),
        case(
            "emp",
            "POST",
            "/api/v1/data/hx_task",
            json!({"title": "t", "id": "../../x"}),
            BAD,
        )
        .code("INVALID_FIELD"),
        case(
            "emp",
            "POST",
            "/api/v1/data/hx_task",
            json!({"title": "t", "id": "x".repeat(65)}),
            BAD,
        )
        .code("INVALID_FIELD"),
        case(
            "emp",
            "POST",
            "/api/v1/data/hx_task",
            json!({"title": "t", "organization_id": "other-org"}),
            &[201, 400, 403],
        ),
        case(
            "emp",
            "POST",
            "/api/v1/data/hx_task",
            json!({"title": "t", "created_by": "someone"}),
            &[201, 400, 403],
        ),
        case(
            "emp",
            "POST",
            "/api/v1/data/hx_task",
            Value::String(r#"{"title": "t", "rank": 1e400}"#.into()),
            BAD,
        ),
        case(
            "emp",
            "POST",
            "/api/v1/data/hx_task",
            Value::String(r#"{"title": "t""#.into()),
            BAD,
        ),
        case(
            "emp",
            "POST",
            Q_TASK,
            Value::String("not json at all".into()),
            BAD,
        ),
        case(
            "emp",
            "POST",
            "/api/v1/data/hx_task",
            Value::String(deep_body),
            BAD,
        ),
        case(
            "emp",
            "POST",
            "/api/v1/data/hx_task/createMany",
            Value::Array(
                (0..1001)
                    .map(|i| json!({"title": format!("m{i}")}))
                    .collect(),
            ),
            BAD,
        ),
        case(
            "emp",
            "POST",
            "/api/v1/data/hx_task/batch",
            json!({"operation": "create", "records": (0..1001).map(|i| json!({"title": format!("b{i}")})).collect::<Vec<_>>()}),
            BAD,
        ),
        case(
            "emp",
            "POST",
            "/api/v1/data/hx_task/batch",
            json!({"operation": "create", "options": {"atomic": false}, "records": (0..1001).map(|i| json!({"title": format!("c{i}")})).collect::<Vec<_>>()}),
            BAD,
        ),
        case(
            "emp",
            "POST",
            "/api/v1/data/hx_task/deleteMany",
            json!({"ids": (0..1001).map(|i| format!("id{i}")).collect::<Vec<_>>()}),
            BAD,
        ),
        case(
            "emp",
            "POST",
            "/api/v1/batch",
            json!({"operations": (0..1001).map(|i| json!({"op": "create", "object": "hx_task", "data": {"title": format!("x{i}")}})).collect::<Vec<_>>()}),
            BAD,
        ),
        case(
            "emp",
            "PATCH",
            "/api/v1/data/hx_task/does-not-exist",
            json!({"title": "x"}),
            &[404],
        ),
        case(
            "emp",
            "DELETE",
            "/api/v1/data/hx_task/does-not-exist",
            Value::Null,
            &[404],
        ),
    ]
}

/// Tokens, administration, ownership and metadata.
fn identity_and_admin() -> Vec<Case> {
    vec![
        case("forged", "GET", "/api/v1/data/hx_task", Value::Null, &[401]).code("UNAUTHENTICATED"),
        case("forged_signed", "GET", "/api/v1/data/hx_task", Value::Null, &[401]).code("UNAUTHENTICATED"),
        case("forged_key", "GET", "/api/v1/data/hx_task", Value::Null, &[401]).code("UNAUTHENTICATED"),
        case("signed_out", "GET", "/api/v1/data/hx_task", Value::Null, &[401]).code("UNAUTHENTICATED"),
        case("anonymous", "GET", "/api/v1/data/hx_task", Value::Null, &[401]).code("UNAUTHENTICATED"),
        case("anonymous", "POST", Q_TASK, json!({}), &[401]).code("UNAUTHENTICATED"),
        case("anonymous", "GET", "/api/v1/meta/object/hx_secret", Value::Null, &[401]),
        case("emp", "POST", "/api/v1/auth/admin/create-user", json!({"email": "x@example.com", "password": "Passw0rd!Passw0rd", "name": "x", "positions": ["platform_admin"]}), &[403]).code("PERMISSION_DENIED"),
        case("emp", "POST", "/api/v1/auth/admin/set-positions", json!({"userId": "{emp_id}", "positions": ["platform_admin"]}), &[403]).code("PERMISSION_DENIED"),
        case("emp", "POST", "/api/v1/auth/admin/bind-permission-sets", json!({"position": "everyone", "permissionSets": ["exp_director_access"]}), &[403]).code("PERMISSION_DENIED"),
        case("emp", "POST", "/api/v1/auth/api-keys", json!({"name": "mine"}), &[403]).code("PERMISSION_DENIED"),
        // Ownership: a plain user cannot give a record away or create one in someone else's name.
        case("emp", "POST", "/api/v1/data/hx_secret", json!({"title": "mine", "owner_id": "{admin_id}"}), &[403]).code("PERMISSION_DENIED"),
        case("emp", "POST", "/api/v1/data/hx_secret", json!({"title": "mine", "owner_id": "nobody-at-all"}), &[403]).code("PERMISSION_DENIED"),
        case("emp", "POST", "/api/v1/data/hx_secret", json!({"title": "mine", "owner_id": "{emp_id}"}), &[201]),
        case("emp", "PATCH", "/api/v1/data/hx_secret/{emp_secret}", json!({"owner_id": "{admin_id}"}), &[403]).code("PERMISSION_DENIED"),
        case("emp", "PATCH", "/api/v1/data/hx_secret/{emp_secret}", json!({"owner_id": null}), &[403, 400]),
        case("emp", "PATCH", "/api/v1/data/hx_secret/{emp_secret}", json!({"salary": 1}), &[403]).code("PERMISSION_DENIED"),
        case("emp", "GET", "/api/v1/data/hx_secret/{admin_secret}", Value::Null, &[404]),
        case("emp", "PATCH", "/api/v1/data/hx_secret/{admin_secret}", json!({"title": "mine now"}), &[404]),
        case("emp", "DELETE", "/api/v1/data/hx_secret/{admin_secret}", Value::Null, &[404]),
        case("admin", "PATCH", "/api/v1/data/hx_secret/{emp_secret}", json!({"owner_id": "{outsider_id}"}), BAD).code("VALIDATION_FAILED"),
        case("admin", "POST", "/api/v1/data/hx_secret", json!({"title": "for nobody", "owner_id": "{outsider_id}"}), BAD).code("VALIDATION_FAILED"),
        // Lookups: a record of the caller's organization may be named even when the caller cannot read it
        // (the setup checks that nothing of it shows); a missing id, or another organization's, is refused.
        case("emp", "POST", "/api/v1/data/hx_task", json!({"title": "t", "note": "{admin_secret}"}), &[201]),
        case("emp", "POST", "/api/v1/data/hx_task", json!({"title": "t", "note": "no-such-id"}), BAD).code("VALIDATION_FAILED"),
        case("outsider", "POST", "/api/v1/data/hx_task", json!({"title": "t", "note": "{emp_secret}"}), BAD).code("VALIDATION_FAILED"),
        // Other organizations do not exist for the caller.
        case("outsider", "GET", "/api/v1/data/hx_task/{emp_task}", Value::Null, &[404]),
        case("outsider", "PATCH", "/api/v1/data/hx_task/{emp_task}", json!({"title": "pwned"}), &[404]),
        case("outsider", "DELETE", "/api/v1/data/hx_task/{emp_task}", Value::Null, &[404]),
        case("outsider", "POST", Q_TASK, json!({"where": {"id": "{emp_task}"}}), &[200]),
        // Metadata of what the caller may not read.
        case("emp", "GET", "/api/v1/meta/object/sys_user", Value::Null, &[404]),
        case("emp", "GET", "/api/v1/meta/object/exp_ledger_entry", Value::Null, &[404]),
    ]
}

/// Code declared `runAs: system` and actions that fail half-way.
fn elevated_code() -> Vec<Case> {
    let act = |name: &str| format!("/api/v1/actions/hx_task/{name}");
    vec![
        case(
            "emp",
            "POST",
            act("hx_read_users"),
            json!({}),
            &[400, 403, 404, 500],
        ),
        case(
            "emp",
            "POST",
            act("hx_read_sessions"),
            json!({}),
            &[400, 403, 404, 500],
        ),
        case(
            "emp",
            "POST",
            act("hx_promote"),
            json!({}),
            &[400, 403, 404, 500],
        ),
        case(
            "emp",
            "POST",
            act("hx_read_audit"),
            json!({}),
            &[400, 403, 404, 500],
        ),
        case(
            "admin",
            "POST",
            act("hx_read_users"),
            json!({}),
            &[400, 403, 404, 500],
        ),
        case("emp", "POST", act("hx_half_write"), json!({}), &[500, 400]),
        case(
            "emp",
            "POST",
            act("hx_half_write_system"),
            json!({}),
            &[500, 400],
        ),
        case("emp", "POST", act("hx_write_ok"), json!({}), &[200]),
    ]
}

/// The hostile cases, in the order they run (some depend on records the setup made).
fn cases() -> Vec<Case> {
    let mut all = field_oracles();
    all.extend(malformed());
    all.extend(identity_and_admin());
    all.extend(elevated_code());
    all
}

fn fill(text: &str, saved: &HashMap<&str, String>) -> String {
    let mut out = text.to_string();
    for (k, v) in saved {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

async fn count(s: &Server, token: &str, title: &str) -> u64 {
    let r = s
        .call(
            "POST",
            Q_TASK,
            json!({"where": {"title": title}, "count": true}),
            Some(token),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["total"].as_u64().unwrap_or(0)
}

async fn run(db: Db) {
    let s = start_server_with(db, "hostile_http", artifact(), Default::default(), |cfg| {
        cfg.js_runtime = Some(crate::support::js_runtime())
    })
    .await;
    let admin = s.sign_up("admin@example.com", "Passw0rd!Passw0rd").await;
    for position in ["hx_user"] {
        let r = s
            .call(
                "POST",
                "/api/v1/auth/admin/bind-permission-sets",
                json!({"position": position, "permissionSets": ["hx_user"]}),
                Some(&admin),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let (emp, emp_id) = s.create_user(&admin, "emp@example.com", &["hx_user"]).await;
    // Someone of another organization: an administrator of that organization creates the user.
    let outsider_id = {
        let auth = objectos_host::security::auth::AuthService::new(
            s.kernel.clone(),
            b"unused",
            false,
            Default::default(),
        );
        let other_admin = objectos_host::security::auth::Identity {
            principal: objectos_host::kernel::Principal {
                user_id: Some("other-admin".into()),
                organization_id: Some("org_other".into()),
                positions: vec!["platform_admin".into(), "everyone".into()],
                ..Default::default()
            },
            user: Default::default(),
            session: None,
            token: None,
            is_platform_admin: true,
            api_key_id: None,
        };
        let created = auth
            .admin_create_user(
                &other_admin,
                "outsider@example.com",
                "Initial-123456",
                "Outsider",
                &["hx_user".to_string()],
            )
            .await
            .expect("a user of another organization");
        created["id"].as_str().expect("id").to_string()
    };
    let outsider = {
        let r = s
            .call(
                "POST",
                "/api/v1/auth/sign-in/email",
                json!({"email": "outsider@example.com", "password": "Initial-123456"}),
                None,
            )
            .await;
        let t = r.body["token"].as_str().expect("token").to_string();
        let r = s
            .call(
                "POST",
                "/api/v1/auth/change-password",
                json!({"currentPassword": "Initial-123456", "newPassword": "Chosen-123456"}),
                Some(&t),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        t
    };
    let admin_id = s
        .call("GET", "/api/v1/auth/get-session", Value::Null, Some(&admin))
        .await
        .body["user"]["id"]
        .as_str()
        .expect("admin id")
        .to_string();
    // The hidden values: the admin's private record, and one given to emp (whose salary emp may not see).
    let r = s.call("POST", "/api/v1/data/hx_secret", json!({"title": "admin's", "salary": SALARY, "pin": "PIN-SECRET-7731", "code": "PW-SECRET-5521"}), Some(&admin)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    // The administrator sees the salary (no FLS for a platform admin), never the write-only fields.
    for leak in ["PIN-SECRET", "PW-SECRET"] {
        assert!(
            !r.body.to_string().contains(leak),
            "a write answer leaks {leak}: {}",
            r.body
        );
    }
    let admin_secret = r.body["id"].as_str().expect("id").to_string();
    let r = s
        .call(
            "POST",
            "/api/v1/data/hx_secret",
            json!({"title": "emp's", "salary": SALARY, "pin": "PIN-SECRET-1", "owner_id": emp_id}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        r.status, 201,
        "an administrator may give a record away: {:?}",
        r.body
    );
    let emp_secret = r.body["id"].as_str().expect("id").to_string();
    let r = s
        .call(
            "POST",
            "/api/v1/data/hx_task",
            json!({"title": "emp task", "note": emp_secret}),
            Some(&emp),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let emp_task = r.body["id"].as_str().expect("id").to_string();
    let r = s
        .call(
            "POST",
            "/api/v1/data/hx_task",
            json!({"title": "outsider task"}),
            Some(&outsider),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);

    // A lookup may name a record of the caller's organization that the caller cannot read (as on the real
    // server: whether the link may be written is the permission layer's call); linking reveals nothing of
    // it, not even through expand. Another organization's record does not exist for the caller.
    let r = s
        .call(
            "POST",
            "/api/v1/data/hx_task",
            json!({"title": "linked task", "note": admin_secret}),
            Some(&emp),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let linked = r.body["id"].as_str().expect("id").to_string();
    let r = s
        .call(
            "GET",
            &format!("/api/v1/data/hx_task/{linked}?expand=note"),
            Value::Null,
            Some(&emp),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(
        !r.body.to_string().contains("admin's"),
        "an unreadable lookup target leaks through expand: {}",
        r.body
    );
    let r = s
        .call(
            "POST",
            "/api/v1/data/hx_task",
            json!({"title": "linked across", "note": admin_secret}),
            Some(&outsider),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(
        r.body["fields"][0]["code"], "reference_not_found",
        "{:?}",
        r.body
    );

    // emp reads its own record: no salary, no value derived from it, no write-only field.
    let r = s
        .call(
            "GET",
            &format!("/api/v1/data/hx_secret/{emp_secret}"),
            Value::Null,
            Some(&emp),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["record"]["title"], "emp's");
    assert!(
        r.body["record"].get("salary").is_none() && r.body["record"]["bonus"].is_null(),
        "{:?}",
        r.body
    );
    assert_eq!(
        r.body["record"]["label_copy"], "emp's!",
        "formulas over readable fields still work"
    );

    let signed_out = {
        let r = s
            .call(
                "POST",
                "/api/v1/auth/sign-in/email",
                json!({"email": "emp@example.com", "password": "Chosen-123456"}),
                None,
            )
            .await;
        let t = r.body["token"].as_str().expect("token").to_string();
        let out = s
            .call("POST", "/api/v1/auth/sign-out", json!({}), Some(&t))
            .await;
        assert_eq!(out.status, 200, "{:?}", out.body);
        t
    };
    let mut tokens: HashMap<&str, Option<String>> = HashMap::new();
    tokens.insert("admin", Some(admin.clone()));
    tokens.insert("emp", Some(emp.clone()));
    tokens.insert("outsider", Some(outsider.clone()));
    tokens.insert("anonymous", None);
    tokens.insert("forged", Some("0123456789abcdef0123456789abcdef".into()));
    tokens.insert(
        "forged_signed",
        Some(format!(
            "{}.AAAA",
            emp.split('.')
                .next()
                .unwrap_or("x")
                .chars()
                .rev()
                .collect::<String>()
        )),
    );
    tokens.insert(
        "forged_key",
        Some("osk_0000000000000000000000000000000000000000".into()),
    );
    tokens.insert("signed_out", Some(signed_out));
    let mut saved: HashMap<&str, String> = HashMap::new();
    saved.insert("emp_id", emp_id.clone());
    saved.insert("admin_id", admin_id.clone());
    saved.insert("outsider_id", outsider_id);
    saved.insert("admin_secret", admin_secret.clone());
    saved.insert("emp_secret", emp_secret.clone());
    saved.insert("emp_task", emp_task.clone());

    let all = cases();
    assert!(all.len() >= 120, "{} cases", all.len());
    for (i, c) in all.iter().enumerate() {
        let path = fill(&c.path, &saved);
        let body = match &c.body {
            Value::String(raw) => {
                // A raw body, sent as it is (not JSON, a number out of range, a nesting bomb).
                let mut req = s
                    .http
                    .request(reqwest::Method::POST, format!("{}{}", s.base, path))
                    .body(raw.clone());
                req = req.header("content-type", "application/json");
                if let Some(Some(t)) = tokens.get(c.who) {
                    req = req.bearer_auth(t);
                }
                let resp = req.send().await.expect("request");
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                assert!(
                    c.status.contains(&status),
                    "case {i} ({} {path}): {status} {text}",
                    c.method
                );
                continue;
            }
            other => serde_json::from_str(&fill(&other.to_string(), &saved)).expect("case body"),
        };
        let token = tokens.get(c.who).cloned().flatten();
        let r = s.call(c.method, &path, body, token.as_deref()).await;
        assert!(
            c.status.contains(&r.status),
            "case {i} ({} {} {path}): expected {:?}, got {} {}",
            c.who,
            c.method,
            c.status,
            r.status,
            r.body
        );
        if let Some(code) = c.code {
            let got = r.body["code"]
                .as_str()
                .or_else(|| r.body["error"]["code"].as_str())
                .unwrap_or("");
            assert_eq!(got, code, "case {i} ({} {path}): {}", c.method, r.body);
        }
        let text = r.body.to_string();
        if let Some(field) = c.absent {
            assert!(
                !text.contains(&format!("\"{field}\":")),
                "case {i} ({} {path}): {field} came back: {text}",
                c.method
            );
        }
        for leak in LEAKS {
            assert!(
                !text.contains(leak),
                "case {i} ({} {path}) leaks {leak}: {text}",
                c.method
            );
        }
        // The server still answers.
        let alive = s
            .call(
                "GET",
                "/api/v1/data/hx_task?limit=1",
                Value::Null,
                Some(&emp),
            )
            .await;
        assert_eq!(
            alive.status, 200,
            "after case {i} ({} {path}): {:?}",
            c.method, alive.body
        );
    }

    // Nothing of the refused or failed writes was kept.
    assert_eq!(
        count(&s, &emp, "half-written").await,
        0,
        "a failed action keeps no write"
    );
    assert_eq!(
        count(&s, &emp, "from an action").await,
        1,
        "a successful action commits"
    );
    assert_eq!(
        count(&s, &emp, "m0").await + count(&s, &emp, "b0").await + count(&s, &emp, "x0").await,
        0
    );
    // Elevated code stays inside the caller's organization.
    let r = s
        .call(
            "POST",
            "/api/v1/actions/hx_task/hx_count_tasks",
            json!({}),
            Some(&emp),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let own = s
        .call("POST", Q_TASK, json!({"count": true}), Some(&admin))
        .await
        .body["total"]
        .clone();
    assert_eq!(
        r.body["data"], own,
        "runAs: system sees only its caller's organization: {:?}",
        r.body
    );
    // Still an employee: the system action did not promote anyone.
    let r = s
        .call("GET", "/api/v1/auth/get-session", Value::Null, Some(&emp))
        .await;
    assert!(
        !r.body.to_string().contains("platform_admin"),
        "{:?}",
        r.body
    );
    // An elevated action is not restricted by the artifact's permission sets (it sees the salary FLS hides
    // from its caller, and returning it is the artifact's choice), but never sees write-only fields.
    let r = s
        .call(
            "POST",
            "/api/v1/actions/hx_task/hx_read_secrets",
            json!({}),
            Some(&emp),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let text = r.body.to_string();
    assert!(
        text.contains("987654") && !text.contains("PIN-SECRET") && !text.contains("PW-SECRET"),
        "{text}"
    );
}

#[tokio::test]
async fn hostile_requests_sqlite() {
    run(Db::Sqlite).await;
}

#[tokio::test]
async fn hostile_requests_postgres() {
    run(Db::Postgres).await;
}

/// One page cap for every list-like answer: lists, aggregations and exports (and a guest's `find`, which
/// passes the same kernel path) return at most `max_page_size` rows or groups, saying there is more.
async fn page_cap(db: Db) {
    let app = json!({
        "objects": [{"name": "pc_item", "fields": {"title": {"type": "text"}}}],
        "permissions": [{"name": "all", "isDefault": true,
            "objects": {"pc_item": {"allowCreate": true, "allowRead": true, "allowEdit": true, "allowDelete": true, "allowExport": true, "viewAllRecords": true}}}]
    });
    let s = start_server_with(
        db,
        "hostile_http_page_cap",
        app,
        objectos_host::http::HttpConfig {
            max_page_size: 5,
            ..Default::default()
        },
        |cfg| cfg.max_page_size = 5,
    )
    .await;
    let admin = s.sign_up("admin@example.com", "Passw0rd!Passw0rd").await;
    let items: Vec<Value> = (0..8).map(|i| json!({"title": format!("t{i}")})).collect();
    let r = s
        .call(
            "POST",
            "/api/v1/data/pc_item/createMany",
            Value::Array(items),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = s
        .call(
            "GET",
            "/api/v1/data/pc_item?limit=100",
            Value::Null,
            Some(&admin),
        )
        .await;
    assert_eq!(
        r.body["records"].as_array().map(Vec::len),
        Some(5),
        "{:?}",
        r.body
    );
    assert_eq!(r.body["hasMore"], true);
    let r = s
        .call(
            "POST",
            "/api/v1/data/pc_item/query",
            json!({"groupBy": ["title"], "aggregations": [{"function": "count", "alias": "n"}]}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body["records"].as_array().map(Vec::len),
        Some(5),
        "{:?}",
        r.body
    );
    assert_eq!(r.body["hasMore"], true, "{:?}", r.body);
    for (query, rows, more) in [("", 5, "true"), ("&offset=5", 3, "false")] {
        let resp = s
            .http
            .get(format!(
                "{}/api/v1/data/pc_item/export?format=csv{query}",
                s.base
            ))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("export");
        assert_eq!(resp.status().as_u16(), 200);
        let header = |k: &str| {
            resp.headers()
                .get(k)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        assert_eq!(
            (header("x-has-more"), header("x-total-count")),
            (more.to_string(), "8".to_string())
        );
        let text = resp.text().await.expect("csv");
        assert_eq!(text.lines().count(), rows + 1, "{text}");
    }
}

#[tokio::test]
async fn page_cap_sqlite() {
    page_cap(Db::Sqlite).await;
}

#[tokio::test]
async fn page_cap_postgres() {
    page_cap(Db::Postgres).await;
}
