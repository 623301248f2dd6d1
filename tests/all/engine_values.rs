//! Coercion and validation of every field type, with the real server's error codes and shapes.

use crate::on_all_drivers;
use crate::support::{K, id_of, wire};
use serde_json::{Value, json};

/// The first field error of a refused create, as wire JSON.
async fn refusal(k: &K<'_>, record: Value) -> Value {
    let e = k
        .create("t_item", record.clone())
        .await
        .expect_err(&format!("{record} must be refused"));
    assert_eq!(
        objectos_host::http::errors::status_of(e.kind()),
        400,
        "{record}: {e}"
    );
    let w = e.to_wire();
    match w.get("fields") {
        Some(fields) => fields[0].clone(),
        None => w,
    }
}

on_all_drivers!(coercion_round_trips, |k| {
    let r = k
        .ok(
            "t_item",
            json!({"name": "zoo", "qty": "42", "price": "19.99", "rate": 33.33, "active": "true", "due": "2026-05-04T10:00:00Z",
                "at": "2026-05-04 10:11:12", "starts": "09:30", "status": "closed", "tags": ["red", "blue"], "email": "z@example.com",
                "site": "https://example.com/x", "notes": 123, "meta": {"a": [1, 2, {"b": null}]}, "rating": 4, "keywords": ["x", "y"],
                "embedding": [0.1, 0.2, 0.3]}),
        )
        .await;
    let stored = k.get("t_item", &id_of(&r)).await.unwrap();
    let expected = json!({"qty": 42, "price": 19.99, "rate": 33.33, "active": true, "due": "2026-05-04", "at": "2026-05-04T10:11:12.000Z",
        "starts": "09:30:00", "status": "closed", "tags": ["red", "blue"], "email": "z@example.com", "site": "https://example.com/x",
        "notes": "123", "meta": {"a": [1, 2, {"b": null}]}, "rating": 4, "keywords": ["x", "y"], "embedding": [0.1, 0.2, 0.3],
        "code": "IT-0001", "color": "#000000"});
    for (key, want) in expected.as_object().unwrap() {
        assert_eq!(&stored[key], want, "{key}");
        assert_eq!(&r[key], want, "create response {key}");
    }
    // A length-bounded text (name: maxLength 20) takes whole numbers as their digits, however spelled, and
    // refuses a fraction (its text would depend on float formatting); lists are bounded in items and item size.
    let r = k.ok("t_item", json!({"name": 1234567.0})).await;
    assert_eq!(r["name"], json!("1234567"));
    for (record, code) in [
        (json!({"name": 12.5}), "invalid_type"),
        (json!({"name": 1e18}), "invalid_type"),
        (
            json!({"name": "n1", "keywords": vec!["k"; 1001]}),
            "too_many_items",
        ),
        (
            json!({"name": "n2", "keywords": ["x".repeat(4097)]}),
            "max_length",
        ),
    ] {
        let e = k.create("t_item", record.clone()).await.unwrap_err();
        assert_eq!(wire(&e)["fields"][0]["code"], code, "{record}: {e}");
    }
    // Formula fields (CEL over the record) are computed on read, also when selected alone.
    assert_eq!(stored["score"], json!(84));
    let only = k
        .find(
            "t_item",
            json!({"fields": ["score"], "where": {"name": "zoo"}}),
        )
        .await;
    assert_eq!(Value::Object(only[0].clone()), json!({"score": 84}));
    // Epoch milliseconds are a datetime too; defaults apply (select option default, literal default).
    let r = k.ok("t_item", json!({"name": "epoch", "at": 0})).await;
    assert_eq!(
        (r["at"].clone(), r["status"].clone(), r["color"].clone()),
        (
            json!("1970-01-01T00:00:00.000Z"),
            json!("open"),
            json!("#000000")
        )
    );
    // Autonumber counts per field (the number-named item above took IT-0002).
    assert_eq!(r["code"], "IT-0003");
    // A whole number written as a float is the same instant; years past 9999 (or before 1) are not dates.
    let r = k
        .ok(
            "t_item",
            json!({"name": "epoch-float", "at": 86_400_000.0, "due": 0.0}),
        )
        .await;
    assert_eq!(
        (r["at"].clone(), r["due"].clone()),
        (json!("1970-01-02T00:00:00.000Z"), json!("1970-01-01"))
    );
    for at in [
        json!(253_402_300_800_000i64),
        json!(-62_135_596_800_001i64),
        json!(1.5),
    ] {
        let f = refusal(&k, json!({"name": "epoch-far", "at": at})).await;
        assert_eq!(
            (f["field"].as_str(), f["code"].as_str()),
            (Some("at"), Some("invalid_date")),
            "{at}: {f}"
        );
    }
    // A JSON field holding a bare number or a numeric text reads back as written (SQLite gives a column declared
    // JSON numeric affinity, so the number comes back as an INTEGER or a REAL, not as its text).
    for (i, meta) in [json!(0), json!(12.5), json!(-7), json!("3"), json!(true)]
        .into_iter()
        .enumerate()
    {
        let r = k
            .ok("t_item", json!({"name": format!("json-{i}"), "meta": meta}))
            .await;
        let stored = k.get("t_item", &id_of(&r)).await.unwrap();
        assert_eq!(stored["meta"], meta, "{meta}");
        let found = k
            .find(
                "t_item",
                json!({"where": {"id": id_of(&r)}, "fields": ["meta"]}),
            )
            .await;
        assert_eq!(found[0]["meta"], meta, "{meta}");
    }
    // The formula field is computed on read and on write results: record.qty * 2 (qty is null here).
    assert_eq!(r["score"], Value::Null);
});

