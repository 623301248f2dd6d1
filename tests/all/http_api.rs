//! The REST surface's error paths and semantics, over real HTTP, on SQLite and PostgreSQL.

use crate::on_both_servers;
use crate::support::{Server, testapp};
use serde_json::{Value, json};

async fn admin(s: &Server) -> String {
    s.sign_up("admin@example.com", "Passw0rd!Passw0rd").await
}

on_both_servers!(anonymous_and_bad_credentials, testapp(), |s| {
    for path in [
        "/api/v1/data/t_item",
        "/api/v1/meta",
        "/api/v1/meta/object/t_item",
        "/api/v1/auth/get-session",
    ] {
        let r = s.call("GET", path, Value::Null, None).await;
        assert_eq!((r.status, r.code()), (401, "UNAUTHENTICATED"), "{path}");
    }
    let token = admin(&s).await;
    let (raw, _) = token.split_once('.').unwrap();
    // The raw token and its signed form both work; a tampered signature, garbage, or another secret's signature do not.
    assert_eq!(
        s.call("GET", "/api/v1/data/t_item", Value::Null, Some(raw))
            .await
            .status,
        200
    );
    assert_eq!(
        s.call("GET", "/api/v1/data/t_item", Value::Null, Some(&token))
            .await
            .status,
        200
    );
    let tampered = format!("{raw}.AAAA{}", &token[raw.len() + 5..]);
    for bad in [
        tampered.as_str(),
        "garbage",
        "osk_not-a-key",
        &format!("{raw}x"),
    ] {
        let r = s
            .call("GET", "/api/v1/data/t_item", Value::Null, Some(bad))
            .await;
        assert_eq!((r.status, r.code()), (401, "UNAUTHENTICATED"), "{bad}");
    }
    // The session cookie works like the bearer token.
    let r = s
        .http
        .get(format!("{}/api/v1/data/t_item", s.base))
        .header(
            "cookie",
            format!(
                "better-auth.session_token={}",
                token
                    .replace('+', "%2B")
                    .replace('/', "%2F")
                    .replace('=', "%3D")
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // Discovery and health are public (health says only `{status}` to anyone but a platform administrator);
    // OpenAPI describes the caller's objects, so it needs credentials.
    for path in [
        "/.well-known/objectstack",
        "/api/v1",
        "/api/v1/discovery",
        "/api/v1/health",
    ] {
        assert_eq!(
            s.call("GET", path, Value::Null, None).await.status,
            200,
            "{path}"
        );
    }
    let r = s
        .call("GET", "/api/v1/openapi.json", Value::Null, None)
        .await;
    assert_eq!((r.status, r.code()), (401, "UNAUTHENTICATED"));
    // Sign-out ends the session at once.
    assert_eq!(
        s.call("POST", "/api/v1/auth/sign-out", Value::Null, Some(&token))
            .await
            .status,
        200
    );
    assert_eq!(
        s.call("GET", "/api/v1/data/t_item", Value::Null, Some(&token))
            .await
            .status,
        401
    );
});

on_both_servers!(sign_up_and_sign_in_rules, testapp(), |s| {
    let r = s
        .call(
            "POST",
            "/api/v1/auth/sign-up/email",
            json!({"email": "not-an-email", "password": "Passw0rd!Passw0rd"}),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "VALIDATION_FAILED"));
    let r = s
        .call(
            "POST",
            "/api/v1/auth/sign-up/email",
            json!({"email": "a@b.co", "password": "short"}),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.body["fields"][0]["field"].clone()),
        (400, json!("password"))
    );
    let token = admin(&s).await;
    let session = s
        .call("GET", "/api/v1/auth/get-session", Value::Null, Some(&token))
        .await;
    assert_eq!(
        session.body["user"]["positions"],
        json!(["platform_admin", "org_owner", "everyone"])
    );
    assert_eq!(session.body["user"]["isPlatformAdmin"], json!(true));
    let org = session.body["session"]["activeOrganizationId"]
        .as_str()
        .unwrap()
        .to_string();
    // Self-registration closes after the first user.
    let r = s
        .call(
            "POST",
            "/api/v1/auth/sign-up/email",
            json!({"email": "second@example.com", "password": "Passw0rd!Passw0rd"}),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "SELF_REGISTRATION_CLOSED"));
    // Wrong password: 401, then 429 once the account has failed five times, even with the right password.
    for _ in 0..5 {
        let r = s
            .call(
                "POST",
                "/api/v1/auth/sign-in/email",
                json!({"email": "admin@example.com", "password": "wrong-password"}),
                None,
            )
            .await;
        assert_eq!((r.status, r.code()), (401, "INVALID_EMAIL_OR_PASSWORD"));
    }
    let r = s
        .call(
            "POST",
            "/api/v1/auth/sign-in/email",
            json!({"email": "admin@example.com", "password": "Passw0rd!Passw0rd"}),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (429, "TOO_MANY_REQUESTS"));
    assert!(r.headers.get("retry-after").is_some());
    // Unknown accounts answer exactly like wrong passwords.
    let r = s
        .call(
            "POST",
            "/api/v1/auth/sign-in/email",
            json!({"email": "nobody@example.com", "password": "whatever-123"}),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (401, "INVALID_EMAIL_OR_PASSWORD"));
    // Records carry the admin's organization.
    let r = s
        .call(
            "POST",
            "/api/v1/data/t_category",
            json!({"name": "Mine"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.body["record"]["organization_id"], json!(org));
});

on_both_servers!(admin_creates_users_and_keys, testapp(), |s| {
    let token = admin(&s).await;
    let r = s.call("POST", "/api/v1/auth/admin/create-user", json!({"email": "emp@example.com", "password": "Initial-123456", "name": "Emp", "positions": ["exp_employee"]}), Some(&token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let emp_id = r.body["data"]["user"]["id"].as_str().unwrap().to_string();
    // The same address again: 409, as the real server's admin route answers it; bad lists are 400.
    let r = s
        .call(
            "POST",
            "/api/v1/auth/admin/create-user",
            json!({"email": "emp@example.com", "password": "Initial-123456"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(
        r.body["error"]["code"], "USER_ALREADY_EXISTS",
        "{:?}",
        r.body
    );
    for positions in [json!(["a", 1]), json!("a"), json!(null)] {
        let r = s.call("POST", "/api/v1/auth/admin/create-user", json!({"email": "other@example.com", "password": "Initial-123456", "positions": positions}), Some(&token)).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (400, Some("VALIDATION_FAILED")),
            "{positions}: {:?}",
            r.body
        );
    }
    let r = s
        .call(
            "POST",
            "/api/v1/auth/sign-in/email",
            json!({"email": "emp@example.com", "password": "Initial-123456"}),
            None,
        )
        .await;
    let emp = r.body["token"].as_str().unwrap().to_string();
    // An administrator-set password must be changed before data access.
    let r = s
        .call("GET", "/api/v1/data/t_item", Value::Null, Some(&emp))
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].clone()),
        (403, json!("PASSWORD_EXPIRED"))
    );
    let r = s
        .call(
            "POST",
            "/api/v1/auth/change-password",
            json!({"currentPassword": "wrong-one-123", "newPassword": "Chosen-123456"}),
            Some(&emp),
        )
        .await;
    assert_eq!(r.status, 401);
    let r = s
        .call(
            "POST",
            "/api/v1/auth/change-password",
            json!({"currentPassword": "Initial-123456", "newPassword": "Chosen-123456"}),
            Some(&emp),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        s.call("GET", "/api/v1/data/t_item", Value::Null, Some(&emp))
            .await
            .status,
        200
    );
    let session = s
        .call("GET", "/api/v1/auth/get-session", Value::Null, Some(&emp))
        .await;
    assert_eq!(
        session.body["user"]["positions"],
        json!(["org_member", "exp_employee", "everyone"])
    );
    // Only administrators create users, assign positions and issue keys.
    let r = s
        .call(
            "POST",
            "/api/v1/auth/admin/create-user",
            json!({"email": "x@example.com", "password": "Initial-123456"}),
            Some(&emp),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "PERMISSION_DENIED"));
    assert_eq!(
        s.call(
            "POST",
            "/api/v1/auth/api-keys",
            json!({"name": "k"}),
            Some(&emp)
        )
        .await
        .status,
        403
    );
    let r = s
        .call(
            "POST",
            "/api/v1/auth/admin/set-positions",
            json!({"userId": emp_id, "positions": ["exp_manager", "everyone"]}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200);
    let session = s
        .call("GET", "/api/v1/auth/get-session", Value::Null, Some(&emp))
        .await;
    assert_eq!(
        session.body["user"]["positions"],
        json!(["exp_manager", "everyone"])
    );
    // API keys: shown once, stored hashed, act for their creator.
    let r = s
        .call(
            "POST",
            "/api/v1/auth/api-keys",
            json!({"name": "ci"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 201);
    let key = r.body["data"]["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("osk_"));
    let created = s
        .call(
            "POST",
            "/api/v1/data/t_category",
            json!({"name": "ByKey"}),
            Some(&key),
        )
        .await;
    assert_eq!(created.status, 201);
    let admin_id = s
        .call("GET", "/api/v1/auth/get-session", Value::Null, Some(&token))
        .await
        .body["user"]["id"]
        .clone();
    assert_eq!(created.body["record"]["created_by"], admin_id);
    // Runtime-provided objects are not data routes.
    for object in ["sys_user", "sys_session", "sys_api_key", "sys_organization"] {
        let r = s
            .call(
                "GET",
                &format!("/api/v1/data/{object}"),
                Value::Null,
                Some(&token),
            )
            .await;
        assert_eq!((r.status, r.code()), (404, "OBJECT_NOT_FOUND"), "{object}");
    }
});

on_both_servers!(body_errors, testapp(), |s| {
    let token = admin(&s).await;
    let url = format!("{}/api/v1/data/t_category", s.base);
    let send = |body: &'static str, ct: Option<&'static str>| {
        let mut req = s.http.post(&url).bearer_auth(&token).body(body);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        req.send()
    };
    let r = send("{\"name\": ", Some("application/json")).await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["code"], "INVALID_JSON");
    assert!(b["error"].as_str().unwrap().contains("line 1"), "{b}");
    let r = send("name=x", Some("application/x-www-form-urlencoded"))
        .await
        .unwrap();
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["code"], "UNSUPPORTED_CONTENT_TYPE");
    // Oversized bodies: 413, nothing written.
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let r = s
        .http
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    let r = s
        .call(
            "POST",
            "/api/v1/data/t_category",
            json!("just a string"),
            Some(&token),
        )
        .await;
    assert_eq!(
        (r.status, r.body["fields"][0]["code"].clone()),
        (400, json!("invalid_type"))
    );
    let r = s
        .call("GET", "/api/v1/nowhere", Value::Null, Some(&token))
        .await;
    assert_eq!((r.status, r.code()), (404, "ROUTE_NOT_FOUND"));
    let list = s
        .call(
            "GET",
            "/api/v1/data/t_category?name=x",
            Value::Null,
            Some(&token),
        )
        .await;
    assert_eq!(list.body["records"], json!([]));
});

on_both_servers!(list_parameters, testapp(), |s| {
    let token = admin(&s).await;
    let records: Vec<Value> = (0..130)
        .map(|i| json!({"name": format!("n{i:03}"), "qty": i % 10}))
        .collect();
    let r = s
        .call(
            "POST",
            "/api/v1/data/t_item/createMany",
            Value::Array(records),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    // No limit: the default page of 100, with hasMore.
    let r = s
        .call("GET", "/api/v1/data/t_item", Value::Null, Some(&token))
        .await;
    assert_eq!(
        (
            r.body["records"].as_array().unwrap().len(),
            r.body["total"].clone(),
            r.body["hasMore"].clone()
        ),
        (100, json!(130), json!(true))
    );
    let r = s
        .call(
            "GET",
            "/api/v1/data/t_item?limit=5000",
            Value::Null,
            Some(&token),
        )
        .await;
    assert_eq!(
        r.body["records"].as_array().unwrap().len(),
        130,
        "limits above the maximum are clamped, not refused"
    );
    let r = s
        .call(
            "GET",
            "/api/v1/data/t_item?qty=3&sort=-name&top=2&select=name,qty",
            Value::Null,
            Some(&token),
        )
        .await;
    assert_eq!(
        r.body["records"],
        json!([{"name": "n123", "qty": 3}, {"name": "n113", "qty": 3}])
    );
    assert_eq!(r.body["total"], json!(13));
    let r = s.call("GET", "/api/v1/data/t_item?where=%7B%22qty%22%3A%7B%22%24gte%22%3A9%7D%7D&qty=9&count=false&limit=1", Value::Null, Some(&token)).await;
    assert_eq!(
        (r.body.get("total"), r.body["hasMore"].clone()),
        (None, json!(true))
    );
    let r = s
        .call(
            "GET",
            "/api/v1/data/t_item?limit=2&top=3",
            Value::Null,
            Some(&token),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "INVALID_REQUEST"));
    let r = s
        .call(
            "GET",
            "/api/v1/data/t_item?$frobnicate=1",
            Value::Null,
            Some(&token),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "UNSUPPORTED_QUERY_PARAM"));
    let r = s
        .call(
            "GET",
            "/api/v1/data/t_item?perPage=5",
            Value::Null,
            Some(&token),
        )
        .await;
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .contains("Did you mean the 'top' query parameter"),
        "{:?}",
        r.body
    );
    let id = s
        .call(
            "GET",
            "/api/v1/data/t_item?name=n001",
            Value::Null,
            Some(&token),
        )
        .await
        .body["records"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = s
        .call(
            "GET",
            &format!("/api/v1/data/t_item/{id}?where=x"),
            Value::Null,
            Some(&token),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].clone()),
        (400, json!("VALIDATION_ERROR"))
    );
    let r = s
        .call(
            "GET",
            &format!("/api/v1/data/t_item/{id}?$select=name"),
            Value::Null,
            Some(&token),
        )
        .await;
    assert_eq!(r.body["record"], json!({"name": "n001"}));
});

