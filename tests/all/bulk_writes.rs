//! Multi-record writes under hostile input: another organization's ids, batches past the limit, `$ref`s that
//! point nowhere (or forward), malformed operations, and failures in the middle of atomic runs. Each case checks
//! the answer and that nothing was written (or half-written).

use crate::on_both_servers;
use crate::support::{Server, testapp};
use serde_json::{Value, json};

async fn admin(s: &Server) -> String {
    s.sign_up("admin@example.com", "Passw0rd!Passw0rd").await
}

/// A user of another organization (created by that organization's administrator), signed in.
async fn outsider(s: &Server) -> String {
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
    auth.admin_create_user(
        &other_admin,
        "outsider@example.com",
        "Initial-123456",
        "Outsider",
        &[],
    )
    .await
    .expect("a user of another organization");
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
}

async fn create(s: &Server, object: &str, record: Value, t: &str) -> String {
    let r = s
        .call("POST", &format!("/api/v1/data/{object}"), record, Some(t))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_str().expect("id").to_string()
}

/// How many records of `object` the caller sees.
async fn count(s: &Server, object: &str, t: &str) -> u64 {
    let r = s
        .call(
            "GET",
            &format!("/api/v1/data/{object}?limit=1"),
            Value::Null,
            Some(t),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["total"].as_u64().expect("total")
}

async fn record(s: &Server, object: &str, id: &str, t: &str) -> Value {
    let r = s
        .call(
            "GET",
            &format!("/api/v1/data/{object}/{id}"),
            Value::Null,
            Some(t),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["record"].clone()
}

on_both_servers!(another_organizations_ids_are_not_found, testapp(), |s| {
    let admin = admin(&s).await;
    let out = outsider(&s).await;
    let a = Some(admin.as_str());
    let theirs = create(
        &s,
        "t_category",
        json!({"name": "Theirs SECRET", "rank": 1}),
        &out,
    )
    .await;
    let mine = create(&s, "t_category", json!({"name": "Mine", "rank": 1}), &admin).await;
    let not_found = |id: &str| json!({"code": "RECORD_NOT_FOUND", "message": format!("Record {id} not found in t_category"), "httpStatus": 404});
    // Their record answers exactly as one that does not exist.
    for id in [theirs.as_str(), "no-such-record"] {
        let r = s
            .call(
                "POST",
                "/api/v1/data/t_category/updateMany",
                json!({"records": [{"id": mine, "data": {"rank": 2}}, {"id": id, "data": {"rank": 99}}],
                    "options": {"continueOnError": true}}),
                a,
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["results"][1]["errors"][0], not_found(id));
        assert_eq!(
            (r.body["succeeded"].clone(), r.body["failed"].clone()),
            (json!(1), json!(1))
        );
        let r = s
            .call(
                "POST",
                "/api/v1/data/t_category/deleteMany",
                json!({"ids": [id]}),
                a,
            )
            .await;
        assert_eq!(r.body["results"][0]["errors"][0], not_found(id));
        for operation in ["update", "delete"] {
            let r = s
                .call(
                    "POST",
                    "/api/v1/data/t_category/batch",
                    json!({"operation": operation, "records": [{"id": id, "data": {"rank": 98}}],
                        "options": {"atomic": true}}),
                    a,
                )
                .await;
            assert_eq!(
                r.body["results"][0]["errors"][0],
                not_found(id),
                "{operation}"
            );
        }
        // In the cross-object batch the whole batch fails, and what came before is rolled back.
        let r = s
            .call(
                "POST",
                "/api/v1/batch",
                json!({"operations": [
                    {"object": "t_category", "action": "create", "data": {"name": "Before"}},
                    {"object": "t_category", "action": "update", "id": id, "data": {"rank": 97}}]}),
                a,
            )
            .await;
        assert_eq!(r.status, 404, "{:?}", r.body);
        assert_eq!(
            r.body,
            json!({"error": format!("Record {id} not found in t_category"), "code": "RECORD_NOT_FOUND"})
        );
        let r = s
            .call(
                "POST",
                "/api/v1/batch",
                json!({"operations": [{"object": "t_category", "action": "delete", "id": id}]}),
                a,
            )
            .await;
        assert_eq!(r.status, 404, "{:?}", r.body);
    }
    // An upsert naming their id does not reach their record.
    let r = s
        .call(
            "POST",
            "/api/v1/data/t_category/batch",
            json!({"operation": "upsert", "records": [{"id": theirs, "data": {"name": "Hijack", "rank": 96}}]}),
            a,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(
        !r.body.to_string().contains("SECRET"),
        "a bulk answer leaks another organization's record: {}",
        r.body
    );
    // Nothing of theirs changed or went away, and nothing half-written stayed behind.
    let t = record(&s, "t_category", &theirs, &out).await;
    assert_eq!(
        (t["name"].clone(), t["rank"].clone()),
        (json!("Theirs SECRET"), json!(1))
    );
    assert_eq!(count(&s, "t_category", &out).await, 1);
    let r = s
        .call("GET", "/api/v1/data/t_category?name=Before", Value::Null, a)
        .await;
    assert_eq!(r.body["total"], json!(0), "{:?}", r.body);
});

on_both_servers!(oversized_bulk_writes_are_refused, testapp(), |s| {
    let admin = admin(&s).await;
    let a = Some(admin.as_str());
    let seeded = count(&s, "t_category", &admin).await;
    let max = objectos_host::data::limits::MAX_WRITE_BATCH;
    let n = max + 1;
    let too_large = |object: Option<&str>| {
        let mut b = json!({"error": format!("Batch too large: {n} records (max {max})"),
            "code": "BATCH_TOO_LARGE", "count": n, "max": max});
        if let Some(o) = object {
            b["object"] = json!(o);
        }
        b
    };
    let cases = [
        (
            "/api/v1/data/t_category/createMany",
            Value::Array((0..n).map(|i| json!({"name": format!("c{i}")})).collect()),
        ),
        (
            "/api/v1/data/t_category/updateMany",
            json!({"records": (0..n).map(|i| json!({"id": format!("id{i}"), "data": {"rank": 1}})).collect::<Vec<_>>()}),
        ),
        (
            "/api/v1/data/t_category/deleteMany",
            json!({"ids": (0..n).map(|i| format!("id{i}")).collect::<Vec<_>>()}),
        ),
        (
            "/api/v1/data/t_category/batch",
            json!({"operation": "create", "records": (0..n).map(|i| json!({"data": {"name": format!("b{i}")}})).collect::<Vec<_>>()}),
        ),
        (
            "/api/v1/data/t_category/batch",
            json!({"operation": "create", "options": {"continueOnError": true},
                "records": (0..n).map(|i| json!({"data": {"name": format!("b{i}")}})).collect::<Vec<_>>()}),
        ),
    ];
    for (path, body) in cases {
        let r = s.call("POST", path, body, a).await;
        assert_eq!(r.status, 400, "{path}");
        assert_eq!(r.body, too_large(Some("t_category")), "{path}");
    }
    // The cross-object batch's schema holds at most as many operations.
    let r = s
        .call(
            "POST",
            "/api/v1/batch",
            json!({"operations": (0..n).map(|i| json!({"object": "t_category", "data": {"name": format!("x{i}")}})).collect::<Vec<_>>()}),
            a,
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "VALIDATION_FAILED"));
    assert_eq!(
        r.body["issues"],
        json!([{"origin": "array", "code": "too_big", "maximum": max, "inclusive": true,
            "path": ["operations"], "message": format!("Too big: expected array to have <={max} items")}])
    );
    assert_eq!(count(&s, "t_category", &admin).await, seeded);
    // At the limit, a write goes through.
    let r = s
        .call(
            "POST",
            "/api/v1/data/t_category/createMany",
            Value::Array(
                (0..max)
                    .map(|i| json!({"name": format!("ok{i}")}))
                    .collect(),
            ),
            a,
        )
        .await;
    assert_eq!((r.status, r.body["count"].clone()), (201, json!(max)));
});

on_both_servers!(batch_refs_reach_only_earlier_records, testapp(), |s| {
    let admin = admin(&s).await;
    let a = Some(admin.as_str());
    let seeded = count(&s, "t_category", &admin).await;
    // A child names its parent created earlier in the same batch.
    let r = s
        .call(
            "POST",
            "/api/v1/batch",
            json!({"operations": [
                {"object": "t_category", "action": "create", "data": {"name": "Parent"}},
                {"object": "t_item", "action": "create", "data": {"name": "child", "category": {"$ref": 0}}},
                {"object": "t_category", "action": "create", "data": {"name": "Sub", "parent": {"$ref": 0}}}]}),
            a,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let parent = r.body["results"][0]["id"].clone();
    assert_eq!(r.body["results"][1]["category"], parent);
    assert_eq!(r.body["results"][2]["parent"], parent);
    let keep = parent.as_str().unwrap().to_string();
    // Anything but the number of an earlier operation that wrote a record is refused, and the batch is undone.
    let bad: Vec<(Value, Value)> = vec![
        (json!("0"), json!([{"name": "Ghost"}])),
        (json!(-1), json!([{"name": "Ghost"}])),
        (json!(0.5), json!([{"name": "Ghost"}])),
        (json!(null), json!([{"name": "Ghost"}])),
        (json!({"$ref": 0}), json!([{"name": "Ghost"}])),
        (json!(7), json!([{"name": "Ghost"}])),
        // Itself, and a later operation.
        (json!(1), json!([{"name": "Ghost"}])),
        (json!(2), json!([{"name": "Ghost"}, {"name": "Later"}])),
    ];
    for (target, rest) in bad {
        let mut ops = vec![json!({"object": "t_category", "action": "create", "data": rest[0]})];
        ops.push(json!({"object": "t_item", "action": "create", "data": {"name": "orphan", "category": {"$ref": target}}}));
        for extra in rest.as_array().unwrap().iter().skip(1) {
            ops.push(json!({"object": "t_category", "action": "create", "data": extra}));
        }
        let r = s
            .call("POST", "/api/v1/batch", json!({"operations": ops}), a)
            .await;
        assert_eq!(r.status, 400, "$ref {target}: {:?}", r.body);
        assert_eq!(
            r.body,
            json!({"error": format!("Unresolved $ref {target} on field 'category' — must reference an earlier create in the same batch"),
                "code": "BATCH_UNRESOLVED_REF"}),
            "$ref {target}"
        );
    }
    // A delete writes no record to point at; the delete before the refusal is undone.
    let r = s
        .call(
            "POST",
            "/api/v1/batch",
            json!({"operations": [
                {"object": "t_category", "action": "delete", "id": keep},
                {"object": "t_item", "action": "create", "data": {"name": "orphan", "category": {"$ref": 0}}}]}),
            a,
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "BATCH_UNRESOLVED_REF"));
    record(&s, "t_category", &keep, &admin).await;
    assert_eq!(count(&s, "t_category", &admin).await, seeded + 2);
    assert_eq!(count(&s, "t_item", &admin).await, 1);
    // `$ref` belongs to the cross-object batch only: elsewhere it is a value like any other (and not a record id).
    let r = s
        .call(
            "POST",
            "/api/v1/data/t_item/createMany",
            json!([{"name": "plain", "category": {"$ref": 0}}]),
            a,
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(count(&s, "t_item", &admin).await, 1);
});

/// The `issues` of a cross-object batch the schema refuses.
async fn issues(s: &Server, a: Option<&str>, body: Value) -> Value {
    let r = s.call("POST", "/api/v1/batch", body, a).await;
    assert_eq!(
        (r.status, r.body["error"].clone(), r.code()),
        (400, json!("Invalid batch request"), "VALIDATION_FAILED"),
        "{:?}",
        r.body
    );
    r.body["issues"].clone()
}

/// The headline and `fields` of a per-object multi-record write the schema refuses.
async fn refused(s: &Server, a: Option<&str>, path: &str, body: Value) -> (Value, Value) {
    let r = s.call("POST", path, body, a).await;
    assert_eq!(
        (r.status, r.code()),
        (400, "VALIDATION_FAILED"),
        "{path}: {:?}",
        r.body
    );
    assert_eq!(r.body["object"], "t_category");
    (r.body["error"].clone(), r.body["fields"].clone())
}

on_both_servers!(malformed_bulk_requests_are_refused_whole, testapp(), |s| {
    let admin = admin(&s).await;
    let a = Some(admin.as_str());
    let seeded = count(&s, "t_category", &admin).await;
    assert_eq!(
        issues(&s, a, json!({"operations": [{"object": "t_category", "action": "upsert", "data": {"name": "U"}}]})).await,
        json!([{"code": "invalid_value", "values": ["create", "update", "delete"], "path": ["operations", 0, "action"],
            "message": "Invalid option: expected one of \"create\"|\"update\"|\"delete\""}])
    );
    assert_eq!(
        issues(&s, a, json!({"operations": [{"action": "create", "data": []}, {"object": ""}], "atomic": "yes"})).await,
        json!([
            {"expected": "string", "code": "invalid_type", "path": ["operations", 0, "object"],
                "message": "Invalid input: expected string, received undefined"},
            {"expected": "record", "code": "invalid_type", "path": ["operations", 0, "data"],
                "message": "Invalid input: expected record, received array"},
            {"origin": "string", "code": "too_small", "minimum": 1, "inclusive": true, "path": ["operations", 1, "object"],
                "message": "Too small: expected string to have >=1 characters"},
            {"expected": "boolean", "code": "invalid_type", "path": ["atomic"],
                "message": "Invalid input: expected boolean, received string"}])
    );
    assert_eq!(
        issues(&s, a, json!([])).await,
        json!([{"expected": "object", "code": "invalid_type", "path": [],
            "message": "Invalid input: expected object, received array"}])
    );
    assert_eq!(
        issues(
            &s,
            a,
            json!({"operations": {"0": {"object": "t_category"}}})
        )
        .await[0]["path"],
        json!(["operations"])
    );
    let r = s
        .call(
            "POST",
            "/api/v1/batch",
            json!({"operations": [{"object": "t_category", "action": "update", "data": {"rank": 1}}]}),
            a,
        )
        .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            400,
            json!({"error": "Operation 'update' on 't_category' requires an id", "code": "VALIDATION_FAILED"})
        )
    );
    let r = s
        .call(
            "POST",
            "/api/v1/batch",
            json!({"operations": [{"object": "t_category", "data": {"name": "N"}}], "atomic": false}),
            a,
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "BATCH_NOT_ATOMIC"));
    let r = s
        .call("POST", "/api/v1/batch", json!({"operations": []}), a)
        .await;
    assert_eq!((r.status, r.body.clone()), (200, json!({"results": []})));
    // The per-object routes name the refused fields.
    assert_eq!(
        refused(
            &s,
            a,
            "/api/v1/data/t_category/batch",
            json!({"operation": "merge", "records": []})
        )
        .await,
        (
            json!("Invalid batch request"),
            json!([{"field": "operation", "code": "invalid_option",
                "message": "Invalid option: expected one of \"create\"|\"update\"|\"upsert\"|\"delete\""}])
        )
    );
    assert_eq!(
        refused(
            &s,
            a,
            "/api/v1/data/t_category/updateMany",
            json!({"records": [{"data": {"rank": 1}}]})
        )
        .await,
        (
            json!("Invalid updateMany request"),
            json!([{"field": "records.0.id", "code": "required",
                "message": "Invalid input: expected string, received undefined"}])
        )
    );
    assert_eq!(
        refused(
            &s,
            a,
            "/api/v1/data/t_category/deleteMany",
            json!({"ids": ["a", 1], "options": {"atomic": 1}})
        )
        .await,
        (
            json!("Invalid deleteMany request"),
            json!([
                {"field": "ids.1", "code": "invalid_type", "message": "Invalid input: expected string, received number"},
                {"field": "options.atomic", "code": "invalid_type", "message": "Invalid input: expected boolean, received number"}])
        )
    );
    assert_eq!(
        refused(
            &s,
            a,
            "/api/v1/data/t_category/createMany",
            json!([{"name": "ok"}, "no"])
        )
        .await,
        (
            json!("Invalid createMany request — the body must be a JSON array of record objects"),
            json!([{"field": "records.1", "code": "invalid_type", "message": "Invalid input: expected record, received string"}])
        )
    );
    // An update row without an id fails alone (it is a row's failure, not the request's).
    let r = s
        .call(
            "POST",
            "/api/v1/data/t_category/batch",
            json!({"operation": "update", "records": [{"data": {"rank": 1}}]}),
            a,
        )
        .await;
    assert_eq!(
        r.body["results"][0],
        json!({"success": false, "index": 0, "errors": [{"code": "VALIDATION_FAILED",
            "message": "Record id is required for update", "httpStatus": 400}]})
    );
    assert_eq!(count(&s, "t_category", &admin).await, seeded);
});

