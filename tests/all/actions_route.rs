//! The action route against hostile callers: anonymous, another organization's records, escalation through
//! `runAs`, capabilities that are not held, and oversized or malformed params. A body runs elevated only within
//! its caller's organization and still reaches data only through `Kernel::execute`; a client's mistake is
//! never a 500.

use crate::support::{Db, Server, start_server_with};
use serde_json::{Value, json};

fn artifact() -> Value {
    let body = |source: &str| json!({"language": "js", "capabilities": ["api.read", "api.write"], "source": source});
    let touch = "await ctx.api.object('ar_note').update({ id: ctx.recordId, title: 'touched' }); return { id: ctx.recordId };";
    json!({
        "manifest": {"id": "com.example.actions_route", "name": "actions_route", "version": "1.0.0"},
        "objects": [{
            "name": "ar_note", "label": "Note",
            "fields": {
                "title": {"type": "text", "label": "Title"},
                "secret": {"type": "text", "label": "Secret"}
            }
        }],
        "positions": [{"name": "ar_reader"}, {"name": "ar_capable"}],
        "permissions": [
            {"name": "ar_reader", "objects": {"ar_note": {"allowCreate": true, "allowRead": true}},
             "fields": {"ar_note.secret": {"readable": false, "editable": false}}},
            {"name": "ar_capable", "objects": {"ar_note": {"allowCreate": true, "allowRead": true}},
             "systemPermissions": ["ar_purge"]}
        ],
        "actions": [
            {"name": "ar_touch", "objectName": "ar_note", "type": "script", "body": body(touch)},
            {"name": "ar_touch_as_user", "objectName": "ar_note", "type": "script", "runAs": "user",
             "body": body(touch)},
            {"name": "ar_find", "objectName": "ar_note", "type": "script",
             "params": [{"name": "target", "type": "text", "required": true}],
             "body": body("var r = await ctx.api.object('ar_note').findOne({ where: { id: ctx.input.target } }); return { found: !!r };")},
            {"name": "ar_count", "objectName": "ar_note", "type": "script",
             "body": body("var rows = await ctx.api.object('ar_note').find({}); return { count: rows.length, secrets: rows.filter(function (r) { return r.secret; }).length };")},
            {"name": "ar_users", "objectName": "ar_note", "type": "script",
             "body": body("return await ctx.api.object('sys_user').find({});")},
            {"name": "ar_purge", "objectName": "ar_note", "type": "script",
             "requiredPermissions": ["ar_purge"], "body": body("return { purged: true };")}
        ]
    })
}

/// The server, the admin's token, a reader's token and id, a capable user's token, and an outsider (another
/// organization) with its token.
struct World {
    s: Server,
    admin: String,
    reader: String,
    reader_id: String,
    capable: String,
    outsider: String,
}

