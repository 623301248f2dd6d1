//! Every filter operator, both wire forms, and value macros — on SQLite and PostgreSQL.

use crate::on_all_drivers;
use crate::support::K;
use serde_json::json;

/// Four items with distinct shapes (nulls, lists, case, wildcards-as-text) to tell operators apart.
pub async fn seed_items(k: &K<'_>) {
    let today = chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    let tools = k
        .find("t_category", json!({"where": {"name": "Tools"}}))
        .await;
    let tools_id = tools[0]["id"].clone();
    k.ok("t_item", json!({"name": "alpha", "qty": 5, "price": 10.5, "active": true, "due": "2026-01-10", "at": "2026-01-10T08:00:00Z",
        "status": "open", "tags": ["red"], "email": "a@x.io", "notes": "First Note", "category": tools_id, "rate": 12.5})).await;
    k.ok("t_item", json!({"name": "beta", "qty": 15, "price": 99.99, "active": false, "due": "2026-03-01", "at": "2026-03-01T18:30:00Z",
        "status": "closed", "tags": ["red", "blue"], "notes": "second note", "rate": 50})).await;
    k.ok(
        "t_item",
        json!({"name": "Gamma", "qty": 0, "status": "archived", "tags": []}),
    )
    .await;
    k.ok("t_item", json!({"name": "delta_1", "qty": 1000, "price": 0, "active": true, "due": today, "status": "open",
        "tags": ["green"], "notes": "100% sure_x", "rate": 99.5})).await;
}

on_all_drivers!(comparison_operators, |k| {
    seed_items(&k).await;
    assert_eq!(k.names("t_item", json!({"qty": 15})).await, ["beta"]);
    assert_eq!(
        k.names("t_item", json!({"qty": {"$eq": 5}})).await,
        ["alpha"]
    );
    // $ne keeps rows whose value is null (Mongo semantics).
    assert_eq!(
        k.names("t_item", json!({"price": {"$ne": 0}})).await,
        ["Gamma", "alpha", "beta"]
    );
    assert_eq!(
        k.names("t_item", json!({"qty": {"$gt": 5}})).await,
        ["beta", "delta_1"]
    );
    assert_eq!(
        k.names("t_item", json!({"qty": {"$gte": 5}})).await,
        ["alpha", "beta", "delta_1"]
    );
    assert_eq!(
        k.names("t_item", json!({"qty": {"$lt": 5}})).await,
        ["Gamma"]
    );
    assert_eq!(
        k.names("t_item", json!({"qty": {"$lte": 5}})).await,
        ["Gamma", "alpha"]
    );
    assert_eq!(
        k.names("t_item", json!({"qty": {"$between": [1, 20]}}))
            .await,
        ["alpha", "beta"]
    );
    assert_eq!(
        k.names("t_item", json!({"qty": {"$gt": 1, "$lt": 1000}}))
            .await,
        ["alpha", "beta"]
    );
    // A numeric string compares as a number on a number field.
    assert_eq!(
        k.names("t_item", json!({"qty": {"$gt": "100"}})).await,
        ["delta_1"]
    );
    assert_eq!(
        k.names("t_item", json!({"status": {"$in": ["closed", "archived"]}}))
            .await,
        ["Gamma", "beta"]
    );
    assert_eq!(
        k.names("t_item", json!({"status": {"$nin": ["open"]}}))
            .await,
        ["Gamma", "beta"]
    );
    assert_eq!(
        k.names("t_item", json!({"status": {"$in": []}})).await,
        Vec::<String>::new()
    );
    assert_eq!(
        k.names("t_item", json!({"active": true})).await,
        ["alpha", "delta_1"]
    );
    assert_eq!(
        k.names("t_item", json!({"active": "false"})).await,
        ["beta"]
    );
    assert_eq!(
        k.names("t_item", json!({"due": {"$lt": "2026-02-01"}}))
            .await,
        ["alpha"]
    );
    assert_eq!(
        k.names("t_item", json!({"at": {"$gte": "2026-02-01"}}))
            .await,
        ["beta"]
    );
    assert_eq!(
        k.names(
            "t_item",
            json!({"at": {"$between": ["2026-01-10T07:00:00Z", "2026-01-10T09:00:00+00:00"]}})
        )
        .await,
        ["alpha"]
    );
    assert_eq!(
        k.names("t_item", json!({"rate": {"$gte": 50}})).await,
        ["beta", "delta_1"]
    );
});