on_all_drivers!(error_codes, |k| {
    let cases: Vec<(Value, &str, &str, Value)> = vec![
        (json!({}), "name", "required", json!(null)),
        (json!({"name": "   "}), "name", "required", json!(null)),
        (
            json!({"name": "x".repeat(21)}),
            "name",
            "max_length",
            json!({"maxLength": 20, "actual": 21}),
        ),
        (
            json!({"name": "n", "notes": "ab"}),
            "notes",
            "min_length",
            json!({"minLength": 3, "actual": 2}),
        ),
        (
            json!({"name": "n", "qty": -1}),
            "qty",
            "min_value",
            json!({"min": 0}),
        ),
        (
            json!({"name": "n", "qty": 1001}),
            "qty",
            "max_value",
            json!({"max": 1000}),
        ),
        (
            json!({"name": "n", "qty": "many"}),
            "qty",
            "invalid_number",
            json!(null),
        ),
        (
            json!({"name": "n", "price": [1]}),
            "price",
            "invalid_number",
            json!(null),
        ),
        (
            json!({"name": "n", "active": "maybe"}),
            "active",
            "invalid_boolean",
            json!(null),
        ),
        (
            json!({"name": "n", "due": "yesterday-ish"}),
            "due",
            "invalid_date",
            json!({"type": "date"}),
        ),
        (
            json!({"name": "n", "due": "2026-02-30"}),
            "due",
            "invalid_date",
            json!({"type": "date"}),
        ),
        (
            json!({"name": "n", "at": "noon"}),
            "at",
            "invalid_date",
            json!({"type": "datetime"}),
        ),
        (
            json!({"name": "n", "starts": "25:99"}),
            "starts",
            "invalid_time",
            json!(null),
        ),
        (
            json!({"name": "n", "status": "paid"}),
            "status",
            "invalid_option",
            json!({"allowed": "open, closed, archived"}),
        ),
        (
            json!({"name": "n", "tags": ["red", "pink"]}),
            "tags",
            "invalid_option",
            json!({"allowed": "red, green, blue"}),
        ),
        (
            json!({"name": "n", "email": "not-an-email"}),
            "email",
            "invalid_email",
            json!(null),
        ),
        (
            json!({"name": "n", "site": "not a url"}),
            "site",
            "invalid_url",
            json!(null),
        ),
        (
            json!({"name": "n", "category": "no-such-category"}),
            "category",
            "reference_not_found",
            json!({"target": "t_category"}),
        ),
        (
            json!({"name": "n", "embedding": ["a"]}),
            "embedding",
            "invalid_type",
            json!({"type": "vector", "detail": "Invalid input: expected number, received string"}),
        ),
        (
            json!({"name": "n", "keywords": {"a": 1}}),
            "keywords",
            "invalid_type",
            json!(null),
        ),
        (
            json!({"name": "n", "price": 1.234}),
            "price",
            "max_scale",
            json!({"scale": 2, "actual": 3}),
        ),
        (
            json!({"name": "n", "rate": "0.125"}),
            "rate",
            "max_scale",
            json!({"scale": 2, "actual": 3}),
        ),
    ];
    for (record, field, code, constraint) in cases {
        let f = refusal(&k, record.clone()).await;
        assert_eq!(f["field"], field, "{record}: {f}");
        assert_eq!(f["code"], code, "{record}: {f}");
        if !constraint.is_null() {
            assert_eq!(f["constraint"], constraint, "{record}: {f}");
        }
        assert!(
            f["message"]
                .as_str()
                .unwrap()
                .starts_with(f["label"].as_str().unwrap()),
            "{f}"
        );
    }
    // The wire envelope, exactly as the real server writes it.
    let e = k
        .create("t_item", json!({"status": "paid"}))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_wire(),
        json!({"error": "Name is required; Status must be one of: open, closed, archived", "code": "VALIDATION_FAILED", "fields": [
            {"field": "name", "code": "required", "message": "Name is required", "label": "Name"},
            {"field": "status", "code": "invalid_option", "message": "Status must be one of: open, closed, archived", "label": "Status",
             "constraint": {"allowed": "open, closed, archived"}, "options": ["open", "closed", "archived"]}
        ], "object": "t_item"})
    );
    let e = k
        .create("t_item", json!({"name": "n", "category": "nope"}))
        .await
        .unwrap_err();
    assert_eq!(e.to_wire()["fields"][0]["value"], "nope");
    assert_eq!(
        e.to_wire()["fields"][0]["message"],
        "Category: no t_category record has id \"nope\""
    );
    // Unknown and computed fields are INVALID_FIELD, naming the field.
    let e = k
        .create("t_item", json!({"name": "n", "nosuchfield": 1}))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_wire(),
        json!({"error": "Unknown field 'nosuchfield' on object 't_item'", "code": "INVALID_FIELD", "field": "nosuchfield", "object": "t_item"})
    );
    for computed in ["score", "code"] {
        let e = k
            .create("t_item", json!({"name": "n", computed: 1}))
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), e.to_wire()["field"].clone()),
            ("INVALID_FIELD", json!(computed))
        );
        assert!(e.to_string().contains("computed"), "{e}");
    }
    // Nothing was written by any refused create.
    assert!(k.find("t_item", json!({})).await.is_empty());
});