async fn world(name: &str) -> World {
    let s = start_server_with(Db::Sqlite, name, artifact(), Default::default(), |cfg| {
        cfg.js_runtime = Some(crate::support::js_runtime())
    })
    .await;
    let admin = s.sign_up("admin@example.com", "Passw0rd!Passw0rd").await;
    for position in ["ar_reader", "ar_capable"] {
        let r = s
            .call(
                "POST",
                "/api/v1/auth/admin/bind-permission-sets",
                json!({"position": position, "permissionSets": [position]}),
                Some(&admin),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let (reader, reader_id) = s
        .create_user(&admin, "reader@example.com", &["ar_reader"])
        .await;
    let (capable, _) = s
        .create_user(&admin, "capable@example.com", &["ar_capable"])
        .await;
    // Someone of another organization: an administrator of that organization creates the user.
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
        &["ar_reader".to_string()],
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
    let outsider = r.body["token"].as_str().expect("token").to_string();
    let r = s
        .call(
            "POST",
            "/api/v1/auth/change-password",
            json!({"currentPassword": "Initial-123456", "newPassword": "Chosen-123456"}),
            Some(&outsider),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    World {
        s,
        admin,
        reader,
        reader_id,
        capable,
        outsider,
    }
}

async fn note(s: &Server, token: &str, title: &str) -> String {
    let r = s
        .call(
            "POST",
            "/api/v1/data/ar_note",
            json!({"title": title}),
            Some(token),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_str().expect("id").to_string()
}

fn act(name: &str, id: Option<&str>) -> String {
    match id {
        Some(id) => format!("/api/v1/actions/ar_note/{name}/{id}"),
        None => format!("/api/v1/actions/ar_note/{name}"),
    }
}

/// `{success: false, error: {code, httpStatus}}` with this status and code.
fn refused(r: &crate::support::Reply, status: u16, code: &str) {
    assert_eq!(
        (
            r.status,
            r.body["success"].clone(),
            r.body["error"]["code"].as_str()
        ),
        (status, json!(false), Some(code)),
        "{:?}",
        r.body
    );
    if status != 405 {
        assert_eq!(r.body["error"]["httpStatus"], json!(status), "{:?}", r.body);
    }
}

#[tokio::test]
async fn hostile_callers_of_the_action_route() {
    let w = world("actions_route_hostile").await;
    let s = &w.s;
    let mine = note(s, &w.admin, "Org A note").await;

    // Anonymous: 401 in the action envelope, for any method (the route's shape is not disclosed).
    let r = s
        .call("POST", &act("ar_touch", Some(&mine)), json!({}), None)
        .await;
    refused(&r, 401, "UNAUTHENTICATED");
    let r = s
        .call("GET", &act("ar_touch", Some(&mine)), Value::Null, None)
        .await;
    refused(&r, 401, "UNAUTHENTICATED");
    let r = s
        .call(
            "POST",
            &act("ar_touch", Some(&mine)),
            json!({}),
            Some("forged.token"),
        )
        .await;
    assert_eq!(r.status, 401, "{:?}", r.body);
    // Signed in, any other method is 405.
    let r = s
        .call(
            "GET",
            &act("ar_touch", Some(&mine)),
            Value::Null,
            Some(&w.reader),
        )
        .await;
    refused(&r, 405, "METHOD_NOT_ALLOWED");
    assert_eq!(r.body["error"]["details"]["allowed"], json!(["POST"]));

    // Undeclared actions and unknown objects are the same 404.
    let r = s
        .call(
            "POST",
            &act("ar_nothing", Some(&mine)),
            json!({}),
            Some(&w.reader),
        )
        .await;
    refused(&r, 404, "RESOURCE_NOT_FOUND");
    let r = s
        .call(
            "POST",
            "/api/v1/actions/sys_user/ar_touch",
            json!({}),
            Some(&w.reader),
        )
        .await;
    refused(&r, 404, "RESOURCE_NOT_FOUND");

    // A reader may not edit notes, but the action's body runs elevated within the organization: the write
    // happens, stamped with the reader's id.
    let r = s
        .call(
            "POST",
            &act("ar_touch", Some(&mine)),
            json!({}),
            Some(&w.reader),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body, json!({"success": true, "data": {"id": mine}}));
    let r = s
        .call(
            "GET",
            &format!("/api/v1/data/ar_note/{mine}"),
            Value::Null,
            Some(&w.admin),
        )
        .await;
    assert_eq!(r.body["record"]["title"], "touched");
    assert_eq!(r.body["record"]["updated_by"], json!(w.reader_id));
    // The record id may come in the body.
    let r = s
        .call(
            "POST",
            &act("ar_touch", None),
            json!({"recordId": mine}),
            Some(&w.reader),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // Escalation by runAs: an action declaring runAs: user acts as its caller; nothing in the request can
    // change who a body runs as.
    let r = s
        .call(
            "POST",
            &act("ar_touch_as_user", Some(&mine)),
            json!({"runAs": "system", "params": {"runAs": "system"}}),
            Some(&w.reader),
        )
        .await;
    refused(&r, 403, "PERMISSION_DENIED");

    // Another organization's record: not found to the outsider (the record is read as the caller), and an
    // elevated body cannot reach it either.
    let theirs = note(s, &w.outsider, "Org B note").await;
    let r = s
        .call(
            "POST",
            &act("ar_touch", Some(&mine)),
            json!({}),
            Some(&w.outsider),
        )
        .await;
    refused(&r, 404, "RECORD_NOT_FOUND");
    let r = s
        .call(
            "POST",
            &act("ar_touch", None),
            json!({"recordId": mine}),
            Some(&w.outsider),
        )
        .await;
    refused(&r, 404, "RECORD_NOT_FOUND");
    let r = s
        .call(
            "POST",
            &act("ar_find", Some(&theirs)),
            json!({"params": {"target": mine}}),
            Some(&w.outsider),
        )
        .await;
    assert_eq!(r.body, json!({"success": true, "data": {"found": false}}));
    let r = s
        .call("POST", &act("ar_count", None), json!({}), Some(&w.outsider))
        .await;
    assert_eq!(
        r.body,
        json!({"success": true, "data": {"count": 1, "secrets": 0}})
    );
    let r = s
        .call(
            "GET",
            &format!("/api/v1/data/ar_note/{mine}"),
            Value::Null,
            Some(&w.admin),
        )
        .await;
    assert_eq!(
        r.body["record"]["title"], "touched",
        "org A's note unchanged"
    );
    // Elevated code never reaches the runtime's own objects.
    let r = s
        .call("POST", &act("ar_users", None), json!({}), Some(&w.reader))
        .await;
    assert!(
        r.status >= 400 && r.status < 500 && r.body["success"] == json!(false),
        "{:?}",
        r.body
    );
    assert!(
        !r.body.to_string().contains("admin@example.com"),
        "{:?}",
        r.body
    );

    // requiredPermissions: checked against the caller's permission sets' systemPermissions; a platform
    // admin holds none by position alone.
    for token in [&w.reader, &w.admin] {
        let r = s
            .call("POST", &act("ar_purge", None), json!({}), Some(token))
            .await;
        refused(&r, 403, "PERMISSION_DENIED");
        assert_eq!(
            r.body["error"]["message"],
            "Action 'ar_purge' on 'ar_note' requires capability [ar_purge] \u{2014} caller is missing [ar_purge]"
        );
    }
    let r = s
        .call("POST", &act("ar_purge", None), json!({}), Some(&w.capable))
        .await;
    assert_eq!(r.body, json!({"success": true, "data": {"purged": true}}));
}

#[tokio::test]
async fn malformed_and_oversized_params_are_refused_not_crashed() {
    let w = world("actions_route_params").await;
    let s = &w.s;
    let mine = note(s, &w.admin, "A note").await;
    // Params that are not an object are no params.
    for body in [
        json!({"params": []}),
        json!({"params": "x"}),
        json!([1, 2]),
        json!("text"),
    ] {
        let r = s
            .call(
                "POST",
                &act("ar_find", Some(&mine)),
                body.clone(),
                Some(&w.reader),
            )
            .await;
        refused(&r, 400, "VALIDATION_ERROR");
        assert_eq!(
            r.body["error"]["message"],
            "Invalid action params: Action param \"target\" is required",
            "{body}"
        );
    }
    // Wrong types and undeclared keys.
    let r = s
        .call(
            "POST",
            &act("ar_find", Some(&mine)),
            json!({"params": {"target": 7, "extra": true}}),
            Some(&w.reader),
        )
        .await;
    refused(&r, 400, "VALIDATION_ERROR");
    let message = r.body["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("\"target\" (text)") && message.contains("Unknown action param \"extra\""),
        "{message}"
    );
    // A record id that is not a string.
    let r = s
        .call(
            "POST",
            &act("ar_touch", None),
            json!({"recordId": {"$ne": null}}),
            Some(&w.reader),
        )
        .await;
    refused(&r, 400, "VALIDATION_ERROR");
    // Not JSON, nested too deep, larger than the body limit.
    let raw = |body: String| {
        let url = format!("{}{}", s.base, act("ar_count", None));
        let req = s
            .http
            .post(url)
            .bearer_auth(&w.reader)
            .header("content-type", "application/json")
            .body(body);
        async move {
            let resp = req.send().await.expect("request");
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            (status, body)
        }
    };
    let (status, body) = raw("{not json".into()).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!("VALIDATION_ERROR"))
    );
    let deep = format!(
        "{{\"params\": {{\"a\": {}{}}}}}",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let (status, body) = raw(deep).await;
    assert_eq!(
        (status, body["success"].clone()),
        (400, json!(false)),
        "{body:?}"
    );
    let huge = format!(
        "{{\"params\": {{\"a\": \"{}\"}}}}",
        "x".repeat(3 * 1024 * 1024)
    );
    let (status, body) = raw(huge).await;
    assert_eq!(status, 413, "{body:?}");
    assert_eq!(body["error"]["code"], "PAYLOAD_TOO_LARGE");
    // A large but accepted params object is handed to the body and the server answers.
    let big = json!({"params": {"blob": "y".repeat(200 * 1024)}});
    let r = s
        .call("POST", &act("ar_count", None), big, Some(&w.reader))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["data"]["count"], json!(1));
}
