//! Sort, pagination, projection, expand, search and aggregations — on SQLite and PostgreSQL.

use crate::engine_filters::seed_items;
use crate::on_all_drivers;
use crate::support::id_of;
use serde_json::{Value, json};

fn col(records: &[objectos_host::data::Record], key: &str) -> Vec<Value> {
    records
        .iter()
        .map(|r| r.get(key).cloned().unwrap_or(Value::Null))
        .collect()
}

on_all_drivers!(sort_every_spelling, |k| {
    seed_items(&k).await;
    let by = |sort: Value| {
        let k = &k;
        async move { col(&k.find("t_item", json!({"orderBy": sort})).await, "name") }
    };
    let asc = json!(["Gamma", "alpha", "beta", "delta_1"]);
    assert_eq!(
        Value::from(by(json!("qty")).await),
        json!(["Gamma", "alpha", "beta", "delta_1"])
    );
    assert_eq!(
        Value::from(by(json!("-qty")).await),
        json!(["delta_1", "beta", "alpha", "Gamma"])
    );
    assert_eq!(
        Value::from(by(json!("qty desc")).await),
        json!(["delta_1", "beta", "alpha", "Gamma"])
    );
    assert_eq!(
        Value::from(by(json!([{"field": "qty", "order": "asc"}])).await),
        asc
    );
    assert_eq!(
        Value::from(by(json!("[{\"field\":\"qty\",\"order\":\"desc\"}]")).await),
        json!(["delta_1", "beta", "alpha", "Gamma"])
    );
    // Two keys: status asc, then qty desc.
    assert_eq!(
        Value::from(by(json!("status,-qty")).await),
        json!(["Gamma", "beta", "delta_1", "alpha"])
    );
    assert_eq!(
        Value::from(by(json!({"status": "asc", "qty": "desc"})).await),
        json!(["Gamma", "beta", "delta_1", "alpha"])
    );
    // NULLs sort first ascending on both dialects.
    assert_eq!(
        col(&k.find("t_item", json!({"sort": "price"})).await, "name")[0],
        json!("Gamma")
    );
    // Aliases of the key.
    assert_eq!(
        col(
            &k.find("t_item", json!({"sort": "-qty", "limit": 1})).await,
            "name"
        ),
        [json!("delta_1")]
    );
});

on_all_drivers!(sort_errors, |k| {
    seed_items(&k).await;
    let e = k
        .query("t_item", json!({"orderBy": "nosuch"}))
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), objectos_host::http::errors::status_of(e.kind())),
        ("INVALID_SORT", 400)
    );
    assert!(
        e.to_string()
            .contains("sorts by 'nosuch', which is not a field on object 't_item'"),
        "{e}"
    );
    let e = k
        .query("t_item", json!({"orderBy": "score"}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "INVALID_SORT");
    let e = k
        .query(
            "t_item",
            json!({"orderBy": [{"field": "qty", "direction": "desc"}]}),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("'order'"), "{e}");
    let e = k
        .query(
            "t_item",
            json!({"orderBy": [{"field": "qty", "order": "sideways"}]}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "INVALID_SORT");
});

