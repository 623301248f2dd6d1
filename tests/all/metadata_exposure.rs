//! What metadata, OpenAPI, health and discovery tell a caller: a signed-in user sees only the objects and fields
//! the kernel lets it read, and no permission sets, hooks, seeds, datasources or code; a platform administrator
//! sees everything; an anonymous caller sees only the health headline.

use crate::support::{Db, Server, start_server};
use serde_json::{Value, json};

/// The expense fixture (permission sets, hooks with sources, seed data, an action with a body) plus two objects:
/// `mx_open`, readable by every user except its `salary`, and `mx_hidden`, readable by no ordinary user.
fn artifact() -> Value {
    let mut a: Value =
        serde_json::from_str(include_str!("../fixtures/expense/objectstack.json")).expect("JSON");
    let objects = a["objects"].as_array_mut().expect("objects");
    objects.push(json!({
        "name": "mx_open", "label": "Open",
        "fields": {"title": {"type": "text"}, "salary": {"type": "number"}, "code": {"type": "text"}}
    }));
    objects.push(
        json!({"name": "mx_hidden", "label": "Hidden", "fields": {"title": {"type": "text"}}}),
    );
    a["actions"].as_array_mut().expect("actions").push(json!({
        "name": "mx_touch", "label": "Touch", "objectName": "mx_open", "type": "script",
        "body": {"language": "js", "source": "return 'secret logic';"}
    }));
    a["permissions"]
        .as_array_mut()
        .expect("permissions")
        .push(json!({
            "name": "mx_everyone", "isDefault": true,
            "objects": {"mx_open": {"allowRead": true, "allowCreate": true}},
            "fields": {"mx_open.salary": {"readable": false, "editable": false}}
        }));
    a
}

async fn server() -> (Server, String, String) {
    let http = objectos_host::http::HttpConfig {
        open_signup: true,
        ..Default::default()
    };
    let s = start_server(Db::Sqlite, "", artifact(), http).await;
    let admin = s.sign_up("admin@example.com", "Passw0rd!Passw0rd").await;
    let user = s.sign_up("user@example.com", "Passw0rd!Passw0rd").await;
    (s, admin, user)
}

fn names(items: &Value) -> Vec<String> {
    items
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|o| o["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_user_sees_only_the_objects_and_fields_it_may_read() {
    let (s, admin, user) = server().await;
    let u = Some(user.as_str());
    // The data path and the metadata agree: exp_report is not readable by this user.
    let r = s
        .call("GET", "/api/v1/data/exp_report", Value::Null, u)
        .await;
    assert_eq!(r.status, 403, "{:?}", r.body);

    let r = s.call("GET", "/api/v1/meta/object", Value::Null, u).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(names(&r.body["items"]), vec!["mx_open"], "{:?}", r.body);
    let open = &r.body["items"][0];
    assert!(open["fields"]["title"].is_object(), "{open:?}");
    assert!(open["fields"]["salary"].is_null(), "{open:?}");
    // A field named `code` is a field, not code.
    assert!(open["fields"]["code"].is_object(), "{open:?}");
    // Its action is listed without its body.
    assert_eq!(open["actions"][0]["name"], "mx_touch", "{open:?}");
    assert!(open["actions"][0]["body"].is_null(), "{open:?}");

    let r = s
        .call("GET", "/api/v1/meta/object/mx_open", Value::Null, u)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body["item"]["fields"]["salary"].is_null(), "{:?}", r.body);
    assert!(
        r.body["sortability"]["fields"]["salary"].is_null(),
        "{:?}",
        r.body
    );
    let r = s
        .call(
            "GET",
            "/api/v1/meta/object/mx_open/state/salary",
            Value::Null,
            u,
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "RESOURCE_NOT_FOUND"));

    // An object the user cannot read answers as one that does not exist.
    let missing = s
        .call("GET", "/api/v1/meta/object/no_such_object", Value::Null, u)
        .await;
    for hidden in ["exp_report", "mx_hidden"] {
        let r = s
            .call(
                "GET",
                &format!("/api/v1/meta/object/{hidden}"),
                Value::Null,
                u,
            )
            .await;
        assert_eq!((r.status, r.code()), (missing.status, missing.code()));
        assert_eq!(
            r.body["error"].as_str().map(|m| m.replace(hidden, "X")),
            missing.body["error"]
                .as_str()
                .map(|m| m.replace("no_such_object", "X")),
        );
        let r = s
            .call(
                "GET",
                &format!("/api/v1/meta/object/{hidden}/state/status"),
                Value::Null,
                u,
            )
            .await;
        assert_eq!((r.status, r.code()), (404, "RESOURCE_NOT_FOUND"));
    }
    // Actions of unreadable objects are not listed; the readable one comes without its body.
    let r = s.call("GET", "/api/v1/meta/action", Value::Null, u).await;
    assert_eq!(names(&r.body["items"]), vec!["mx_touch"], "{:?}", r.body);
    assert!(r.body["items"][0]["body"].is_null(), "{:?}", r.body);

    // The administrator sees all of it.
    let a = Some(admin.as_str());
    let r = s.call("GET", "/api/v1/meta/object", Value::Null, a).await;
    let all = names(&r.body["items"]);
    for n in ["exp_report", "mx_open", "mx_hidden"] {
        assert!(all.iter().any(|x| x == n), "{n} in {all:?}");
    }
    let r = s
        .call("GET", "/api/v1/meta/object/mx_open", Value::Null, a)
        .await;
    assert!(
        r.body["item"]["fields"]["salary"].is_object(),
        "{:?}",
        r.body
    );
    assert!(
        r.body["item"]["actions"][0]["body"]["source"].is_string(),
        "{:?}",
        r.body
    );
}