on_all_drivers!(update_validation, |k| {
    let r = k.ok("t_item", json!({"name": "upd", "qty": 1})).await;
    let id = id_of(&r);
    let e = k
        .update("t_item", &id, json!({"name": ""}), None)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_wire()["fields"][0],
        json!({"field": "name", "code": "required", "message": "Name is required and cannot be cleared", "label": "Name"})
    );
    let e = k
        .update("t_item", &id, json!({"status": "paid"}), None)
        .await
        .unwrap_err();
    assert_eq!(e.to_wire()["fields"][0]["code"], "invalid_option");
    let e = k
        .update("t_item", &id, json!({"bogus": 1}), None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "INVALID_FIELD");
    let e = k
        .update("t_item", "missing-id", json!({"qty": 2}), None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "RECORD_NOT_FOUND");
    // A valid patch changes only what it names and moves updated_at; system fields sent by a caller are ignored.
    let u = k
        .update(
            "t_item",
            &id,
            json!({"qty": 7, "created_by": "mallory", "id": "other"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (
            u["qty"].clone(),
            u["name"].clone(),
            u["created_by"].clone(),
            u["id"].clone()
        ),
        (
            json!(7),
            json!("upd"),
            json!("user_alice"),
            json!(id.clone())
        )
    );
    assert_ne!(u["updated_at"], r["updated_at"]);
    assert_eq!(k.get("t_item", &id).await.unwrap()["qty"], json!(7));
    // Clearing an optional field stores null.
    let u = k
        .update("t_item", &id, json!({"qty": null}), None)
        .await
        .unwrap();
    assert_eq!(u["qty"], Value::Null);
});

on_all_drivers!(system_fields_and_ids, |k| {
    let r = k.ok("t_item", json!({"name": "sys", "created_by": "mallory", "organization_id": "org_evil", "created_at": "1999-01-01"})).await;
    assert_eq!(r["created_by"], "user_alice");
    assert_eq!(r["updated_by"], "user_alice");
    assert_eq!(r["owner_id"], "user_alice");
    assert_eq!(r["organization_id"], "org_one");
    assert_ne!(r["created_at"], "1999-01-01");
    let id = id_of(&r);
    assert_eq!(id.len(), 16);
    // A client-supplied id is kept; a malformed one is refused.
    let r = k.ok("t_item", json!({"id": "myid", "name": "mine"})).await;
    assert_eq!(r["id"], "myid");
    let e = k
        .create("t_item", json!({"id": "bad id!", "name": "x"}))
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), e.to_wire()["field"].clone()),
        ("INVALID_FIELD", json!("id"))
    );
    // Objects with org/none ownership have no owner columns.
    let r = k.ok("t_org_unique", json!({"code": "A"})).await;
    assert!(r.get("owner_id").is_none());
});