on_all_drivers!(null_and_exists, |k| {
    seed_items(&k).await;
    assert_eq!(
        k.names("t_item", json!({"price": {"$null": true}})).await,
        ["Gamma"]
    );
    assert_eq!(k.names("t_item", json!({"price": null})).await, ["Gamma"]);
    assert_eq!(
        k.names("t_item", json!({"price": {"$null": false}})).await,
        ["alpha", "beta", "delta_1"]
    );
    assert_eq!(
        k.names("t_item", json!({"notes": {"$exists": false}}))
            .await,
        ["Gamma"]
    );
    assert_eq!(
        k.names("t_item", json!({"notes": {"$exists": true}})).await,
        ["alpha", "beta", "delta_1"]
    );
    assert_eq!(
        k.names("t_item", json!({"price": {"$ne": null}})).await,
        ["alpha", "beta", "delta_1"]
    );
});

on_all_drivers!(text_operators, |k| {
    seed_items(&k).await;
    // contains / startsWith / endsWith are case-sensitive; icontains and ilike are not.
    assert_eq!(
        k.names("t_item", json!({"notes": {"$contains": "Note"}}))
            .await,
        ["alpha"]
    );
    assert_eq!(
        k.names("t_item", json!({"notes": {"$icontains": "note"}}))
            .await,
        ["alpha", "beta"]
    );
    assert_eq!(
        k.names("t_item", json!({"notes": {"$notContains": "note"}}))
            .await,
        ["Gamma", "alpha", "delta_1"]
    );
    assert_eq!(
        k.names("t_item", json!({"name": {"$startsWith": "al"}}))
            .await,
        ["alpha"]
    );
    assert_eq!(
        k.names("t_item", json!({"name": {"$startsWith": "g"}}))
            .await,
        Vec::<String>::new()
    );
    assert_eq!(
        k.names("t_item", json!({"name": {"$endsWith": "a"}})).await,
        ["Gamma", "alpha", "beta"]
    );
    // Wildcard characters in contains/startsWith are literal text.
    assert_eq!(
        k.names("t_item", json!({"notes": {"$contains": "100%"}}))
            .await,
        ["delta_1"]
    );
    assert_eq!(
        k.names("t_item", json!({"notes": {"$contains": "%"}}))
            .await,
        ["delta_1"]
    );
    assert_eq!(
        k.names("t_item", json!({"name": {"$endsWith": "_1"}}))
            .await,
        ["delta_1"]
    );
    assert_eq!(
        k.names("t_item", json!({"notes": {"$contains": "_"}}))
            .await,
        ["delta_1"]
    );
    // like takes a pattern (% and _ are wildcards), case-sensitive; ilike ignores case.
    assert_eq!(
        k.names("t_item", json!({"name": {"$like": "%amm%"}})).await,
        ["Gamma"]
    );
    assert_eq!(
        k.names("t_item", json!({"name": {"$like": "b_ta"}})).await,
        ["beta"]
    );
    assert_eq!(
        k.names("t_item", json!({"name": {"$like": "GAMMA"}})).await,
        Vec::<String>::new()
    );
    assert_eq!(
        k.names("t_item", json!({"name": {"$ilike": "GAMMA"}}))
            .await,
        ["Gamma"]
    );
    assert_eq!(
        k.names("t_item", json!({"name": {"$ilike": "%ALPH%"}}))
            .await,
        ["alpha"]
    );
});

