//! The admin matrix (every admin route × every role: status, error code, nothing written on refusal) and API
//! key expiry, revocation and bans.

use super::*;
use objectos_host::kernel::{DataOp, OpResult, Principal};

/// A user created by `admin` with `positions`, who has chosen their own password; returns (id, session token).
async fn user(s: &Server, admin: &str, email: &str, positions: Value) -> (String, String) {
    let r = call(
        s,
        "POST",
        "/api/v1/auth/admin/create-user",
        json!({"email": email, "password": "Initial-123456", "name": email, "positions": positions}),
        Some(admin),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let id = r.body["data"]["user"]["id"].as_str().unwrap().to_string();
    let token = sign_in(s, email, "Initial-123456", &[]).await.body["token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = call(
        s,
        "POST",
        "/api/v1/auth/change-password",
        json!({"currentPassword": "Initial-123456", "newPassword": ADMIN_PW}),
        Some(&token),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    (id, token)
}

async fn rows(s: &Server, object: &str) -> Vec<Value> {
    let query = objectos_host::data::query::Query {
        limit: Some(10_000),
        ..Default::default()
    };
    match s
        .kernel
        .execute(
            &Principal::system(),
            DataOp::Find {
                object: object.into(),
                query,
            },
        )
        .await
        .expect("find")
    {
        OpResult::List { records, .. } => records.into_iter().map(Value::Object).collect(),
        _ => vec![],
    }
}

async fn system_update(s: &Server, object: &str, id: &str, patch: Value) {
    s.kernel
        .execute(
            &Principal::system(),
            DataOp::Update {
                object: object.into(),
                id: id.into(),
                patch: patch.as_object().unwrap().clone(),
                expected_version: None,
            },
        )
        .await
        .expect("update");
}

/// What administration can change: users (positions, bans, organization), keys, permission-set bindings.
async fn snapshot(s: &Server) -> Value {
    let pick = |rows: Vec<Value>, keys: &[&str]| -> Value {
        let mut out: Vec<Value> = rows
            .iter()
            .map(|r| {
                Value::Object(
                    keys.iter()
                        .map(|k| (k.to_string(), r[*k].clone()))
                        .collect(),
                )
            })
            .collect();
        out.sort_by_key(|v| v.to_string());
        Value::Array(out)
    };
    json!({
        "users": pick(rows(s, "sys_user").await, &["id", "email", "positions", "banned", "is_platform_admin", "organization_id", "password_hash"]),
        "keys": pick(rows(s, "sys_api_key").await, &["id", "revoked", "expires_at"]),
        "bindings": pick(rows(s, "sys_position_permission_set").await, &["position", "permission_set"]),
    })
}

/// One row of the admin matrix.
struct Case {
    who: &'static str,
    method: &'static str,
    path: &'static str,
    body: Value,
    status: u16,
    code: &'static str,
}

on_both!(admin_matrix, |db, test| {
    let (s, _) = boot(db, test, config(|_| {})).await;
    let admin = s.sign_up("admin@example.com", ADMIN_PW).await;
    let session = call(
        &s,
        "GET",
        "/api/v1/auth/get-session",
        Value::Null,
        Some(&admin),
        &[],
    )
    .await;
    let admin_id = session.body["user"]["id"].as_str().unwrap().to_string();
    let (owner_id, owner) = user(&s, &admin, "owner@example.com", json!(["org_owner"])).await;
    let (plain_id, plain) = user(&s, &admin, "plain@example.com", json!(["t_reader"])).await;
    // A user of organization B (organization_id is stamped from the writing principal).
    let in_org_b = Principal {
        organization_id: Some("org_b".into()),
        ..Principal::system()
    };
    let other = s
        .kernel
        .execute(
            &in_org_b,
            DataOp::Create {
                object: "sys_user".into(),
                record: json!({"email": "other-org@example.com", "positions": ["org_owner", "everyone"], "banned": false})
                    .as_object()
                    .unwrap()
                    .clone(),
            },
        )
        .await
        .expect("create");
    let OpResult::Record(other) = other else {
        panic!("created")
    };
    let other_id = other["id"].as_str().unwrap().to_string();
    assert_eq!(other["organization_id"], json!("org_b"));
    let key_of = |token: String| {
        let s = &s;
        async move {
            let r = call(
                s,
                "POST",
                "/api/v1/auth/api-keys",
                json!({"name": "k"}),
                Some(&token),
                &[],
            )
            .await;
            assert_eq!(r.status, 201, "{:?}", r.body);
            (
                r.body["data"]["key"].as_str().unwrap().to_string(),
                r.body["data"]["apiKey"]["id"].as_str().unwrap().to_string(),
            )
        }
    };
    let (admin_key, admin_key_id) = key_of(admin.clone()).await;
    let (owner_key, owner_key_id) = key_of(owner.clone()).await;
    let token = |who: &str| -> Option<String> {
        match who {
            "admin" => Some(admin.clone()),
            "admin_key" => Some(admin_key.clone()),
            "owner" => Some(owner.clone()),
            "owner_key" => Some(owner_key.clone()),
            "plain" => Some(plain.clone()),
            _ => None,
        }
    };
    let set = |id: &str, positions: Value| json!({"userId": id, "positions": positions});
    let uid = |id: &str| json!({"userId": id});
    let new_user = |email: &str, positions: Value| json!({"email": email, "password": "Initial-123456", "positions": positions});
    let bind = json!({"position": "t_reader", "permissionSets": []});
    #[rustfmt::skip]
    let c = |who, method, path, body, status, code| Case { who, method, path, body, status, code };
    const CREATE: &str = "/api/v1/auth/admin/create-user";
    const SET: &str = "/api/v1/auth/admin/set-positions";
    const BIND: &str = "/api/v1/auth/admin/bind-permission-sets";
    const BAN: &str = "/api/v1/auth/admin/ban-user";
    const UNBAN: &str = "/api/v1/auth/admin/unban-user";
    const KEYS: &str = "/api/v1/auth/api-keys";
    let revoke_admin_key: &'static str =
        Box::leak(format!("{KEYS}/{admin_key_id}").into_boxed_str());
    let revoke_owner_key: &'static str =
        Box::leak(format!("{KEYS}/{owner_key_id}").into_boxed_str());
    const AUDIT: &str = "/api/v1/data/sys_audit_log";
    // Every refusal, by route and role; each must leave the database as it was.
    #[rustfmt::skip]
    let refusals = vec![
        // create-user
        c("owner", "POST", CREATE, new_user("a1@example.com", json!(["platform_admin"])), 403, "PERMISSION_DENIED"),
        c("owner_key", "POST", CREATE, new_user("a2@example.com", json!(["platform_admin"])), 403, "PERMISSION_DENIED"),
        c("plain", "POST", CREATE, new_user("a3@example.com", json!([])), 403, "PERMISSION_DENIED"),
        c("anonymous", "POST", CREATE, new_user("a4@example.com", json!([])), 401, "UNAUTHENTICATED"),
        c("owner", "POST", CREATE, new_user("a5@example.com", json!(vec!["p"; 65])), 400, "VALIDATION_FAILED"),
        // set-positions
        c("owner", "POST", SET, set(&owner_id, json!(["org_owner", "platform_admin"])), 403, "PERMISSION_DENIED"),
        c("owner_key", "POST", SET, set(&owner_id, json!(["org_owner", "platform_admin"])), 403, "PERMISSION_DENIED"),
        c("owner", "POST", SET, set(&plain_id, json!(["platform_admin"])), 403, "PERMISSION_DENIED"),
        c("owner", "POST", SET, set(&admin_id, json!(["everyone"])), 403, "PERMISSION_DENIED"),
        c("owner", "POST", SET, set(&other_id, json!(["everyone"])), 404, "RECORD_NOT_FOUND"),
        c("plain", "POST", SET, set(&plain_id, json!(["org_owner"])), 403, "PERMISSION_DENIED"),
        c("anonymous", "POST", SET, set(&plain_id, json!(["org_owner"])), 401, "UNAUTHENTICATED"),
        // bind-permission-sets
        c("owner", "POST", BIND, bind.clone(), 403, "PERMISSION_DENIED"),
        c("owner_key", "POST", BIND, bind.clone(), 403, "PERMISSION_DENIED"),
        c("plain", "POST", BIND, bind.clone(), 403, "PERMISSION_DENIED"),
        c("anonymous", "POST", BIND, bind.clone(), 401, "UNAUTHENTICATED"),
        // ban-user / unban-user
        c("owner", "POST", BAN, uid(&admin_id), 403, "PERMISSION_DENIED"),
        c("owner", "POST", BAN, uid(&other_id), 404, "RECORD_NOT_FOUND"),
        c("owner", "POST", BAN, uid(&owner_id), 403, "PERMISSION_DENIED"),
        c("owner_key", "POST", BAN, uid(&admin_id), 403, "PERMISSION_DENIED"),
        c("plain", "POST", BAN, uid(&owner_id), 403, "PERMISSION_DENIED"),
        c("anonymous", "POST", BAN, uid(&plain_id), 401, "UNAUTHENTICATED"),
        c("owner", "POST", UNBAN, uid(&other_id), 404, "RECORD_NOT_FOUND"),
        c("plain", "POST", UNBAN, uid(&plain_id), 403, "PERMISSION_DENIED"),
        c("anonymous", "POST", UNBAN, uid(&plain_id), 401, "UNAUTHENTICATED"),
        // api-keys: issue, list, revoke
        c("plain", "POST", KEYS, json!({"name": "k"}), 403, "PERMISSION_DENIED"),
        c("owner_key", "POST", KEYS, json!({"name": "k"}), 403, "PERMISSION_DENIED"),
        c("admin_key", "POST", KEYS, json!({"name": "k"}), 403, "PERMISSION_DENIED"),
        c("anonymous", "POST", KEYS, json!({"name": "k"}), 401, "UNAUTHENTICATED"),
        c("owner_key", "GET", KEYS, Value::Null, 403, "PERMISSION_DENIED"),
        c("anonymous", "GET", KEYS, Value::Null, 401, "UNAUTHENTICATED"),
        c("owner", "DELETE", revoke_admin_key, Value::Null, 404, "RECORD_NOT_FOUND"),
        c("plain", "DELETE", revoke_owner_key, Value::Null, 404, "RECORD_NOT_FOUND"),
        c("owner_key", "DELETE", revoke_owner_key, Value::Null, 403, "PERMISSION_DENIED"),
        c("anonymous", "DELETE", revoke_owner_key, Value::Null, 401, "UNAUTHENTICATED"),
        // the audit log is the platform administrator's
        c("owner", "GET", AUDIT, Value::Null, 404, "OBJECT_NOT_FOUND"),
        c("owner_key", "GET", AUDIT, Value::Null, 404, "OBJECT_NOT_FOUND"),
        c("plain", "GET", AUDIT, Value::Null, 404, "OBJECT_NOT_FOUND"),
        c("anonymous", "GET", AUDIT, Value::Null, 401, "UNAUTHENTICATED"),
    ];
    for case in &refusals {
        let before = snapshot(&s).await;
        let r = call(
            &s,
            case.method,
            case.path,
            case.body.clone(),
            token(case.who).as_deref(),
            &[],
        )
        .await;
        assert_eq!(
            (r.status, r.code()),
            (case.status, case.code),
            "{} {} {} {}: {:?}",
            case.who,
            case.method,
            case.path,
            case.body,
            r.body
        );
        assert_eq!(
            snapshot(&s).await,
            before,
            "{} {} {} wrote",
            case.who,
            case.method,
            case.path
        );
    }
    // What each role may do (in an order that keeps the roles intact).
    #[rustfmt::skip]
    let allowed = vec![
        c("plain", "GET", KEYS, Value::Null, 200, ""),
        c("owner", "GET", KEYS, Value::Null, 200, ""),
        c("owner", "POST", CREATE, new_user("b1@example.com", json!(["t_reader"])), 200, ""),
        c("owner_key", "POST", CREATE, new_user("b2@example.com", json!(["org_owner"])), 200, ""),
        c("owner", "POST", SET, set(&plain_id, json!(["t_writer", "everyone"])), 200, ""),
        c("owner", "POST", BAN, uid(&plain_id), 200, ""),
        c("owner", "POST", UNBAN, uid(&plain_id), 200, ""),
        c("admin", "POST", SET, set(&other_id, json!(["org_owner", "everyone"])), 200, ""),
        c("admin_key", "POST", BIND, bind.clone(), 200, ""),
        c("admin", "POST", CREATE, new_user("b3@example.com", json!(["platform_admin"])), 200, ""),
        c("admin", "GET", AUDIT, Value::Null, 200, ""),
        c("admin", "DELETE", revoke_owner_key, Value::Null, 200, ""),
        c("owner", "DELETE", revoke_admin_key, Value::Null, 404, "RECORD_NOT_FOUND"),
        c("admin", "DELETE", revoke_admin_key, Value::Null, 200, ""),
    ];
    for case in &allowed {
        let r = call(
            &s,
            case.method,
            case.path,
            case.body.clone(),
            token(case.who).as_deref(),
            &[],
        )
        .await;
        assert_eq!(
            r.status, case.status,
            "{} {} {}: {:?}",
            case.who, case.method, case.path, r.body
        );
    }
    // The owner's grant of org_owner to b2 happened in its own organization; b3 is a platform admin (flag kept in
    // step with the position).
    let users = rows(&s, "sys_user").await;
    let by_email = |e: &str| {
        users
            .iter()
            .find(|u| u["email"] == json!(e))
            .cloned()
            .unwrap()
    };
    assert_eq!(
        by_email("b2@example.com")["organization_id"],
        by_email("owner@example.com")["organization_id"]
    );
    assert_eq!(by_email("b3@example.com")["is_platform_admin"], json!(true));
    assert_eq!(
        by_email("owner@example.com")["is_platform_admin"],
        json!(false)
    );
    // A platform admin takes platform_admin away again; its holder is then an ordinary user.
    let b3 = by_email("b3@example.com")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = call(
        &s,
        "POST",
        SET,
        set(&b3, json!(["everyone"])),
        Some(&admin),
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    let users = rows(&s, "sys_user").await;
    let b3_row = users.iter().find(|u| u["id"] == json!(b3)).unwrap();
    assert_eq!(b3_row["is_platform_admin"], json!(false));
});

on_both!(api_key_expiry_revocation_and_bans, |db, test| {
    let (s, _) = boot(
        db,
        test,
        config(|c| c.auth.api_key_max_ttl = Duration::from_secs(86_400)),
    )
    .await;
    let admin = s.sign_up("admin@example.com", ADMIN_PW).await;
    let create = |body: Value| {
        let s = &s;
        let admin = admin.clone();
        async move { call(s, "POST", "/api/v1/auth/api-keys", body, Some(&admin), &[]).await }
    };
    // Expiry requests outside the documented bounds.
    let future = chrono::Utc::now() + chrono::Duration::hours(2);
    let too_far = chrono::Utc::now() + chrono::Duration::days(3);
    for (body, field) in [
        (json!({"name": "k", "expiresIn": 0}), "expiresIn"),
        (json!({"name": "k", "expiresIn": 86_401}), "expiresIn"),
        (json!({"name": "k", "expiresIn": "soon"}), "expiresIn"),
        (
            json!({"name": "k", "expiresAt": "2001-01-01T00:00:00Z"}),
            "expiresAt",
        ),
        (
            json!({"name": "k", "expiresAt": too_far.to_rfc3339()}),
            "expiresAt",
        ),
        (json!({"name": "k", "expiresAt": "someday"}), "expiresAt"),
        (
            json!({"name": "k", "expiresIn": 60, "expiresAt": future.to_rfc3339()}),
            "expiresAt",
        ),
    ] {
        let r = create(body.clone()).await;
        assert_eq!(
            (r.status, r.code(), r.body["fields"][0]["field"].clone()),
            (400, "VALIDATION_FAILED", json!(field)),
            "{body}"
        );
    }
    assert!(rows(&s, "sys_api_key").await.is_empty());
    // Without an expiry a key gets the maximum; with one, that one.
    let r = create(json!({"name": "default"})).await;
    assert_eq!(r.status, 201);
    let expires = chrono::DateTime::parse_from_rfc3339(
        r.body["data"]["apiKey"]["expires_at"].as_str().unwrap(),
    )
    .unwrap();
    let day = chrono::Utc::now() + chrono::Duration::days(1);
    assert!(
        (expires.timestamp() - day.timestamp()).abs() < 600,
        "{expires}"
    );
    let r = create(json!({"name": "at", "expiresAt": future.to_rfc3339()})).await;
    assert_eq!(r.status, 201);
    let key = r.body["data"]["key"].as_str().unwrap().to_string();
    let key_id = r.body["data"]["apiKey"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        s.call("GET", "/api/v1/data/t_category", Value::Null, Some(&key))
            .await
            .status,
        200
    );
    // Listed without secrets.
    let list = call(
        &s,
        "GET",
        "/api/v1/auth/api-keys",
        Value::Null,
        Some(&admin),
        &[],
    )
    .await;
    assert_eq!(list.status, 200);
    let keys = list.body["data"]["apiKeys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert!(
        keys.iter()
            .all(|k| k.get("key_hash").is_none() && k["key_prefix"].is_string())
    );
    // An expired key is refused.
    let r = create(json!({"name": "short", "expiresIn": 3600})).await;
    let short = r.body["data"]["key"].as_str().unwrap().to_string();
    let short_id = r.body["data"]["apiKey"]["id"].as_str().unwrap().to_string();
    system_update(
        &s,
        "sys_api_key",
        &short_id,
        json!({"expires_at": "2001-01-01T00:00:00.000Z"}),
    )
    .await;
    let r = s
        .call("GET", "/api/v1/data/t_category", Value::Null, Some(&short))
        .await;
    assert_eq!((r.status, r.code()), (401, "UNAUTHENTICATED"));
    // Revocation takes effect at once; revoking again is harmless; an unknown id is 404.
    let path = format!("/api/v1/auth/api-keys/{key_id}");
    let r = call(&s, "DELETE", &path, Value::Null, Some(&admin), &[]).await;
    assert_eq!(
        (r.status, r.body["data"]["apiKey"]["revoked"].clone()),
        (200, json!(true))
    );
    let r = s
        .call("GET", "/api/v1/data/t_category", Value::Null, Some(&key))
        .await;
    assert_eq!((r.status, r.code()), (401, "UNAUTHENTICATED"));
    assert_eq!(
        call(&s, "DELETE", &path, Value::Null, Some(&admin), &[])
            .await
            .status,
        200
    );
    let r = call(
        &s,
        "DELETE",
        "/api/v1/auth/api-keys/nope",
        Value::Null,
        Some(&admin),
        &[],
    )
    .await;
    assert_eq!((r.status, r.code()), (404, "RECORD_NOT_FOUND"));
    // A banned user's key and sessions are refused, and they cannot sign in; unbanned, the key works again.
    let (owner_id, owner) = user(&s, &admin, "owner@example.com", json!(["org_owner"])).await;
    let r = call(
        &s,
        "POST",
        "/api/v1/auth/api-keys",
        json!({"name": "o"}),
        Some(&owner),
        &[],
    )
    .await;
    let owner_key = r.body["data"]["key"].as_str().unwrap().to_string();
    assert_eq!(
        s.call(
            "GET",
            "/api/v1/data/t_category",
            Value::Null,
            Some(&owner_key)
        )
        .await
        .status,
        200
    );
    assert_eq!(
        s.call("GET", "/api/v1/data/t_category", Value::Null, Some(&owner))
            .await
            .status,
        200
    );
    let r = call(
        &s,
        "POST",
        "/api/v1/auth/admin/ban-user",
        json!({"userId": owner_id}),
        Some(&admin),
        &[],
    )
    .await;
    assert_eq!(
        (r.status, r.body["data"]["user"]["banned"].clone()),
        (200, json!(true))
    );
    for t in [&owner_key, &owner] {
        let r = s
            .call("GET", "/api/v1/data/t_category", Value::Null, Some(t))
            .await;
        assert_eq!((r.status, r.code()), (401, "UNAUTHENTICATED"));
    }
    let r = sign_in(&s, "owner@example.com", ADMIN_PW, &[]).await;
    assert_eq!((r.status, r.code()), (401, "INVALID_EMAIL_OR_PASSWORD"));
    let r = call(
        &s,
        "POST",
        "/api/v1/auth/admin/unban-user",
        json!({"userId": owner_id}),
        Some(&admin),
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        s.call(
            "GET",
            "/api/v1/data/t_category",
            Value::Null,
            Some(&owner_key)
        )
        .await
        .status,
        200
    );
    // The ban ended the sessions: the old one stays dead.
    assert_eq!(
        s.call("GET", "/api/v1/data/t_category", Value::Null, Some(&owner))
            .await
            .status,
        401
    );
    // A key acts with its creator's current rights: demoted, the owner's key administers nothing.
    let r = call(
        &s,
        "POST",
        "/api/v1/auth/admin/set-positions",
        json!({"userId": owner_id, "positions": ["everyone"]}),
        Some(&admin),
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    let r = call(
        &s,
        "POST",
        "/api/v1/auth/admin/create-user",
        json!({"email": "z@example.com", "password": "Initial-123456"}),
        Some(&owner_key),
        &[],
    )
    .await;
    assert_eq!((r.status, r.code()), (403, "PERMISSION_DENIED"));
});