/// The first field error of a refused `t_shape` create.
async fn shape_refusal(k: &K<'_>, record: Value) -> Value {
    let e = k
        .create("t_shape", record.clone())
        .await
        .expect_err(&format!("{record} must be refused"));
    assert_eq!(
        objectos_host::http::errors::status_of(e.kind()),
        400,
        "{record}: {e}"
    );
    e.to_wire()["fields"][0].clone()
}

on_all_drivers!(value_messages_as_the_real_server_words_them, |k| {
    // Decimal scale: refused with the digits counted, never rounded away.
    let f = refusal(&k, json!({"name": "n", "price": 1.234})).await;
    assert_eq!(
        f,
        json!({"field": "price", "code": "max_scale", "message": "Price must have at most 2 decimal places (got 3)",
            "label": "Price", "constraint": {"scale": 2, "actual": 3}})
    );
    let f = shape_refusal(&k, json!({"weight": 1.5})).await;
    assert_eq!(
        f["message"],
        "Weight must have at most 0 decimal places (got 1)"
    );
    // Option lists name the offending item.
    let f = refusal(&k, json!({"name": "n", "tags": ["red", "pink"]})).await;
    assert_eq!(
        f,
        json!({"field": "tags", "code": "invalid_option", "message": "Tags: \"pink\" is not one of: red, green, blue",
            "label": "Tags", "constraint": {"allowed": "red, green, blue"}, "value": "pink", "options": ["red", "green", "blue"]})
    );
    let f = refusal(&k, json!({"name": "n", "tags": {"red": true}})).await;
    assert_eq!(
        (f["code"].clone(), f["message"].clone()),
        (
            json!("invalid_type"),
            json!("Tags must be an array of values")
        )
    );
    // Formats.
    let f = refusal(&k, json!({"name": "n", "at": "yesterday"})).await;
    assert_eq!(f["message"], "At must be a valid datetime (ISO-8601)");
    let f = refusal(&k, json!({"name": "n", "site": "www.x.test"})).await;
    assert_eq!(f["message"], "Site must be a valid URL (scheme://...)");
    let f = refusal(&k, json!({"name": "n", "site": "mailto:a@x.test"})).await;
    assert_eq!(f["code"], "invalid_url");
    let f = shape_refusal(&k, json!({"phone": "call me"})).await;
    assert_eq!(
        f,
        json!({"field": "phone", "code": "invalid_phone", "message": "Phone must be a valid phone number", "label": "Phone"})
    );
    let f = refusal(&k, json!({"name": "n", "embedding": [1, "a"]})).await;
    assert_eq!(
        f,
        json!({"field": "embedding", "code": "invalid_type",
            "message": "Embedding has an invalid vector value: Invalid input: expected number, received string",
            "label": "Embedding", "constraint": {"type": "vector", "detail": "Invalid input: expected number, received string"}})
    );
    // Structured shapes: `<Label> has an invalid <type> value: <detail>`, with {type, detail}.
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"spot": {"lat": 200, "lng": 0}}),
            "location",
            "Too big: expected number to be <=90",
        ),
        (
            json!({"spot": {"lat": 0, "lng": -200}}),
            "location",
            "Too small: expected number to be >=-180",
        ),
        (
            json!({"spot": {"lat": 1}}),
            "location",
            "Invalid input: expected number, received undefined",
        ),
        (
            json!({"spot": "48.8,2.3"}),
            "location",
            "Invalid input: expected object, received string",
        ),
        (
            json!({"office": {"city": 7}}),
            "address",
            "Invalid input: expected string, received number",
        ),
        (
            json!({"doc": "https://x.test/d.pdf"}),
            "file",
            "Expected an opaque sys_file id",
        ),
        (
            json!({"doc": {"url": "https://x.test/d.pdf"}}),
            "file",
            "Invalid input: expected string, received object",
        ),
        (
            json!({"logo": "a/b.png"}),
            "avatar",
            "Expected an opaque sys_file id",
        ),
        (
            json!({"size": [1, 2]}),
            "composite",
            "Invalid input: expected record, received array",
        ),
        (
            json!({"rows": {"a": 1}}),
            "repeater",
            "Invalid input: expected array, received object",
        ),
        (
            json!({"rows": [{"a": 1}, 2]}),
            "repeater",
            "Invalid input: expected record, received number",
        ),
    ];
    for (record, kind, detail) in cases {
        let f = shape_refusal(&k, record.clone()).await;
        let label = f["label"].as_str().unwrap().to_string();
        assert_eq!(f["code"], "invalid_type", "{record}");
        assert_eq!(
            f["message"],
            json!(format!("{label} has an invalid {kind} value: {detail}")),
            "{record}"
        );
        assert_eq!(
            f["constraint"],
            json!({"type": kind, "detail": detail}),
            "{record}"
        );
    }
    // Unknown keys of a closed shape are named, with the key meant.
    let f = shape_refusal(&k, json!({"office": {"zip": "75001"}})).await;
    let detail = f["constraint"]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with(
            "Unrecognized key(s) on this address value: `zip`. Did you mean `zip` → `postalCode`? Until this shape was closed"
        ),
        "{detail}"
    );
    let f = shape_refusal(&k, json!({"spot": {"latitude": 1, "longitude": 2}})).await;
    assert!(
        f["message"].as_str().unwrap().starts_with(
            "Spot has an invalid location value: Unrecognized key(s) on this location value: `latitude`, `longitude`. \
             Did you mean `latitude` → `lat`, `longitude` → `lng`?"
        ),
        "{f}"
    );
    // Nothing was written by any refused create.
    assert!(k.find("t_shape", json!({})).await.is_empty());
});