on_all_drivers!(list_fields, |k| {
    seed_items(&k).await;
    assert_eq!(
        k.names("t_item", json!({"tags": {"$contains": "red"}}))
            .await,
        ["alpha", "beta"]
    );
    assert_eq!(k.names("t_item", json!({"tags": "blue"})).await, ["beta"]);
    assert_eq!(
        k.names("t_item", json!({"tags": {"$in": ["blue", "green"]}}))
            .await,
        ["beta", "delta_1"]
    );
    assert_eq!(
        k.names("t_item", json!({"tags": {"$nin": ["red"]}})).await,
        ["Gamma", "delta_1"]
    );
});

on_all_drivers!(logical_combinators, |k| {
    seed_items(&k).await;
    assert_eq!(
        k.names("t_item", json!({"$or": [{"qty": 0}, {"qty": 1000}]}))
            .await,
        ["Gamma", "delta_1"]
    );
    assert_eq!(
        k.names(
            "t_item",
            json!({"$and": [{"active": true}, {"qty": {"$lt": 100}}]})
        )
        .await,
        ["alpha"]
    );
    assert_eq!(
        k.names("t_item", json!({"$not": {"status": "open"}})).await,
        ["Gamma", "beta"]
    );
    assert_eq!(
        k.names(
            "t_item",
            json!({"status": "open", "$or": [{"qty": 5}, {"name": {"$startsWith": "d"}}]})
        )
        .await,
        ["alpha", "delta_1"]
    );
    assert_eq!(
        k.names("t_item", json!({"$or": []})).await,
        Vec::<String>::new()
    );
    assert_eq!(k.names("t_item", json!({"$and": []})).await.len(), 4);
});

on_all_drivers!(field_comparand, |k| {
    seed_items(&k).await;
    // rows where rate > qty: alpha (12.5 > 5), beta (50 > 15).
    assert_eq!(
        k.names("t_item", json!({"rate": {"$gt": {"$field": "qty"}}}))
            .await,
        ["alpha", "beta"]
    );
    assert_eq!(
        k.names("t_item", json!({"qty": {"$eq": {"$field": "qty"}}}))
            .await
            .len(),
        4
    );
});