on_all_drivers!(pagination, |k| {
    seed_items(&k).await;
    let (page, total, more) = k
        .query("t_item", json!({"orderBy": "qty", "limit": 2}))
        .await
        .unwrap();
    assert_eq!(
        (col(&page, "name"), total, more),
        (vec![json!("Gamma"), json!("alpha")], Some(4), true)
    );
    let (page, total, more) = k
        .query("t_item", json!({"orderBy": "qty", "limit": 2, "offset": 2}))
        .await
        .unwrap();
    assert_eq!(
        (col(&page, "name"), total, more),
        (vec![json!("beta"), json!("delta_1")], Some(4), false)
    );
    let (page, total, more) = k
        .query("t_item", json!({"orderBy": "qty", "top": 3, "skip": 3}))
        .await
        .unwrap();
    assert_eq!((page.len(), total, more), (1, Some(4), false));
    let (page, _, _) = k
        .query("t_item", json!({"orderBy": "qty", "offset": 3}))
        .await
        .unwrap();
    assert_eq!(col(&page, "name"), [json!("delta_1")]);
    // count=false drops total; hasMore then means "the page is full".
    let (page, total, more) = k
        .query("t_item", json!({"limit": 2, "count": false}))
        .await
        .unwrap();
    assert_eq!((page.len(), total, more), (2, None, true));
    // A filter reduces the total.
    let (_, total, more) = k
        .query("t_item", json!({"where": {"status": "open"}, "limit": 1}))
        .await
        .unwrap();
    assert_eq!((total, more), (Some(2), true));
    for bad in [
        json!({"limit": -1}),
        json!({"limit": "abc"}),
        json!({"offset": 1.5}),
    ] {
        let e = k.query("t_item", bad.clone()).await.unwrap_err();
        assert_eq!(e.code(), "INVALID_QUERY", "{bad}");
    }
    let e = k
        .query("t_item", json!({"limit": 1, "top": 2}))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("conflicting"), "{e}");
    let e = k.query("t_item", json!({"pageSize": 1})).await.unwrap_err();
    assert_eq!(e.code(), "INVALID_QUERY");
    let e = k.query("t_item", json!({"cursor": "x"})).await.unwrap_err();
    assert!(e.to_string().contains("retired"), "{e}");
});

on_all_drivers!(projection, |k| {
    seed_items(&k).await;
    let rows = k
        .find(
            "t_item",
            json!({"fields": ["name", "qty"], "orderBy": "qty", "limit": 1}),
        )
        .await;
    assert_eq!(
        Value::Object(rows[0].clone()),
        json!({"name": "Gamma", "qty": 0})
    );
    let rows = k
        .find(
            "t_item",
            json!({"select": "qty,name", "where": {"name": "alpha"}}),
        )
        .await;
    assert_eq!(rows[0].keys().collect::<Vec<_>>(), ["qty", "name"]);
    let e = k
        .query("t_item", json!({"fields": ["name", "nope"]}))
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), e.to_wire()["field"].clone()),
        ("INVALID_FIELD", json!("nope"))
    );
    // Every stored field (system ones first) when nothing is selected; money keeps its scale.
    let all = k.find("t_item", json!({"where": {"name": "beta"}})).await;
    let keys: Vec<&String> = all[0].keys().collect();
    assert_eq!(
        &keys[..8],
        [
            "id",
            "created_at",
            "updated_at",
            "organization_id",
            "created_by",
            "updated_by",
            "owner_id",
            "owning_business_unit_id"
        ]
    );
    assert_eq!(all[0]["price"], json!(99.99));
    assert_eq!(all[0]["tags"], json!(["red", "blue"]));
    assert_eq!(all[0]["at"], json!("2026-03-01T18:30:00.000Z"));
    assert_eq!(all[0]["due"], json!("2026-03-01"));
    assert_eq!(all[0]["active"], json!(false));
});

on_all_drivers!(get_by_id, |k| {
    seed_items(&k).await;
    let alpha = &k.find("t_item", json!({"where": {"name": "alpha"}})).await[0];
    let got = k.get("t_item", &id_of(alpha)).await.unwrap();
    assert_eq!(&got, alpha);
    let e = k.get("t_item", "nonexistent").await.unwrap_err();
    assert_eq!(
        (e.code(), objectos_host::http::errors::status_of(e.kind())),
        ("RECORD_NOT_FOUND", 404)
    );
    assert_eq!(e.to_string(), "Record nonexistent not found in t_item");
    let e = k.get("no_such_object", "x").await.unwrap_err();
    assert_eq!(
        (e.code(), objectos_host::http::errors::status_of(e.kind())),
        ("OBJECT_NOT_FOUND", 404)
    );
    assert_eq!(
        e.to_wire(),
        json!({"error": "Object 'no_such_object' is not registered", "code": "OBJECT_NOT_FOUND", "object": "no_such_object"})
    );
});