on_both_servers!(atomic_runs_leave_nothing_half_written, testapp(), |s| {
    let admin = admin(&s).await;
    let a = Some(admin.as_str());
    let seeded = count(&s, "t_category", &admin).await;
    let x = create(&s, "t_category", json!({"name": "X", "rank": 1}), &admin).await;
    let y = create(&s, "t_category", json!({"name": "Y", "rank": 1}), &admin).await;
    // A per-object atomic create: the failure at 2 undoes 0 and 1.
    let r = s
        .call(
            "POST",
            "/api/v1/data/t_category/batch",
            json!({"operation": "create", "options": {"atomic": true},
                "records": [{"data": {"name": "A1"}}, {"data": {"name": "A2"}}, {"data": {"rank": 3}}, {"data": {"name": "A4"}}]}),
            a,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (
            r.body["succeeded"].clone(),
            r.body["failed"].clone(),
            r.body["success"].clone()
        ),
        (json!(0), json!(4), json!(false))
    );
    let codes: Vec<Value> = (0..4)
        .map(|i| r.body["results"][i]["errors"][0]["code"].clone())
        .collect();
    assert_eq!(
        codes,
        vec![
            json!("ROLLED_BACK"),
            json!("ROLLED_BACK"),
            json!("VALIDATION_FAILED"),
            json!("NOT_ATTEMPTED")
        ]
    );
    assert_eq!(
        r.body["results"][0]["errors"][0]["message"],
        "record 2 failed — Name is required"
    );
    assert_eq!(
        r.body["results"][3]["errors"][0]["message"],
        "atomic batch aborted by record 2"
    );
    assert_eq!(count(&s, "t_category", &admin).await, seeded + 2);
    // Atomic updateMany and deleteMany: the earlier records are as they were.
    let r = s
        .call(
            "POST",
            "/api/v1/data/t_category/updateMany",
            json!({"records": [{"id": x, "data": {"rank": 5}}, {"id": y, "data": {"name": "X"}}], "options": {"atomic": true, "continueOnError": true}}),
            a,
        )
        .await;
    assert_eq!(r.body["results"][0]["errors"][0]["code"], "ROLLED_BACK");
    assert_eq!(r.body["results"][0]["id"], json!(x));
    assert_eq!(record(&s, "t_category", &x, &admin).await["rank"], json!(1));
    let r = s
        .call(
            "POST",
            "/api/v1/data/t_category/deleteMany",
            json!({"ids": [x, "missing", y], "options": {"atomic": true}}),
            a,
        )
        .await;
    assert_eq!(
        r.body["results"],
        json!([
            {"id": x, "success": false, "index": 0, "errors": [{"code": "ROLLED_BACK",
                "message": "record 1 failed — Record missing not found in t_category"}]},
            {"id": "missing", "success": false, "index": 1, "errors": [{"code": "RECORD_NOT_FOUND",
                "message": "Record missing not found in t_category", "httpStatus": 404}]},
            {"id": y, "success": false, "index": 2, "errors": [{"code": "NOT_ATTEMPTED",
                "message": "atomic batch aborted by record 1"}]}])
    );
    assert_eq!(count(&s, "t_category", &admin).await, seeded + 2);
    // createMany and the cross-object batch answer the failing record's own error, and write nothing.
    let r = s
        .call(
            "POST",
            "/api/v1/data/t_category/createMany",
            json!([{"name": "M1"}, {"name": "M2"}, {"rank": 1}]),
            a,
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["fields"][0]["field"], "name");
    assert_eq!(r.body["error"], "Name is required");
    let r = s
        .call(
            "POST",
            "/api/v1/batch",
            json!({"operations": [
                {"object": "t_category", "action": "update", "id": x, "data": {"rank": 7}},
                {"object": "t_item", "action": "create", "data": {"name": "I1"}},
                {"object": "t_category", "action": "delete", "id": y},
                {"object": "t_item", "action": "create", "data": {"name": "I2", "qty": -1}}]}),
            a,
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["fields"][0]["field"], "qty");
    assert!(r.body.get("object").is_none(), "{:?}", r.body);
    assert_eq!(record(&s, "t_category", &x, &admin).await["rank"], json!(1));
    record(&s, "t_category", &y, &admin).await;
    assert_eq!(count(&s, "t_category", &admin).await, seeded + 2);
    assert_eq!(count(&s, "t_item", &admin).await, 0);
    // Without atomic, the run stops at the failure and keeps what came before.
    let r = s
        .call(
            "POST",
            "/api/v1/data/t_category/updateMany",
            json!({"records": [{"id": x, "data": {"rank": 5}}, {"id": y, "data": {"name": "X"}}, {"id": y, "data": {"rank": 6}}]}),
            a,
        )
        .await;
    assert_eq!(
        r.body["results"][2]["errors"][0]["code"], "NOT_ATTEMPTED",
        "{:?}",
        r.body
    );
    assert_eq!(record(&s, "t_category", &x, &admin).await["rank"], json!(5));
    assert_eq!(record(&s, "t_category", &y, &admin).await["rank"], json!(1));
});