on_all_drivers!(array_form, |k| {
    seed_items(&k).await;
    let names = |f: serde_json::Value| {
        let k = &k;
        async move { k.names("t_item", f).await }
    };
    assert_eq!(names(json!(["qty", "=", 5])).await, ["alpha"]);
    assert_eq!(names(json!(["qty", "==", 5])).await, ["alpha"]);
    assert_eq!(names(json!(["qty", "eq", 5])).await, ["alpha"]);
    assert_eq!(names(json!(["qty", "EQUALS", 5])).await, ["alpha"]);
    assert_eq!(
        names(json!(["status", "!=", "open"])).await,
        ["Gamma", "beta"]
    );
    assert_eq!(
        names(json!(["status", "<>", "open"])).await,
        ["Gamma", "beta"]
    );
    assert_eq!(
        names(json!(["status", "neq", "open"])).await,
        ["Gamma", "beta"]
    );
    assert_eq!(names(json!(["qty", ">", 5])).await, ["beta", "delta_1"]);
    assert_eq!(names(json!(["qty", "gt", 5])).await, ["beta", "delta_1"]);
    assert_eq!(names(json!(["due", "after", "2026-02-01"])).await.len(), 2);
    assert_eq!(names(json!(["qty", ">=", 15])).await, ["beta", "delta_1"]);
    assert_eq!(names(json!(["qty", "<", 5])).await, ["Gamma"]);
    assert_eq!(
        names(json!(["due", "before", "2026-02-01"])).await,
        ["alpha"]
    );
    assert_eq!(names(json!(["qty", "<=", 0])).await, ["Gamma"]);
    assert_eq!(names(json!(["status", "in", ["closed"]])).await, ["beta"]);
    assert_eq!(
        names(json!(["status", "not_in", ["open", "closed"]])).await,
        ["Gamma"]
    );
    assert_eq!(
        names(json!(["status", "nin", ["open", "closed"]])).await,
        ["Gamma"]
    );
    assert_eq!(names(json!(["notes", "contains", "note"])).await, ["beta"]);
    assert_eq!(
        names(json!(["notes", "not_contains", "note"])).await,
        ["Gamma", "alpha", "delta_1"]
    );
    assert_eq!(
        names(json!(["notes", "icontains", "NOTE"])).await,
        ["alpha", "beta"]
    );
    assert_eq!(names(json!(["name", "like", "%ta"])).await, ["beta"]);
    assert_eq!(names(json!(["name", "ilike", "G%"])).await, ["Gamma"]);
    assert_eq!(names(json!(["name", "starts_with", "be"])).await, ["beta"]);
    assert_eq!(names(json!(["name", "startswith", "be"])).await, ["beta"]);
    assert_eq!(names(json!(["name", "ends_with", "ma"])).await, ["Gamma"]);
    assert_eq!(
        names(json!(["qty", "between", [1, 20]])).await,
        ["alpha", "beta"]
    );
    assert_eq!(names(json!(["price", "is_null"])).await, ["Gamma"]);
    assert_eq!(names(json!(["price", "is_empty"])).await, ["Gamma"]);
    assert_eq!(names(json!(["price", "is_not_null"])).await.len(), 3);
    assert_eq!(names(json!(["price", "is_not_empty"])).await.len(), 3);
    // A list of comparisons means AND; "and"/"or" heads combine, and nest.
    assert_eq!(
        names(json!([["status", "=", "open"], ["qty", "<", 100]])).await,
        ["alpha"]
    );
    assert_eq!(
        names(json!(["or", ["qty", "=", 0], ["qty", "=", 15]])).await,
        ["Gamma", "beta"]
    );
    assert_eq!(
        names(json!([
            "and",
            ["status", "=", "open"],
            ["or", ["qty", "=", 5], ["qty", "=", 1000]]
        ]))
        .await,
        ["alpha", "delta_1"]
    );
});

on_all_drivers!(macros, |k| {
    seed_items(&k).await;
    assert_eq!(
        k.names("t_item", json!({"due": "{today}"})).await,
        ["delta_1"]
    );
    assert_eq!(
        k.names(
            "t_item",
            json!({"due": {"$gte": "{yesterday}", "$lt": "{tomorrow}"}})
        )
        .await,
        ["delta_1"]
    );
    assert_eq!(
        k.names("t_item", json!({"due": {"$gt": "{30_days_ago}"}}))
            .await,
        ["delta_1"]
    );
    assert_eq!(
        k.names(
            "t_item",
            json!({"due": {"$lt": "{2_weeks_from_now}", "$gte": "{current_month_start}"}})
        )
        .await,
        ["delta_1"]
    );
    assert!(
        k.names(
            "t_item",
            json!({"due": {"$between": ["{current_year_start}", "{current_year_end}"]}})
        )
        .await
        .contains(&"delta_1".to_string())
    );
    assert!(
        !k.names("t_item", json!({"due": {"$lte": "{last_year_end}"}}))
            .await
            .contains(&"delta_1".to_string())
    );
    assert_eq!(
        k.names("t_item", json!({"created_at": {"$lte": "{now}"}}))
            .await
            .len(),
        4
    );
    assert_eq!(
        k.names("t_item", json!({"created_by": "{current_user_id}"}))
            .await
            .len(),
        4
    );
    assert_eq!(
        k.names("t_item", json!({"organization_id": "{current_org_id}"}))
            .await
            .len(),
        4
    );
    assert_eq!(
        k.names("t_item", json!(["created_by", "=", "{current_user_id}"]))
            .await
            .len(),
        4
    );
});

