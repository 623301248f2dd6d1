//! Authentication and administration hardening, against a real server on SQLite and PostgreSQL: sign-in limits
//! under concurrency, the bounded password hasher (`TOO_BUSY`), the change-password limit, trusted proxies, the
//! failure table's bounds and the `Secure` session cookie here; the admin matrix (who may administer whom,
//! nothing written on refusal) and API key expiry / revocation / bans in `admin`.

use crate::support::{Db, Reply, Server, start_server_state, testapp};
use objectos_host::http::{HttpConfig, Shared};
use objectos_host::security::limits::AuthLimits;
use serde_json::{Value, json};
use std::time::Duration;

const ADMIN_PW: &str = "Passw0rd!Passw0rd";

/// Runs an async test body once on SQLite and once on PostgreSQL, with its own configuration.
macro_rules! on_both {
    ($name:ident, |$db:ident, $test:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($db: Db, $test: &'static str) $body
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(Db::Sqlite, module_path!()).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run(Db::Postgres, module_path!()).await;
            }
        }
    };
}

/// Limits for tests: a long queue timeout, so that a slow shared machine never turns a sign-in into 503.
fn limits() -> AuthLimits {
    AuthLimits {
        hash_queue_timeout: Duration::from_secs(120),
        ..AuthLimits::default()
    }
}

fn config(adjust: impl FnOnce(&mut HttpConfig)) -> HttpConfig {
    let mut c = HttpConfig {
        auth: limits(),
        ..HttpConfig::default()
    };
    adjust(&mut c);
    c
}

fn loopback_trusted(c: &mut HttpConfig) {
    c.trusted_proxies = vec![
        objectos_host::http::client::parse_trusted_proxy("127.0.0.1").unwrap(),
        objectos_host::http::client::parse_trusted_proxy("10.0.0.0/8").unwrap(),
    ];
}

async fn boot(db: Db, test: &str, http: HttpConfig) -> (Server, Shared) {
    start_server_state(db, test, testapp(), http, |_| {}).await
}