on_all_drivers!(expand_lookups, |k| {
    seed_items(&k).await;
    let tools = k
        .find("t_category", json!({"where": {"name": "Tools"}}))
        .await[0]
        .clone();
    let root = k.ok("t_category", json!({"name": "Root"})).await;
    k.update(
        "t_category",
        &id_of(&tools),
        json!({"parent": id_of(&root)}),
        None,
    )
    .await
    .unwrap();
    let alpha = k.find("t_item", json!({"where": {"name": "alpha"}})).await[0].clone();
    let part = k
        .ok("t_part", json!({"item": id_of(&alpha), "name": "bolt"}))
        .await;

    let rows = k
        .find(
            "t_item",
            json!({"where": {"name": "alpha"}, "expand": ["category"]}),
        )
        .await;
    assert_eq!(rows[0]["category"]["name"], "Tools");
    assert_eq!(rows[0]["category"]["id"], tools["id"]);
    // Nested expand with its own selection.
    let rows = k
        .find("t_part", json!({"fields": ["name", "item"], "expand": {"item": {"fields": ["name", "category"], "expand": {"category": {"fields": ["name", "parent"], "expand": ["parent"]}}}}}))
        .await;
    assert_eq!(
        Value::Object(rows[0].clone()),
        json!({"name": "bolt", "item": {"name": "alpha", "category": {"name": "Tools", "parent": {"name": "Root", "id": root["id"], "parent": null, "rank": null,
            "organization_id": "org_one", "created_at": root["created_at"], "created_by": "user_alice", "updated_at": root["updated_at"], "updated_by": "user_alice",
            "owner_id": "user_alice", "owning_business_unit_id": null}}}})
    );
    // A lookup whose value is null stays null; the comma-list spelling works too.
    let rows = k
        .find(
            "t_item",
            json!({"where": {"name": "beta"}, "populate": "category"}),
        )
        .await;
    assert_eq!(rows[0]["category"], Value::Null);
    // Expanding a non-lookup, an unknown field or too deep is refused.
    let e = k
        .query("t_item", json!({"expand": ["qty"]}))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("is not a relationship"), "{e}");
    let e = k
        .query("t_item", json!({"expand": ["nosuch"]}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "INVALID_FIELD");
    let e = k.query("t_subpart", json!({"expand": {"part": {"expand": {"item": {"expand": {"category": {"expand": ["parent"]}}}}}}})).await.unwrap_err();
    assert!(e.to_string().contains("deeper than"), "{e}");
    let _ = part;
});