on_all_drivers!(filter_errors, |k| {
    seed_items(&k).await;
    let e = k
        .query("t_item", json!({"where": {"nosuch": 1}}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "INVALID_FIELD");
    assert_eq!(e.to_wire()["field"], "nosuch");
    assert!(
        e.to_string()
            .contains("'nosuch', which is not a field on object 't_item'"),
        "{e}"
    );
    let e = k
        .query("t_item", json!({"where": ["nosuch", "=", 1]}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "INVALID_FIELD");
    // A formula field has no column: refused, not silently empty.
    let e = k
        .query("t_item", json!({"where": {"score": 2}}))
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), objectos_host::http::errors::status_of(e.kind())),
        ("INVALID_FIELD", 400)
    );
    assert!(e.to_string().contains("computed"), "{e}");
    let e = k
        .query("t_item", json!({"where": {"qty": {"$regex": "x"}}}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "INVALID_FILTER");
    assert!(e.to_string().contains("retired"), "{e}");
    let e = k
        .query("t_item", json!({"where": {"qty": {"$between": [1]}}}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "INVALID_FILTER");
    let e = k
        .query("t_item", json!({"where": ["qty", "~~", 1]}))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("unknown filter operator '~~'"),
        "{e}"
    );
    let e = k
        .query("t_item", json!({"where": "{not json"}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "INVALID_FILTER");
    assert!(e.to_string().contains("must be valid JSON"), "{e}");
    let e = k
        .query("t_item", json!({"where": {"$nor": []}}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "INVALID_FILTER");
    // Only a list column is compared with a whole list; a number column takes finite numbers only.
    for bad in [
        json!({"name": {"$eq": ["alpha", "beta"]}}),
        json!({"$not": {"qty": {"$eq": [null, null]}}}),
        json!({"qty": "NaN"}),
        json!({"qty": {"$in": ["inf"]}}),
        json!({"qty": "1e999"}),
        json!({"qty": "\r5"}),
        json!({"$not": [null, null]}),
        json!({"$not": null}),
        json!({"$and": [null]}),
        json!([{"name": "alpha"}, 5]),
    ] {
        let e = k
            .query("t_item", json!({"where": bad.clone()}))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "INVALID_FILTER", "{bad}: {e}");
    }
    // `$in` as comma text; a blank one lists nothing (and `$nin` of nothing excludes nothing).
    assert_eq!(
        k.find("t_item", json!({"where": {"qty": {"$in": "5, 7"}}}))
            .await
            .len(),
        1
    );
    assert!(
        k.find("t_item", json!({"where": {"qty": {"$in": " "}}}))
            .await
            .is_empty()
    );
    let all = k.find("t_item", json!({})).await.len();
    assert_eq!(
        k.find("t_item", json!({"where": {"qty": {"$nin": ""}}}))
            .await
            .len(),
        all
    );
    // A filter given as a JSON string is parsed like the object itself.
    assert_eq!(
        k.find("t_item", json!({"where": "{\"qty\": 5}"}))
            .await
            .len(),
        1
    );
    assert_eq!(
        k.find("t_item", json!({"filter": "[\"qty\", \">\", 5]"}))
            .await
            .len(),
        2
    );
});

on_all_drivers!(injection_is_inert, |k| {
    seed_items(&k).await;
    // Values are bound parameters: SQL in a value is just text that matches nothing.
    assert!(
        k.names("t_item", json!({"name": "alpha' OR '1'='1"}))
            .await
            .is_empty()
    );
    assert!(
        k.names(
            "t_item",
            json!({"name": {"$contains": "\"; DROP TABLE t_item; --"}})
        )
        .await
        .is_empty()
    );
    // Identifiers never come from a request: an unknown field is refused before any SQL is built.
    let e = k
        .query("t_item", json!({"where": {"name\" = name OR \"1": 1}}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "INVALID_FIELD");
    assert_eq!(k.find("t_item", json!({})).await.len(), 4);
});
