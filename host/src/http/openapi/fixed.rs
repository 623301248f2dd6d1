//! What every app's document has whatever its objects: the shared schemas and responses (errors, `Having`,
//! batch reports) and the routes that do not depend on the artifact's objects (cross-object batch, metadata,
//! auth and administration, API keys, discovery, health, metrics, the document itself).

use super::objects::action_errors;
use super::schemas::*;
use super::*;
use serde_json::{Map, Value, json};

pub(super) fn common_schemas(schemas: &mut Map<String, Value>) {
    schemas.insert("Having".into(), having_schema());
    schemas.insert(
        "FieldError".into(),
        json!({"type": "object", "required": ["field", "code", "message"], "properties": {
            "field": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}, "label": {"type": "string"},
            "constraint": {"type": "object"}, "options": {"type": "array", "items": {"type": "string"}}}}),
    );
    schemas.insert(
        "Error".into(),
        json!({"type": "object", "title": "Error", "required": ["error", "code"], "properties": {
            "error": {"type": "string"}, "code": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]*$"}, "message": {"type": "string"},
            "object": {"type": "string"}, "field": {"type": "string"}, "requestId": {"type": "string"},
            "fields": {"type": "array", "items": schema_ref("FieldError")}}}),
    );
    schemas.insert(
        "NestedError".into(),
        json!({"type": "object", "title": "Parameter refusal", "required": ["error"], "properties": {
            "error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}),
    );
    schemas.insert(
        "HookRefusal".into(),
        json!({"type": "object", "title": "A hook's refusal", "required": ["error", "object"], "additionalProperties": false,
            "description": "A before-hook of the app refused the write with its own message (as the real server answers it: no code)",
            "properties": {"error": {"type": "string"}, "object": {"type": "string"}}}),
    );
    schemas.insert(
        "AnyError".into(),
        json!({"anyOf": [schema_ref("Error"), schema_ref("NestedError"), schema_ref("HookRefusal")]}),
    );
    schemas.insert(
        "AuthError".into(),
        json!({"type": "object", "title": "Auth error", "required": ["code"], "properties": {
            "message": {"type": "string"}, "error": {"type": "string"}, "code": {"type": "string"},
            "fields": {"type": "array", "items": schema_ref("FieldError")}}}),
    );
    schemas.insert(
        "ActionError".into(),
        json!({"type": "object", "required": ["success", "error"], "properties": {"success": {"const": false},
            "error": {"type": "object", "required": ["code", "message", "httpStatus"], "properties": {
                "code": {"type": "string"}, "message": {"type": "string"}, "httpStatus": {"type": "integer"},
                "fields": {"type": "array", "items": schema_ref("FieldError")}}}}}),
    );
    schemas.insert(
        "BatchReport".into(),
        json!({"type": "object", "required": ["success", "total", "succeeded", "failed", "results"], "additionalProperties": false, "properties": {
            "success": {"type": "boolean"}, "operation": {"enum": ["create", "update", "upsert", "delete"]},
            "total": {"type": "integer"}, "succeeded": {"type": "integer"}, "failed": {"type": "integer"},
            "results": {"type": "array", "items": {"type": "object", "required": ["success"], "properties": {
                "id": {"type": ["string", "null"]}, "success": {"type": "boolean"}, "index": {"type": "integer"}, "data": {"type": "object"},
                "errors": {"type": "array", "items": {"type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"}, "httpStatus": {"type": "integer"}, "field": {"type": "string"}}}}}}}}}),
    );
    schemas.insert(
        "User".into(),
        json!({"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": ["string", "null"]}, "email": {"type": "string"},
            "emailVerified": {"type": "boolean"}, "image": {"type": ["string", "null"]}, "createdAt": {"type": ["string", "null"]},
            "updatedAt": {"type": ["string", "null"]}, "role": {"type": ["string", "null"]}, "banned": {"type": "boolean"}}}),
    );
    schemas.insert(
        "SignedIn".into(),
        json!({"type": "object", "required": ["token", "user"], "properties": {"redirect": {"type": "boolean"},
            "token": {"type": "string"}, "user": schema_ref("User")}}),
    );
    schemas.insert(
        "Success".into(),
        json!({"type": "object", "required": ["success"], "properties": {"success": {"type": "boolean"}, "data": {}}}),
    );
}