on_all_drivers!(search, |k| {
    seed_items(&k).await;
    // `name` and `notes` are searchable; matching ignores case.
    let names = |q: Value| {
        let k = &k;
        async move {
            let mut n: Vec<Value> = col(&k.find("t_item", q).await, "name");
            n.sort_by_key(|v| v.to_string());
            n
        }
    };
    assert_eq!(
        names(json!({"search": "NOTE"})).await,
        [json!("alpha"), json!("beta")]
    );
    assert_eq!(names(json!({"search": "gam"})).await, [json!("Gamma")]);
    assert_eq!(names(json!({"search": "100%"})).await, [json!("delta_1")]);
    assert_eq!(
        names(json!({"search": "note", "searchFields": ["name"]})).await,
        Vec::<Value>::new()
    );
    assert_eq!(
        names(json!({"search": {"query": "first", "fields": ["notes"]}})).await,
        [json!("alpha")]
    );
    assert_eq!(
        names(json!({"search": "a", "where": {"status": "closed"}})).await,
        [json!("beta")]
    );
    let e = k
        .query("t_item", json!({"search": "x", "searchFields": ["nope"]}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "INVALID_FIELD");
});

// Aggregations are not offered on driver-plugin objects: SQL drivers only.
crate::on_both_drivers!(aggregations, |k| {
    seed_items(&k).await;
    let (rows, total, _) = k
        .query(
            "t_item",
            json!({"groupBy": ["status"], "aggregations": [
                {"function": "count", "alias": "n"},
                {"function": "sum", "field": "price", "alias": "total_price"},
                {"function": "avg", "field": "qty", "alias": "avg_qty"},
                {"function": "min", "field": "qty", "alias": "min_qty"},
                {"function": "max", "field": "due", "alias": "last_due"},
                {"function": "count_distinct", "field": "active", "alias": "kinds"}
            ], "orderBy": [{"field": "status", "order": "asc"}]}),
        )
        .await
        .unwrap();
    assert_eq!(total, Some(3));
    let today = chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(
        Value::Array(rows.into_iter().map(Value::Object).collect()),
        json!([
            {"status": "archived", "n": 1, "total_price": null, "avg_qty": 0, "min_qty": 0, "last_due": null, "kinds": 0},
            {"status": "closed", "n": 1, "total_price": 99.99, "avg_qty": 15, "min_qty": 15, "last_due": "2026-03-01", "kinds": 1},
            {"status": "open", "n": 2, "total_price": 10.5, "avg_qty": 502.5, "min_qty": 5, "last_due": today, "kinds": 1}
        ])
    );
    // Without groupBy: one row over the filtered set. Order by an aggregate alias; limit pages groups.
    let rows = k.find("t_item", json!({"where": {"qty": {"$gt": 0}}, "aggregations": [{"function": "sum", "field": "qty", "alias": "s"}]})).await;
    assert_eq!(Value::Object(rows[0].clone()), json!({"s": 1020}));
    let (rows, total, more) = k
        .query("t_item", json!({"groupBy": ["status"], "aggregations": [{"function": "count", "alias": "n"}], "orderBy": [{"field": "n", "order": "desc"}], "limit": 1}))
        .await
        .unwrap();
    assert_eq!(
        (rows[0]["status"].clone(), rows[0]["n"].clone(), total, more),
        (json!("open"), json!(2), Some(3), true)
    );
    // Date granularity.
    let rows = k
        .find("t_item", json!({"where": {"due": {"$lt": "2026-12-31"}}, "groupBy": [{"field": "due", "dateGranularity": "month", "alias": "month"}], "aggregations": [{"function": "count", "alias": "n"}]}))
        .await;
    assert_eq!(rows[0]["month"], "2026-01");
    assert_eq!(rows[1]["month"], "2026-03");
    let rows = k.find("t_item", json!({"where": {"name": "beta"}, "groupBy": [{"field": "at", "dateGranularity": "quarter", "alias": "q"}], "aggregations": [{"function": "count", "alias": "n"}]})).await;
    assert_eq!(rows[0]["q"], "2026-Q1");
    // Errors: sum of text, unknown function, sort by a non-alias.
    let e = k
        .query(
            "t_item",
            json!({"aggregations": [{"function": "sum", "field": "name"}]}),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("numeric"), "{e}");
    let e = k
        .query(
            "t_item",
            json!({"aggregations": [{"function": "median", "field": "qty"}]}),
        )
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("unknown aggregation function 'median'"),
        "{e}"
    );
    let e = k.query("t_item", json!({"groupBy": ["status"], "aggregations": [{"function": "count", "alias": "n"}], "orderBy": "qty"})).await.unwrap_err();
    assert_eq!(e.code(), "INVALID_SORT");
    let e = k.query("t_item", json!({"groupBy": ["status"], "aggregations": [{"function": "count", "alias": "n; DROP"}]})).await.unwrap_err();
    assert!(e.to_string().contains("alias"), "{e}");
});

