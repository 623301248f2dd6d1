//! The security rows through the data routes (`sys_position`, `sys_permission_set`, `sys_position_permission_set`,
//! `sys_user_position`): only a platform administrator reaches them, the mirrors of the artifact stay read-only,
//! references are checked, and a binding or assignment takes effect, and is revoked, at once (cached sessions
//! are resolved again).

use crate::support::{Db, Server, fixture_json, start_server_with};
use serde_json::{Value, json};

const PPS: &str = "/api/v1/data/sys_position_permission_set";
const UP: &str = "/api/v1/data/sys_user_position";

async fn server(db: Db) -> Server {
    start_server_with(
        db,
        "security_rows",
        fixture_json("tests/fixtures/expense/objectstack.json"),
        Default::default(),
        |cfg| cfg.js_runtime = Some(crate::support::js_runtime()),
    )
    .await
}

async fn id_of(s: &Server, admin: &str, object: &str, name: &str) -> String {
    let r = s
        .call(
            "GET",
            &format!("/api/v1/data/{object}?name={name}&select=id,name"),
            Value::Null,
            Some(admin),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["records"][0]["id"].as_str().expect("id").to_string()
}

async fn run(db: Db) {
    let s = server(db).await;
    let admin = s.sign_up("admin@rows.test", "Passw0rd!Passw0rd").await;
    let (emp, emp_id) = s.create_user(&admin, "emp@rows.test", &[]).await;
    let position = id_of(&s, &admin, "sys_position", "exp_employee").await;
    let set = id_of(&s, &admin, "sys_permission_set", "exp_employee_access").await;

    // Without a position bound to a permission set, the employee reads no reports.
    let reports = "/api/v1/data/exp_report?select=title";
    assert_eq!(
        s.call("GET", reports, Value::Null, Some(&emp)).await.status,
        403
    );

    // A non-administrator reaches none of the security rows, to read or to write.
    for path in [
        "/api/v1/data/sys_position",
        "/api/v1/data/sys_permission_set",
        PPS,
        UP,
    ] {
        let r = s.call("GET", path, Value::Null, Some(&emp)).await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
    }
    let r = s
        .call(
            "POST",
            PPS,
            json!({"position_id": position, "permission_set_id": set}),
            Some(&emp),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = s
        .call(
            "POST",
            UP,
            json!({"user_id": emp_id, "position": "exp_director"}),
            Some(&emp),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);

    // The mirrors of the artifact are read-only, even for the administrator.
    let r = s
        .call(
            "POST",
            "/api/v1/data/sys_permission_set",
            json!({"name": "everything"}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (403, "PERMISSION_DENIED"),
        "{}",
        r.body
    );
    let r = s
        .call(
            "PATCH",
            &format!("/api/v1/data/sys_position/{position}"),
            json!({"name": "platform_admin"}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (403, "PERMISSION_DENIED"),
        "{}",
        r.body
    );

    // References are checked: an unknown position or user is refused, nothing is written.
    let r = s
        .call(
            "POST",
            PPS,
            json!({"position_id": "position_nosuchposition", "permission_set_id": set}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = s
        .call(
            "POST",
            UP,
            json!({"user_id": "no-such-user-0001", "position": "exp_employee"}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);

    // Bind and assign as the real server does: the employee reads reports at once.
    let r = s
        .call(
            "POST",
            PPS,
            json!({"position_id": position, "permission_set_id": set}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let binding = r.body["id"].as_str().expect("id").to_string();
    let r = s
        .call(
            "POST",
            UP,
            json!({"user_id": emp_id, "position": "exp_employee"}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let assignment = r.body["id"].as_str().expect("id").to_string();
    assert_eq!(
        s.call("GET", reports, Value::Null, Some(&emp)).await.status,
        200
    );
    let session = s
        .call("GET", "/api/v1/auth/get-session", Value::Null, Some(&emp))
        .await;
    assert_eq!(
        session.body["user"]["positions"],
        json!(["org_member", "exp_employee", "everyone"])
    );

    // Deleting the binding revokes it at once, though the employee's session was cached.
    let r = s
        .call(
            "DELETE",
            &format!("{PPS}/{binding}"),
            Value::Null,
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        s.call("GET", reports, Value::Null, Some(&emp)).await.status,
        403
    );

    // So does deleting the assignment (bound again first).
    let r = s
        .call(
            "POST",
            PPS,
            json!({"position_id": position, "permission_set_id": set}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        s.call("GET", reports, Value::Null, Some(&emp)).await.status,
        200
    );
    let r = s
        .call(
            "DELETE",
            &format!("{UP}/{assignment}"),
            Value::Null,
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        s.call("GET", reports, Value::Null, Some(&emp)).await.status,
        403
    );

    // A grant applies only within its validity window: an expired one and one not yet valid give nothing.
    for window in [
        json!({"valid_until": "2020-01-01T00:00:00.000Z"}),
        json!({"valid_from": "2999-01-01T00:00:00.000Z"}),
    ] {
        let mut grant = json!({"user_id": emp_id, "position": "exp_employee", "reason": "audit"});
        grant
            .as_object_mut()
            .expect("grant")
            .extend(window.as_object().cloned().expect("window"));
        let r = s.call("POST", UP, grant, Some(&admin)).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["record"]["reason"], "audit");
        assert_eq!(
            s.call("GET", reports, Value::Null, Some(&emp)).await.status,
            403,
            "{window}"
        );
        let id = r.body["id"].as_str().expect("id").to_string();
        let r = s
            .call("DELETE", &format!("{UP}/{id}"), Value::Null, Some(&admin))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // Within the window it applies.
    let r = s
        .call(
            "POST",
            UP,
            json!({"user_id": emp_id, "position": "exp_employee",
                   "valid_from": "2020-01-01T00:00:00.000Z", "valid_until": "2999-01-01T00:00:00.000Z"}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        s.call("GET", reports, Value::Null, Some(&emp)).await.status,
        200
    );
}

#[tokio::test]
async fn security_rows_sqlite() {
    run(Db::Sqlite).await;
}

#[tokio::test]
async fn security_rows_postgres() {
    run(Db::Postgres).await;
}