#[tokio::test]
async fn internals_are_for_platform_administrators_only() {
    let (s, admin, user) = server().await;
    let (u, a) = (Some(user.as_str()), Some(admin.as_str()));
    let r = s.call("GET", "/api/v1/meta/types", Value::Null, u).await;
    let types: Vec<&str> = r.body["types"]
        .as_array()
        .expect("types")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(types.contains(&"object") && types.contains(&"action"));
    for kind in ["permission", "hook", "flow", "job", "seed", "datasource"] {
        assert!(!types.contains(&kind), "{kind} in {types:?}");
        let r = s
            .call("GET", &format!("/api/v1/meta/{kind}"), Value::Null, u)
            .await;
        assert_eq!((r.status, r.code()), (404, "RESOURCE_NOT_FOUND"), "{kind}");
    }
    let r = s
        .call("GET", "/api/v1/meta/permission/mx_everyone", Value::Null, u)
        .await;
    assert_eq!((r.status, r.code()), (404, "RESOURCE_NOT_FOUND"));
    let r = s
        .call(
            "GET",
            "/api/v1/meta/hook/exp_report_on_create",
            Value::Null,
            u,
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "RESOURCE_NOT_FOUND"));

    let r = s.call("GET", "/api/v1/meta/types", Value::Null, a).await;
    assert!(
        r.body["types"]
            .as_array()
            .is_some_and(|t| t.contains(&json!("permission"))),
        "{:?}",
        r.body
    );
    let r = s
        .call(
            "GET",
            "/api/v1/meta/hook/exp_report_on_create",
            Value::Null,
            a,
        )
        .await;
    assert!(r.body["item"]["body"]["source"].is_string(), "{:?}", r.body);
    let r = s
        .call("GET", "/api/v1/meta/permission", Value::Null, a)
        .await;
    assert!(
        names(&r.body["items"]).contains(&"mx_everyone".to_string()),
        "{:?}",
        r.body
    );
    let r = s.call("GET", "/api/v1/meta/seed", Value::Null, a).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[tokio::test]
async fn openapi_needs_credentials_and_describes_the_callers_objects() {
    let (s, admin, user) = server().await;
    let r = s
        .call("GET", "/api/v1/openapi.json", Value::Null, None)
        .await;
    assert_eq!((r.status, r.code()), (401, "UNAUTHENTICATED"));
    let r = s
        .call("GET", "/api/v1/openapi.json", Value::Null, Some(&user))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let schemas = &r.body["components"]["schemas"];
    assert!(schemas["mx_open"]["properties"]["title"].is_object());
    assert!(schemas["mx_open"]["properties"]["salary"].is_null());
    for hidden in ["exp_report", "mx_hidden"] {
        assert!(schemas[hidden].is_null(), "{hidden}");
        assert!(r.body["paths"][format!("/api/v1/data/{hidden}")].is_null());
    }
    let r = s
        .call("GET", "/api/v1/openapi.json", Value::Null, Some(&admin))
        .await;
    let schemas = &r.body["components"]["schemas"];
    assert!(schemas["mx_open"]["properties"]["salary"].is_object());
    assert!(schemas["exp_report"].is_object());
}

#[tokio::test]
async fn health_details_are_for_platform_administrators() {
    let (s, admin, user) = server().await;
    for token in [None, Some(user.as_str())] {
        let r = s.call("GET", "/api/v1/health", Value::Null, token).await;
        assert_eq!((r.status, &r.body), (200, &json!({"status": "ok"})));
    }
    let r = s
        .call("GET", "/api/v1/health", Value::Null, Some(&admin))
        .await;
    assert_eq!(r.body["database"]["status"], "up", "{:?}", r.body);
    assert!(r.body["plugins"].is_array(), "{:?}", r.body);
}