pub(super) fn common_responses() -> Value {
    let e = |d: &str| ok(d, schema_ref("AnyError"));
    json!({
        "BadRequest": e("The request is malformed or names something the object does not have (INVALID_FIELD, INVALID_SORT, INVALID_FILTER, INVALID_QUERY, INVALID_REQUEST, VALIDATION_FAILED, INVALID_JSON, UNSUPPORTED_CONTENT_TYPE, UNSUPPORTED_QUERY_PARAM, or {error: {code: VALIDATION_ERROR}} for a parameter the route does not take)"),
        "Unauthenticated": e("No valid credentials (UNAUTHENTICATED)"),
        "Forbidden": e("Not permitted (PERMISSION_DENIED, RECORD_NOT_ACCESSIBLE, EXPORT_NOT_PERMITTED, PASSWORD_EXPIRED)"),
        "NotFound": e("No such object or record (OBJECT_NOT_FOUND, RECORD_NOT_FOUND, ROUTE_NOT_FOUND)"),
        "Conflict": e("UNIQUE_VIOLATION, CONCURRENT_UPDATE, DELETE_RESTRICTED"),
        "PayloadTooLarge": e("The body is larger than the server's limit (PAYLOAD_TOO_LARGE)"),
        "ServerError": e("The server failed (INTERNAL_ERROR, a hook or function that trapped); never a client mistake"),
        "NotImplemented": e("The artifact needs code this build cannot run (FUNCTION_UNAVAILABLE)"),
        "Unavailable": e("The database or a plugin is unavailable, or the server is at its connection limit"),
        "Timeout": e("The request ran out of time (REQUEST_TIMEOUT, FUNCTION_TIMEOUT)"),
        "AuthFailed": ok("Refused", schema_ref("AuthError")),
    })
}