crate::on_both_drivers!(having, |k| {
    // Groups (status → n): archived 1, closed 1, open 2.
    seed_items(&k).await;
    let grouped = |having: Value| {
        json!({"groupBy": ["status"], "aggregations": [
            {"function": "count", "alias": "n"},
            {"function": "sum", "field": "price", "alias": "total_price"}
        ], "having": having, "orderBy": [{"field": "status", "order": "asc"}]})
    };
    let statuses = |rows: &[objectos_host::data::driver::Record]| -> Vec<Value> {
        rows.iter().map(|r| r["status"].clone()).collect()
    };
    // Filters the groups; the page, total and hasMore count the groups kept.
    let (rows, total, more) = k
        .query("t_item", grouped(json!({"n": {"$gte": 2}})))
        .await
        .unwrap();
    assert_eq!(
        (statuses(&rows), total, more),
        (vec![json!("open")], Some(1), false)
    );
    assert_eq!(rows[0]["n"], json!(2));
    // Equality, text groups, $in, $or, $ne keeping null aggregates, $null, numbers given as text.
    let cases = [
        (json!({"n": 1}), vec!["archived", "closed"]),
        (
            json!({"status": {"$in": ["open", "closed"]}}),
            vec!["closed", "open"],
        ),
        (
            json!({"$or": [{"status": "archived"}, {"n": {"$gt": 1}}]}),
            vec!["archived", "open"],
        ),
        (
            json!({"total_price": {"$ne": 10.5}}),
            vec!["archived", "closed"],
        ),
        (json!({"total_price": {"$null": true}}), vec!["archived"]),
        (json!({"total_price": null}), vec!["archived"]),
        (
            json!({"n": {"$lt": "2"}, "status": {"$nin": ["archived"]}}),
            vec!["closed"],
        ),
        (json!({"$and": []}), vec!["archived", "closed", "open"]),
    ];
    for (having, want) in cases {
        let (rows, total, _) = k.query("t_item", grouped(having.clone())).await.unwrap();
        assert_eq!(
            statuses(&rows),
            want.iter().map(|w| json!(w)).collect::<Vec<_>>(),
            "{having}"
        );
        assert_eq!(total, Some(want.len() as u64), "{having}");
    }
    // Paged: limit and offset apply to the kept groups.
    let (rows, total, more) = k
        .query("t_item", json!({"groupBy": ["status"], "aggregations": [{"function": "count", "alias": "n"}],
            "having": {"n": {"$gte": 1}}, "orderBy": [{"field": "status", "order": "desc"}], "limit": 1, "offset": 1}))
        .await
        .unwrap();
    assert_eq!(
        (statuses(&rows), total, more),
        (vec![json!("closed")], Some(3), true)
    );
    // Without groupBy: the one row over everything, kept or not.
    let rows = k.find("t_item", json!({"aggregations": [{"function": "count", "alias": "n"}], "having": {"n": {"$gt": 100}}})).await;
    assert!(rows.is_empty());
    // Mistakes are 400 INVALID_QUERY naming what is wrong; no value reaches the SQL text.
    for (body, says) in [
        (grouped(json!({"qty": 1})), "not an alias of this query"),
        (grouped(json!({"n": {"$regex": "x"}})), "'$regex'"),
        (grouped(json!({"n": "many"})), "compares a number"),
        (grouped(json!({"n": [1, 2]})), "$in"),
        (grouped(json!({"n": {"$in": 1}})), "must be an array"),
        (grouped(json!("n > 1")), "must be an object"),
        (
            json!({"where": {"qty": 1}, "having": {"n": 1}}),
            "aggregate query",
        ),
        (grouped(json!({"status": {"$eq": "open' OR 1=1 --"}})), ""),
    ] {
        match k.query("t_item", body.clone()).await {
            Err(e) => {
                assert_eq!(e.code(), "INVALID_QUERY", "{body}: {e}");
                assert!(e.to_string().contains(says), "{body}: {e}");
            }
            Ok((rows, _, _)) => assert!(says.is_empty() && rows.is_empty(), "{body}: {rows:?}"),
        }
    }
    let mut deep = json!({"n": 1});
    for _ in 0..40 {
        deep = json!({"$and": [deep]});
    }
    let e = k.query("t_item", grouped(deep)).await.unwrap_err();
    assert_eq!(e.code(), "INVALID_QUERY");
});

// Aggregations are not offered on driver-plugin objects: SQL drivers only.
crate::on_both_drivers!(money_does_not_drift, |k| {
    // 0.1 + 0.2-style sums must come back at the declared scale.
    for (i, p) in [412.3, 186.0, 2399.99, 7800.0, 0.1, 0.2].iter().enumerate() {
        k.ok("t_item", json!({"name": format!("m{i}"), "price": p}))
            .await;
    }
    let rows = k
        .find(
            "t_item",
            json!({"aggregations": [{"function": "sum", "field": "price", "alias": "s"}]}),
        )
        .await;
    assert_eq!(rows[0]["s"], json!(10798.59));
    // Input with more fraction digits than the scale is refused (max_scale), never rounded away.
    let e = k
        .create("t_item", json!({"name": "round", "price": 10.005}))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_wire()["fields"][0]["constraint"],
        json!({"scale": 2, "actual": 3})
    );
    let r = k
        .ok("t_item", json!({"name": "exact", "price": 10.01}))
        .await;
    assert_eq!(
        k.get("t_item", &id_of(&r)).await.unwrap()["price"],
        json!(10.01)
    );
});