on_both_servers!(writes_over_http, testapp(), |s| {
    let token = admin(&s).await;
    let t = Some(token.as_str());
    let r = s
        .call(
            "POST",
            "/api/v1/data/t_item",
            json!({"name": "occ", "qty": 1}),
            t,
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let v1 = r.body["record"]["updated_at"].as_str().unwrap().to_string();
    // If-Match and expectedVersion both guard updates; a stale version is 409 and changes nothing.
    let ok = s
        .http
        .patch(format!("{}/api/v1/data/t_item/{id}", s.base))
        .bearer_auth(&token)
        .header("if-match", format!("\"{v1}\""))
        .json(&json!({"qty": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let r = s
        .call(
            "PATCH",
            &format!("/api/v1/data/t_item/{id}"),
            json!({"qty": 3, "expectedVersion": v1}),
            t,
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "CONCURRENT_UPDATE"));
    let r = s
        .call(
            "DELETE",
            &format!("/api/v1/data/t_item/{id}?expectedVersion={v1}"),
            Value::Null,
            t,
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "CONCURRENT_UPDATE"));
    // Unique and restrict conflicts are 409 with their codes.
    let r = s
        .call("POST", "/api/v1/data/t_item", json!({"name": "occ"}), t)
        .await;
    assert_eq!(
        (
            r.status,
            r.code(),
            r.body["error"].clone(),
            r.body["field"].clone()
        ),
        (
            409,
            "UNIQUE_VIOLATION",
            json!("A record with this value already exists"),
            Value::Null
        )
    );
    let lock = s
        .call(
            "POST",
            "/api/v1/data/t_lock",
            json!({"item": id, "reason": "hold"}),
            t,
        )
        .await;
    let r = s
        .call(
            "DELETE",
            &format!("/api/v1/data/t_item/{id}"),
            Value::Null,
            t,
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "DELETE_RESTRICTED"));
    // updateMany / deleteMany / per-object batch / cross-object batch.
    let a = s
        .call("POST", "/api/v1/data/t_category", json!({"name": "A"}), t)
        .await
        .body["id"]
        .clone();
    let b = s
        .call("POST", "/api/v1/data/t_category", json!({"name": "B"}), t)
        .await
        .body["id"]
        .clone();
    let r = s
        .call(
            "POST",
            "/api/v1/data/t_category/updateMany",
            json!({"records": [{"id": a, "data": {"rank": 1}}, {"id": b, "data": {"rank": 2}}]}),
            t,
        )
        .await;
    assert_eq!((r.status, r.body["succeeded"].clone()), (200, json!(2)));
    // Without options it stops at the first failure; what came before stays written.
    let r = s.call("POST", "/api/v1/data/t_category/updateMany", json!({"records": [{"id": a, "data": {"rank": 5}}, {"id": "missing", "data": {"rank": 6}}, {"id": b, "data": {"rank": 7}}]}), t).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        (r.body["succeeded"].clone(), r.body["failed"].clone()),
        (json!(1), json!(2))
    );
    assert_eq!(
        r.body["results"][1]["errors"][0],
        json!({"code": "RECORD_NOT_FOUND", "message": "Record missing not found in t_category", "httpStatus": 404})
    );
    assert_eq!(r.body["results"][2]["errors"][0]["code"], "NOT_ATTEMPTED");
    assert_eq!(
        s.call(
            "GET",
            &format!("/api/v1/data/t_category/{}", a.as_str().unwrap()),
            Value::Null,
            t
        )
        .await
        .body["record"]["rank"],
        json!(5),
        "not atomic: the first record stays written"
    );
    // With options.atomic the failure rolls back the records before it.
    let r = s.call("POST", "/api/v1/data/t_category/updateMany", json!({"records": [{"id": a, "data": {"rank": 1}}, {"id": "missing", "data": {"rank": 6}}], "options": {"atomic": true}}), t).await;
    assert_eq!(r.body["results"][0]["errors"][0]["code"], "ROLLED_BACK");
    assert_eq!(
        s.call(
            "GET",
            &format!("/api/v1/data/t_category/{}", a.as_str().unwrap()),
            Value::Null,
            t
        )
        .await
        .body["record"]["rank"],
        json!(5),
        "atomic: nothing applied"
    );
    let r = s.call("POST", "/api/v1/data/t_category/batch", json!({"operation": "upsert", "records": [{"id": "cat_x", "data": {"name": "X"}}, {"id": a, "data": {"rank": 9}}], "options": {"atomic": true}}), t).await;
    assert_eq!((r.status, r.body["total"].clone()), (200, json!(2)));
    let r = s.call("POST", "/api/v1/data/t_category/batch", json!({"operation": "create", "records": [{"data": {"name": "ok1"}}, {"data": {}}], "options": {"continueOnError": true}}), t).await;
    assert_eq!(
        (r.body["succeeded"].clone(), r.body["failed"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(
        r.body["results"][1]["errors"][0]["code"],
        "VALIDATION_FAILED"
    );
    let r = s
        .call(
            "POST",
            "/api/v1/batch",
            json!({"operations": [
        {"action": "create", "object": "t_category", "data": {"name": "Cross"}},
        {"action": "delete", "object": "t_lock", "id": lock.body["id"]},
        {"action": "delete", "object": "t_item", "id": id}]}),
            t,
        )
        .await;
    assert_eq!(
        (r.status, r.body["results"].as_array().unwrap().len()),
        (200, 3)
    );
    let r = s
        .call(
            "POST",
            "/api/v1/data/t_category/deleteMany",
            json!({"ids": [a, b]}),
            t,
        )
        .await;
    assert_eq!(r.body["succeeded"], json!(2));
    let r = s
        .call("GET", "/api/v1/data/t_category?name=A", Value::Null, t)
        .await;
    assert_eq!(r.body["total"], json!(0));
});

on_both_servers!(metadata_health_metrics, testapp(), |s| {
    let token = admin(&s).await;
    let t = Some(token.as_str());
    let r = s.call("GET", "/api/v1/meta/object", Value::Null, t).await;
    let names: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"t_item") && !names.iter().any(|n| n.starts_with("sys_")),
        "{names:?}"
    );
    let r = s
        .call("GET", "/api/v1/meta/object/t_item", Value::Null, t)
        .await;
    assert_eq!(
        r.body["sortability"]["fields"]["score"],
        json!({"sortable": false, "reason": "virtual-type"})
    );
    assert_eq!(
        r.body["item"]["fields"]["organization_id"]["system"],
        json!(true)
    );
    let r = s
        .call("GET", "/api/v1/meta/object/nope", Value::Null, t)
        .await;
    assert_eq!((r.status, r.code()), (404, "RESOURCE_NOT_FOUND"));
    let r = s.call("GET", "/api/v1/openapi.json", Value::Null, t).await;
    assert_eq!(r.body["openapi"], "3.1.0");
    assert!(r.body["paths"]["/api/v1/data/t_item/{id}"]["patch"].is_object());
    assert_eq!(
        r.body["components"]["schemas"]["t_item_create"]["properties"]["status"]["enum"],
        json!(["open", "closed", "archived", null])
    );
    // What the server accepts and refuses, said in the document: a lookup names a record of its target, a text
    // with a short declared length takes only text, one without also numbers and booleans (stored as text), a
    // filter compares a number field with numbers or numeric text only, a hook's refusal is an error body.
    let schemas = &r.body["components"]["schemas"];
    let create = &schemas["t_item_create"]["properties"];
    // A property that may be null is `{type: [t, "null"]}` or `{anyOf: [schema, {type: null}]}`.
    let own = |p: &Value| {
        if p.get("anyOf").is_some() {
            p["anyOf"][0].clone()
        } else {
            p.clone()
        }
    };
    assert_eq!(
        own(&create["category"])["x-objectos-reference"],
        "t_category",
        "{}",
        create["category"]
    );
    let name_type = own(&create["name"])["type"].clone();
    assert!(
        name_type == json!("string") || name_type == json!(["string", "null"]),
        "{}",
        create["name"]
    );
    assert_eq!(
        own(&create["color"])["type"],
        json!(["string", "number", "boolean"]),
        "{}",
        create["color"]
    );
    let qty = &schemas["t_item_where"]["properties"]["qty"]["anyOf"][0];
    assert_eq!(qty["anyOf"][0]["type"], "number", "{qty}");
    assert!(qty["anyOf"][1]["pattern"].is_string(), "{qty}");
    assert!(
        schemas["AnyError"]["anyOf"]
            .as_array()
            .is_some_and(|a| a.contains(&json!({"$ref": "#/components/schemas/HookRefusal"})))
    );
    let r = s.call("GET", "/api/v1/health", Value::Null, None).await;
    assert_eq!((r.status, &r.body), (200, &json!({"status": "ok"})));
    let r = s.call("GET", "/api/v1/health", Value::Null, t).await;
    assert_eq!(
        (
            r.body["status"].clone(),
            r.body["database"]["status"].clone()
        ),
        (json!("ok"), json!("up"))
    );
    let text = s
        .http
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            "objectos_http_requests_total{family=\"meta\",method=\"GET\",status=\"404\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains("objectos_http_request_duration_seconds_bucket{family=\"meta\""));
    assert!(text.contains("objectos_db_pool_connections{state=\"open\"}"));
});

on_both_servers!(
    clients_that_disconnect_do_not_break_writes,
    testapp(),
    |s| {
        let token = admin(&s).await;
        // Clients that give up at once: their requests are cut at every possible point of the write path.
        let impatient = reqwest::Client::builder()
            .timeout(std::time::Duration::from_millis(1))
            .build()
            .unwrap();
        let mut pending = Vec::new();
        for i in 0..200 {
            let req = impatient
                .post(format!("{}/api/v1/data/t_category", s.base))
                .bearer_auth(&token)
                .json(&json!({"name": format!("cut{i}")}));
            pending.push(tokio::spawn(async move { req.send().await.is_ok() }));
        }
        for p in pending {
            let _ = p.await;
        }
        // Every later write still succeeds.
        for i in 0..10 {
            let r = s
                .call(
                    "POST",
                    "/api/v1/data/t_category",
                    json!({"name": format!("after{i}")}),
                    Some(&token),
                )
                .await;
            assert_eq!(r.status, 201, "{:?}", r.body);
        }
    }
);