on_all_drivers!(values_the_real_server_lets_through, |k| {
    let r = k
        .ok(
            "t_shape",
            json!({"name": "ok", "spot": {"lat": -90, "lng": 180, "altitude": 35}, "office": {"city": "Paris", "postalCode": "75001"},
                "doc": "giFKPYAK2GC9J-L-", "photos": "f_1", "logo": "L0g0_id", "size": {"w": 2}, "rows": [{"a": 1}], "phone": "+33 (1) 23-45.67",
                "layout": {"aisles": 3}, "done": 101, "labels": "a,b"}),
        )
        .await;
    let stored = k.get("t_shape", &id_of(&r)).await.unwrap();
    let expected = json!({"spot": {"lat": -90, "lng": 180, "altitude": 35}, "office": {"city": "Paris", "postalCode": "75001"},
        "doc": "giFKPYAK2GC9J-L-", "photos": ["f_1"], "logo": "L0g0_id", "size": {"w": 2}, "rows": [{"a": 1}],
        "phone": "+33 (1) 23-45.67", "layout": "{\"aisles\":3}", "done": 101, "labels": ["a,b"]});
    for (key, want) in expected.as_object().unwrap() {
        assert_eq!(&stored[key], want, "{key}");
        assert_eq!(&r[key], want, "create response {key}");
    }
    // A progress value is still a number; a code payload still has its length limit.
    let f = shape_refusal(&k, json!({"done": "most"})).await;
    assert_eq!(f["code"], "invalid_number");
    let f = shape_refusal(&k, json!({"layout": {"aisles": 3, "racks": 12}})).await;
    assert_eq!(
        (f["code"].clone(), f["constraint"].clone()),
        (json!("max_length"), json!({"maxLength": 20, "actual": 23}))
    );
    // A lone option is a list of one; ftp URLs and relative paths are URLs.
    let r = k
        .ok(
            "t_item",
            json!({"name": "lone", "tags": "red", "site": "ftp://files.x.test"}),
        )
        .await;
    assert_eq!(
        (r["tags"].clone(), r["site"].clone()),
        (json!(["red"]), json!("ftp://files.x.test"))
    );
    let u = k
        .update(
            "t_item",
            &id_of(&r),
            json!({"site": "/docs/a", "price": "12.50"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (u["site"].clone(), u["price"].clone()),
        (json!("/docs/a"), json!(12.5))
    );
    // The same checks hold on update.
    let e = k
        .update("t_item", &id_of(&r), json!({"price": 0.001}), None)
        .await
        .unwrap_err();
    assert_eq!(e.to_wire()["fields"][0]["code"], "max_scale");
});