/// Routes that do not depend on the artifact's objects: batch, metadata, auth, discovery, health.
/// The routes every app has (batch, metadata, auth); `permission_sets` names the artifact's permission sets.
pub(super) fn fixed_paths(
    paths: &mut Map<String, Value>,
    permission_sets: &[String],
    key_ttl: u64,
) {
    // The cross-object batch answers as a data route does, and 409 for a unique or concurrent-update conflict.
    let batch_errors = data_errors(&["409"]);
    paths.insert("/api/v1/batch".into(), json!({"post": with(operation("batch", "batch".into(), "Create, update and delete records of any objects in one transaction",
        &[("200", ok("Each operation's record (or {id, success} for a delete), in order", json!({"type": "object", "required": ["results"], "properties": {"results": {"type": "array", "items": {"type": "object"}}}})))],
        batch_errors),
        "requestBody", body(json!({"type": "object", "required": ["operations"], "properties": {"operations": {"type": "array", "maxItems": limits::MAX_WRITE_BATCH, "items": {
            "type": "object", "required": ["object"], "properties": {"object": {"type": "string", "minLength": 1},
            "action": {"type": "string", "enum": ["create", "update", "delete"], "description": "Default: create"}, "id": {"type": "string"}, "data": {"type": "object"}}}},
            "atomic": {"const": true, "description": "A cross-object batch is always atomic (false: 400 BATCH_NOT_ATOMIC)"}}})))}));
    let meta_errors = || {
        errors_of(&[
            ("401", "Unauthenticated"),
            ("403", "Forbidden"),
            ("404", "NotFound"),
            ("500", "ServerError"),
            ("503", "Unavailable"),
            ("504", "Timeout"),
        ])
    };
    let types = json!({"type": "object", "required": ["types", "entries"], "properties": {"types": {"type": "array", "items": {"type": "string"}}, "entries": {"type": "array", "items": {"type": "object"}}}});
    paths.insert("/api/v1/meta".into(), json!({"get": operation("metadata", "meta_types".into(), "The metadata types the caller may see", &[("200", ok("Types", types.clone()))], meta_errors())}));
    paths.insert("/api/v1/meta/types".into(), json!({"get": operation("metadata", "meta_types_alias".into(), "The metadata types the caller may see", &[("200", ok("Types", types))], meta_errors())}));
    let kind = json!({"name": "kind", "in": "path", "required": true, "schema": {"type": "string", "enum": crate::http::meta::known_kinds()},
        "description": "A metadata type; any other is 400 INVALID_REQUEST"});
    let item_name = json!({"name": "name", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1, "maxLength": 255}});
    let kind_errors = || {
        let mut m = meta_errors();
        m.insert("400".into(), response_ref("BadRequest"));
        m
    };
    paths.insert("/api/v1/meta/{kind}".into(), json!({"parameters": [kind], "get": operation("metadata", "meta_list".into(), "The items of a metadata type the caller may see",
        &[("200", ok("Items", json!({"type": "object", "required": ["type", "items"], "properties": {"type": {"type": "string"}, "items": {"type": "array", "items": {"type": "object"}}}})))], kind_errors())}));
    paths.insert("/api/v1/meta/{kind}/{name}".into(), json!({"parameters": [kind, item_name], "get": operation("metadata", "meta_item".into(), "One metadata item",
        &[("200", ok("The item", json!({"type": "object", "required": ["type", "name", "item"], "properties": {"type": {"type": "string"}, "name": {"type": "string"}, "item": {"type": "object"}}})))], kind_errors())}));
    paths.insert("/api/v1/meta/object/{name}/state/{field}".into(), json!({"parameters": [item_name,
        {"name": "field", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1, "maxLength": 255}}],
        "get": operation("metadata", "meta_state".into(), "The state machine of a field: the states and the transitions from each",
        &[("200", ok("Transitions", json!({"type": "object"})))], meta_errors())}));

    // Auth (better-auth's shapes).
    let auth_errors = |extra: &[&str]| {
        let mut m = Map::new();
        for s in ["400", "401", "403", "429", "500", "503"]
            .iter()
            .chain(extra)
        {
            m.insert((*s).to_string(), response_ref("AuthFailed"));
        }
        m.insert("413".into(), response_ref("PayloadTooLarge"));
        m
    };
    let anon = json!([]);
    // The server's own bounds (security::auth), in characters.
    let email = json!({"type": "string", "maxLength": auth::MAX_EMAIL_LEN, "pattern": "^[^@]*@"});
    let password = json!({"type": "string", "maxLength": auth::MAX_PASSWORD_LEN});
    let new_password = json!({"type": "string", "minLength": auth::MIN_PASSWORD_LEN, "maxLength": auth::MAX_PASSWORD_LEN});
    let creds = |extra: Value| {
        let mut p = json!({"email": email.clone(), "password": password.clone()});
        if let (Some(m), Value::Object(x)) = (p.as_object_mut(), extra) {
            m.extend(x);
        }
        json!({"type": "object", "required": ["email", "password"], "properties": p})
    };
    let signed_in = || {
        json!({"description": "Signed in; the token is also in `set-auth-token` and the session cookie",
        "headers": {"set-auth-token": {"schema": {"type": "string"}}, "set-cookie": {"schema": {"type": "string"}}},
        "content": content(schema_ref("SignedIn"))})
    };
    paths.insert("/api/v1/auth/sign-up/email".into(), json!({"post": with(with(operation("auth", "sign_up".into(), "Sign up (the first user becomes the platform administrator; later sign-ups are closed unless the server allows them)",
        &[("200", signed_in())], auth_errors(&["422"])), "security", anon.clone()).as_object().cloned().unwrap_or_default(),
        "requestBody", body(creds(json!({"name": {"type": "string", "maxLength": auth::MAX_NAME_LEN}, "password": new_password.clone()}))))}));
    paths.insert("/api/v1/auth/sign-in/email".into(), json!({"post": with(with(operation("auth", "sign_in".into(), "Sign in",
        &[("200", signed_in())], auth_errors(&[])), "security", anon.clone()).as_object().cloned().unwrap_or_default(),
        "requestBody", body(creds(json!({}))))}));
    paths.insert("/api/v1/auth/get-session".into(), json!({"get": operation("auth", "get_session".into(), "The caller's session and user",
        &[("200", ok("The session", json!({"type": "object", "required": ["user", "session"], "properties": {"user": {"type": "object"}, "session": {"type": ["object", "null"]}}})))], auth_errors(&[]))}));
    paths.insert(
        "/api/v1/auth/sign-out".into(),
        json!({"post": operation("auth", "sign_out".into(), "End the caller's session",
        &[("200", ok("Signed out", schema_ref("Success")))], auth_errors(&[]))}),
    );
    paths.insert("/api/v1/auth/change-password".into(), json!({"post": with(operation("auth", "change_password".into(), "Change the caller's password",
        &[("200", ok("Changed", json!({"type": "object", "properties": {"token": {"type": ["string", "null"]}, "user": schema_ref("User")}})))], auth_errors(&[])),
        "requestBody", body(json!({"type": "object", "required": ["currentPassword", "newPassword"], "properties": {
            "currentPassword": password, "newPassword": new_password.clone(), "revokeOtherSessions": {"type": "boolean"}}})))}));
    let admin = |path: &str, id: &str, summary: &str, props: Value, required: Value| {
        let mut errors = auth_errors(&["404"]);
        if id == "admin_create_user" {
            // An e-mail address that already has a user, answered as the real server's admin route does.
            errors.insert("409".into(), ok("USER_ALREADY_EXISTS", json!({"type": "object", "required": ["success", "error"], "properties": {
                "success": {"const": false}, "error": {"type": "object", "required": ["code", "message"], "properties": {
                    "code": {"const": "USER_ALREADY_EXISTS"}, "message": {"type": "string"}}}}})));
        }
        (
            path.to_string(),
            json!({"post": with(operation("auth", id.into(), summary, &[("200", ok("Done", schema_ref("Success")))], errors),
            "requestBody", body(json!({"type": "object", "required": required, "properties": props})))}),
        )
    };
    let sets = json!({"type": "array", "items": {"type": "string", "enum": permission_sets}, "maxItems": crate::http::auth::MAX_PERMISSION_SETS,
        "description": "Names of the artifact's permission sets"});
    let position = json!({"type": "string", "minLength": 1, "maxLength": crate::security::admin::MAX_POSITION_LEN, "pattern": r"\S"});
    let positions = json!({"type": "array", "items": position.clone(), "maxItems": crate::security::admin::MAX_POSITIONS});
    for (path, item) in [
        admin(
            "/api/v1/auth/admin/create-user",
            "admin_create_user",
            "Create a user (administrators); the user must change the password at first sign-in",
            json!({"email": {"type": "string", "maxLength": auth::MAX_EMAIL_LEN, "pattern": EMAIL_PATTERN}, "password": new_password, "name": {"type": ["string", "null"], "maxLength": auth::MAX_NAME_LEN}, "positions": positions.clone()}),
            json!(["email", "password"]),
        ),
        admin(
            "/api/v1/auth/admin/set-positions",
            "admin_set_positions",
            "Replace a user's positions (administrators)",
            json!({"userId": {"type": "string"}, "positions": positions}),
            json!(["userId"]),
        ),
        admin(
            "/api/v1/auth/admin/bind-permission-sets",
            "admin_bind_permission_sets",
            "Replace the permission sets a position grants (administrators)",
            json!({"position": position, "permissionSets": sets}),
            json!(["position"]),
        ),
        admin(
            "/api/v1/auth/admin/ban-user",
            "admin_ban_user",
            "Ban a user: their sessions end (administrators)",
            json!({"userId": {"type": "string"}}),
            json!(["userId"]),
        ),
        admin(
            "/api/v1/auth/admin/unban-user",
            "admin_unban_user",
            "Lift a ban (administrators)",
            json!({"userId": {"type": "string"}}),
            json!(["userId"]),
        ),
    ] {
        paths.insert(path, item);
    }
    paths.insert("/api/v1/auth/api-keys".into(), json!({
        "post": with(operation("auth", "create_api_key".into(), "Issue an API key for the caller (the key is shown once)",
            &[("201", ok("The key", schema_ref("Success")))], auth_errors(&[])),
            "requestBody", body(json!({"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"\S"},
                "expiresIn": {"type": ["integer", "null"], "minimum": 1, "maximum": key_ttl, "description": "Seconds, at most the deployment's longest key lifetime; null: the default lifetime"}, "expiresAt": {"type": ["string", "null"], "format": "date-time", "description": "In the future, at most the deployment's longest key lifetime ahead; null: the default lifetime"}},
                "not": {"required": ["expiresIn", "expiresAt"]}}))),
        "get": operation("auth", "list_api_keys".into(), "The caller's API keys (never the keys themselves)", &[("200", ok("Keys", schema_ref("Success")))], auth_errors(&[]))}));
    paths.insert("/api/v1/auth/api-keys/{id}".into(), json!({"parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1, "maxLength": 255}}],
        "delete": operation("auth", "revoke_api_key".into(), "Revoke one of the caller's API keys", &[("200", ok("Revoked", schema_ref("Success")))], auth_errors(&["404"]))}));

    // Services of plugins.
    paths.insert("/api/v1/services/{plugin}/{method}".into(), json!({"parameters": [
        {"name": "plugin", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1, "maxLength": 255}},
        {"name": "method", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1, "maxLength": 255}}],
        "post": with(operation("services", "call_service".into(), "Call a method of a service plugin",
            &[("200", ok("The method's result", json!({"type": "object", "required": ["success", "data"], "properties": {"success": {"const": true}, "data": {}}})))], action_errors()),
            "requestBody", json!({"required": false, "content": content(json!({}))}))}));

    // Discovery, health, this document.
    let public = |id: &str, summary: &str, schema: Value| {
        with(
            operation(
                "discovery",
                id.into(),
                summary,
                &[("200", ok("OK", schema))],
                Map::new(),
            ),
            "security",
            json!([]),
        )
    };
    paths.insert("/.well-known/objectstack".into(), json!({"get": public("well_known", "Discovery, wrapped in {success, data}",
        json!({"type": "object", "required": ["success", "data"], "properties": {"success": {"const": true}, "data": schema_ref("Discovery")}}))}));
    paths.insert(
        "/api/v1".into(),
        json!({"get": public("discovery_root", "Discovery", schema_ref("Discovery"))}),
    );
    paths.insert(
        "/api/v1/discovery".into(),
        json!({"get": public("discovery", "Discovery", schema_ref("Discovery"))}),
    );
    let health = json!({"type": "object", "required": ["status"], "properties": {"status": {"type": "string", "enum": ["ok", "degraded"]}}});
    paths.insert("/api/v1/health".into(), json!({"get": with(operation("health", "health".into(), "Liveness and database reachability (details for a platform administrator)",
        &[("200", ok("Up", health.clone())), ("503", ok("The database is down", health))], Map::new()), "security", json!([{}, {"bearerAuth": []}]))}));
    paths.insert("/metrics".into(), json!({"get": with(operation("health", "metrics".into(), "Prometheus metrics",
        &[("200", json!({"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}))], Map::new()), "security", json!([]))}));
    paths.insert("/api/v1/openapi.json".into(), json!({"get": operation("discovery", "openapi".into(), "This document, as the caller may see it",
        &[("200", ok("OpenAPI 3.1", json!({"type": "object", "required": ["openapi", "paths"]})))], errors_of(&[("401", "Unauthenticated"), ("403", "Forbidden"), ("500", "ServerError"), ("503", "Unavailable"), ("504", "Timeout")]))}));
}