/// One request with extra headers.
async fn call(
    s: &Server,
    method: &str,
    path: &str,
    body: Value,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> Reply {
    send(&s.http, &s.base, method, path, body, token, headers).await
}

async fn send(
    http: &reqwest::Client,
    base: &str,
    method: &str,
    path: &str,
    body: Value,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> Reply {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = http.request(method, format!("{base}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if !body.is_null() {
        req = req.json(&body);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        body,
        headers,
    }
}

fn sign_in_body(email: &str, password: &str) -> Value {
    json!({"email": email, "password": password})
}

async fn sign_in(s: &Server, email: &str, password: &str, headers: &[(&str, &str)]) -> Reply {
    call(
        s,
        "POST",
        "/api/v1/auth/sign-in/email",
        sign_in_body(email, password),
        None,
        headers,
    )
    .await
}

/// Fires all sign-ins at once; returns the statuses.
async fn concurrent_sign_ins(s: &Server, attempts: Vec<(String, String, String)>) -> Vec<u16> {
    let mut tasks = tokio::task::JoinSet::new();
    for (email, password, ip) in attempts {
        let (http, base) = (s.http.clone(), s.base.clone());
        tasks.spawn(async move {
            send(
                &http,
                &base,
                "POST",
                "/api/v1/auth/sign-in/email",
                sign_in_body(&email, &password),
                None,
                &[("x-forwarded-for", ip.as_str())],
            )
            .await
        });
    }
    let mut statuses = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let r = r.expect("task");
        if r.status == 429 {
            assert_eq!(r.code(), "TOO_MANY_REQUESTS");
            assert!(r.headers.get("retry-after").is_some());
        }
        statuses.push(r.status);
    }
    statuses
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

on_both!(signin_limit_under_concurrency, |db, test| {
    let (s, _) = boot(db, test, config(loopback_trusted)).await;
    s.sign_up("admin@example.com", ADMIN_PW).await;
    // 64 wrong passwords for one account at once: exactly the account limit (5) are checked and refused,
    // the rest are 429 without a password check.
    let attempts = (0..64)
        .map(|_| {
            (
                "admin@example.com".to_string(),
                "wrong-password".to_string(),
                "10.0.0.1".to_string(),
            )
        })
        .collect();
    let statuses = concurrent_sign_ins(&s, attempts).await;
    assert_eq!(
        (count(&statuses, 401), count(&statuses, 429)),
        (5, 59),
        "{statuses:?}"
    );
    // Even the right password is refused now.
    let r = sign_in(
        &s,
        "admin@example.com",
        ADMIN_PW,
        &[("x-forwarded-for", "10.0.0.9")],
    )
    .await;
    assert_eq!((r.status, r.code()), (429, "TOO_MANY_REQUESTS"));
    // Per IP: 64 different accounts from one address: exactly the IP limit (20) are checked.
    let attempts = (0..64)
        .map(|i| {
            (
                format!("nobody{i}@example.com"),
                "wrong-password".to_string(),
                "10.0.0.2".to_string(),
            )
        })
        .collect();
    let statuses = concurrent_sign_ins(&s, attempts).await;
    assert_eq!(
        (count(&statuses, 401), count(&statuses, 429)),
        (20, 44),
        "{statuses:?}"
    );
});

on_both!(signin_success_frees_its_slot, |db, test| {
    let (s, state) = boot(db, test, config(|_| {})).await;
    s.sign_up("admin@example.com", ADMIN_PW).await;
    // Ten right passwords in a row: successes do not count against the limit of five.
    for _ in 0..10 {
        assert_eq!(
            sign_in(&s, "admin@example.com", ADMIN_PW, &[]).await.status,
            200
        );
    }
    assert_eq!(state.auth.attempt_stats().keys, 0);
});

on_both!(too_busy_when_no_hashing_slot_frees, |db, test| {
    let (s, state) = boot(
        db,
        test,
        config(|c| {
            c.auth.hash_concurrency = 1;
            c.auth.hash_queue_timeout = Duration::from_millis(200);
        }),
    )
    .await;
    s.sign_up("admin@example.com", ADMIN_PW).await;
    // Hold the only hashing slot: sign-ins wait for it, then get 503 TOO_BUSY with Retry-After.
    let held = state.auth.hasher().permits().acquire_owned().await.unwrap();
    for _ in 0..3 {
        let r = sign_in(&s, "admin@example.com", "wrong-password", &[]).await;
        assert_eq!((r.status, r.code()), (503, "TOO_BUSY"), "{:?}", r.body);
        assert_eq!(r.headers.get("retry-after").unwrap(), "1");
    }
    let r = call(
        &s,
        "POST",
        "/api/v1/auth/sign-up/email",
        json!({"email": "x@example.com", "password": ADMIN_PW}),
        None,
        &[],
    )
    .await;
    assert_eq!(
        r.status, 403,
        "closed sign-up is refused before any hashing"
    );
    drop(held);
    // The busy attempts were not counted: five wrong passwords are still 401, the sixth 429.
    for _ in 0..5 {
        let r = sign_in(&s, "admin@example.com", "wrong-password", &[]).await;
        assert_eq!(r.status, 401);
    }
    let r = sign_in(&s, "admin@example.com", "wrong-password", &[]).await;
    assert_eq!(r.status, 429);
});

on_both!(change_password_is_limited, |db, test| {
    let (s, _) = boot(db, test, config(|_| {})).await;
    let token = s.sign_up("admin@example.com", ADMIN_PW).await;
    let change = |current: &'static str| {
        let token = token.clone();
        let s = &s;
        async move {
            call(
                s,
                "POST",
                "/api/v1/auth/change-password",
                json!({"currentPassword": current, "newPassword": "Another-Passw0rd"}),
                Some(&token),
                &[],
            )
            .await
        }
    };
    for _ in 0..5 {
        let r = change("wrong-current-1").await;
        assert_eq!((r.status, r.code()), (401, "INVALID_EMAIL_OR_PASSWORD"));
    }
    let r = change(ADMIN_PW).await;
    assert_eq!((r.status, r.code()), (429, "TOO_MANY_REQUESTS"));
    assert!(r.headers.get("retry-after").is_some());
    // The password did not change.
    assert_eq!(
        sign_in(&s, "admin@example.com", ADMIN_PW, &[]).await.status,
        200
    );
    // An API key cannot change its user's password.
    let key = call(
        &s,
        "POST",
        "/api/v1/auth/api-keys",
        json!({"name": "k"}),
        Some(&token),
        &[],
    )
    .await
    .body["data"]["key"]
        .as_str()
        .unwrap()
        .to_string();
    let r = call(
        &s,
        "POST",
        "/api/v1/auth/change-password",
        json!({"currentPassword": ADMIN_PW, "newPassword": "Another-Passw0rd"}),
        Some(&key),
        &[],
    )
    .await;
    assert_eq!((r.status, r.code()), (403, "PERMISSION_DENIED"));
});

on_both!(client_ip_via_trusted_proxy, |db, test| {
    let few = |c: &mut HttpConfig| {
        c.auth.max_failures_per_ip = 3;
        c.auth.max_failures_per_account = 1000;
    };
    // Untrusted peer: X-Forwarded-For is ignored, every attempt is 127.0.0.1's.
    let (s, _) = boot(db, &format!("{test}_untrusted"), config(few)).await;
    s.sign_up("admin@example.com", ADMIN_PW).await;
    let mut statuses = vec![];
    for i in 0..4 {
        let ip = format!("192.0.2.{i}");
        statuses.push(
            sign_in(
                &s,
                "admin@example.com",
                "wrong-password",
                &[("x-forwarded-for", &ip)],
            )
            .await
            .status,
        );
    }
    assert_eq!(statuses, vec![401, 401, 401, 429]);
    let r = sign_in(
        &s,
        "admin@example.com",
        ADMIN_PW,
        &[("x-forwarded-for", "192.0.2.200")],
    )
    .await;
    assert_eq!(
        r.status, 429,
        "a spoofed X-Forwarded-For does not escape the limit"
    );
    drop(s);
    // Trusted peer: the client is the rightmost untrusted hop.
    let (s, _) = boot(
        db,
        &format!("{test}_trusted"),
        config(|c| {
            few(c);
            loopback_trusted(c);
        }),
    )
    .await;
    let token = s.sign_up("admin@example.com", ADMIN_PW).await;
    let mut statuses = vec![];
    for i in 0..4 {
        let ip = format!("192.0.2.{i}");
        statuses.push(
            sign_in(
                &s,
                "admin@example.com",
                "wrong-password",
                &[("x-forwarded-for", &ip)],
            )
            .await
            .status,
        );
    }
    assert_eq!(
        statuses,
        vec![401, 401, 401, 401],
        "four clients, one failure each"
    );
    // A client claiming an address in front of the real one: the proxy chain's rightmost untrusted hop counts.
    let mut statuses = vec![];
    for i in 0..4 {
        let chain = format!("203.0.113.{i}, 198.51.100.7, 10.1.2.3");
        statuses.push(
            sign_in(
                &s,
                "admin@example.com",
                "wrong-password",
                &[("x-forwarded-for", &chain)],
            )
            .await
            .status,
        );
    }
    assert_eq!(statuses, vec![401, 401, 401, 429]);
    // The session records the client address.
    let r = sign_in(
        &s,
        "admin@example.com",
        ADMIN_PW,
        &[("x-forwarded-for", "198.51.100.8, 10.0.0.5")],
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let t = r.body["token"].as_str().unwrap();
    let session = call(
        &s,
        "GET",
        "/api/v1/auth/get-session",
        Value::Null,
        Some(t),
        &[],
    )
    .await;
    assert_eq!(session.body["session"]["ipAddress"], json!("198.51.100.8"));
    // Garbage in the header: the walk stops at the last good address (the trusted peer's own view).
    let r = sign_in(
        &s,
        "admin@example.com",
        ADMIN_PW,
        &[("x-forwarded-for", "not-an-ip")],
    )
    .await;
    let t = r.body["token"].as_str().unwrap();
    let session = call(
        &s,
        "GET",
        "/api/v1/auth/get-session",
        Value::Null,
        Some(t),
        &[],
    )
    .await;
    assert_eq!(session.body["session"]["ipAddress"], json!("127.0.0.1"));
    drop(token);
});

on_both!(failure_table_is_bounded_and_pruned, |db, test| {
    let (s, state) = boot(
        db,
        test,
        config(|c| {
            c.auth.max_tracked_keys = 10;
            c.auth.max_failures_per_ip = 1000;
        }),
    )
    .await;
    s.sign_up("admin@example.com", ADMIN_PW).await;
    // Oversized credentials are refused before anything is remembered.
    let long_email = format!("{}@example.com", "x".repeat(300));
    let r = sign_in(&s, &long_email, "wrong-password", &[]).await;
    assert_eq!(
        (r.status, r.code(), r.body["fields"][0]["field"].clone()),
        (400, "VALIDATION_FAILED", json!("email"))
    );
    let r = sign_in(&s, "admin@example.com", &"p".repeat(257), &[]).await;
    assert_eq!(
        (r.status, r.body["fields"][0]["field"].clone()),
        (400, json!("password"))
    );
    assert_eq!(state.auth.attempt_stats().keys, 0);
    for i in 0..30 {
        let r = sign_in(&s, &format!("u{i}@example.com"), "wrong-password", &[]).await;
        assert_eq!(r.status, 401);
        assert!(state.auth.attempt_stats().keys <= 10);
    }
    let stats = state.auth.attempt_stats();
    assert!(stats.evicted_total >= 20, "{stats:?}");
    let metrics = call(&s, "GET", "/metrics", Value::Null, None, &[]).await;
    let text = metrics.body.as_str().unwrap_or_default().to_string();
    assert!(
        text.contains(&format!("objectos_auth_attempt_keys {}", stats.keys)),
        "{text}"
    );
    assert!(text.contains("objectos_auth_attempt_keys_dropped_total{reason=\"evicted\"}"));
    // Once the window has passed, a sweep drops every key.
    let later = std::time::Instant::now() + limits().failure_window + Duration::from_secs(1);
    state.auth.attempts().sweep_at(later);
    let after = state.auth.attempt_stats();
    assert_eq!(after.keys, 0);
    assert_eq!(after.expired_total, stats.expired_total + stats.keys as u64);
});

fn cookie(r: &Reply) -> String {
    r.headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

on_both!(secure_session_cookie, |db, test| {
    // Plain http, no trusted proxy: a client's X-Forwarded-Proto is not believed.
    let (s, _) = boot(db, &format!("{test}_plain"), config(|_| {})).await;
    s.sign_up("admin@example.com", ADMIN_PW).await;
    let r = sign_in(
        &s,
        "admin@example.com",
        ADMIN_PW,
        &[("x-forwarded-proto", "https")],
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(
        cookie(&r).contains("HttpOnly") && !cookie(&r).contains("Secure"),
        "{}",
        cookie(&r)
    );
    drop(s);
    // Behind a trusted proxy that terminated TLS.
    let (s, _) = boot(db, &format!("{test}_proxy"), config(loopback_trusted)).await;
    s.sign_up("admin@example.com", ADMIN_PW).await;
    let r = sign_in(
        &s,
        "admin@example.com",
        ADMIN_PW,
        &[("x-forwarded-proto", "https")],
    )
    .await;
    assert!(cookie(&r).ends_with("; Secure"), "{}", cookie(&r));
    let t = r.body["token"].as_str().unwrap().to_string();
    let out = call(
        &s,
        "POST",
        "/api/v1/auth/sign-out",
        Value::Null,
        Some(&t),
        &[("x-forwarded-proto", "https")],
    )
    .await;
    assert!(
        cookie(&out).contains("Max-Age=0") && cookie(&out).ends_with("; Secure"),
        "{}",
        cookie(&out)
    );
    let r = sign_in(
        &s,
        "admin@example.com",
        ADMIN_PW,
        &[("x-forwarded-proto", "http")],
    )
    .await;
    assert!(!cookie(&r).contains("Secure"), "{}", cookie(&r));
    drop(s);
    // --secure-cookies: always.
    let (s, _) = boot(
        db,
        &format!("{test}_flag"),
        config(|c| c.secure_cookies = true),
    )
    .await;
    let r = call(
        &s,
        "POST",
        "/api/v1/auth/sign-up/email",
        json!({"email": "admin@example.com", "password": ADMIN_PW}),
        None,
        &[],
    )
    .await;
    assert!(cookie(&r).ends_with("; Secure"), "{}", cookie(&r));
});

#[test]
fn serve_refuses_a_bad_trusted_proxy_and_lists_the_auth_flags() {
    let expense = crate::support::repo_path("tests/fixtures/expense/objectstack.json");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_objectos"))
            .args(args)
            .output()
            .expect("run objectos");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, _, err) = run(&[
        "serve",
        expense.to_str().unwrap(),
        "--dev",
        "--database-url",
        "sqlite::memory:",
        "--trusted-proxy",
        "10.0.0.0/8",
        "--trusted-proxy",
        "not-a-range",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("'not-a-range' is not an IP address or CIDR range"),
        "{err}"
    );
    let (code, out, _) = run(&["serve", "--help"]);
    assert_eq!(code, 0);
    for flag in [
        "--signin-max-failures-per-ip",
        "--signin-max-failures-per-account",
        "--password-change-max-failures",
        "--auth-failure-window-secs",
        "--auth-max-tracked-keys",
        "--password-hash-concurrency",
        "--password-hash-queue-timeout-ms",
        "--api-key-max-ttl-days",
        "--trusted-proxy",
        "--secure-cookies",
    ] {
        assert!(out.contains(flag), "serve --help lacks {flag}");
    }
}

mod admin;
