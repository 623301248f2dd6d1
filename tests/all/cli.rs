//! The `objectos` binary: verify/inspect exit statuses and output, `serve --check`, `--help` everywhere.

use crate::support::repo_path;
use std::process::Command;

fn objectos(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_objectos"))
        .args(args)
        .env_remove("OS_DATABASE_URL")
        .env_remove("OS_AUTH_SECRET")
        .env_remove("OS_DEV")
        .output()
        .expect("run objectos");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn verify_ok_and_broken() {
    let expense = repo_path("tests/fixtures/expense/objectstack.json");
    let (code, out, _) = objectos(&["artifact", "verify", expense.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains("OK (3 objects"), "{out}");
    assert!(out.contains("hook exp_report_on_create"), "{out}");

    let dir = std::env::temp_dir().join(format!("objectos-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let broken = dir.join("broken.json");
    let mut app: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&expense).unwrap()).unwrap();
    app["objects"][0]["fields"]["amount"]["type"] = "monye".into();
    app["objects"][1]["fields"]["report"]["reference"] = "exp_reportt".into();
    std::fs::write(&broken, serde_json::to_vec(&app).unwrap()).unwrap();
    let (code, _, err) = objectos(&["artifact", "verify", broken.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("ARTIFACT_INVALID, 2 problem(s)"), "{err}");
    assert!(
        err.contains("objects[0].fields.amount.type: unknown field type \"monye\""),
        "{err}"
    );
    assert!(err.contains("objects[1].fields.report.reference: object \"exp_reportt\" does not exist (did you mean \"exp_report\"?)"), "{err}");
    // serve refuses a broken artifact the same way, before touching any database.
    let db = dir.join("never.db");
    let (code, _, err) = objectos(&[
        "serve",
        broken.to_str().unwrap(),
        "--database-url",
        &format!("sqlite://{}", db.display()),
        "--check",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("objects[0].fields.amount.type"), "{err}");
    assert!(!db.exists(), "nothing is created for a broken artifact");
    let (code, _, err) = objectos(&[
        "artifact",
        "verify",
        &format!("{}#sha256={}", expense.display(), "a".repeat(64)),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("ARTIFACT_INTEGRITY_MISMATCH"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn inspect_reports_contents() {
    let expense = repo_path("tests/fixtures/expense/objectstack.json");
    let (code, out, _) = objectos(&["artifact", "inspect", expense.to_str().unwrap()]);
    assert_eq!(code, 0);
    for needle in [
        "app: Expense Approval (com.fixture.expense-approval)",
        "file sha256:      e275b30788d32490bd6649a182ca31d406ab54f5d5064b3123085e2bff15059b",
        "exp_report",
        "hooks: 3 {\"js\": 3}",
        "seeds: 1 sets, 4 records",
        "cannot run yet (4)",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }
}

#[test]
fn serve_check_boots_the_data_layer() {
    let expense = repo_path("tests/fixtures/expense/objectstack.json");
    let dir = std::env::temp_dir().join(format!("objectos-serve-{}", std::process::id()));
    let url = format!("sqlite://{}", dir.join("nested/app.db").display());
    let (code, out, err) = objectos(&[
        "serve",
        expense.to_str().unwrap(),
        "--database-url",
        &url,
        "--check",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("boot OK: 3 objects on sqlite; 12 table(s) created"),
        "{out}"
    );
    assert!(err.contains("seeds: 4 inserted"), "{err}");
    let (code, out, err) = objectos(&[
        "serve",
        "--artifact",
        expense.to_str().unwrap(),
        "--database-url",
        &url,
        "--check",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("0 table(s) created"), "{out}");
    assert!(err.contains("4 unchanged"), "{err}");
    let (code, _, err) = objectos(&["serve", "--database-url", &url, "--check"]);
    assert_eq!(code, 2);
    assert!(err.contains("no artifact given"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn help_for_every_command() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["artifact", "--help"],
        vec!["artifact", "verify", "--help"],
        vec!["artifact", "inspect", "--help"],
    ] {
        let (code, out, _) = objectos(&args);
        assert_eq!(code, 0, "{args:?}");
        assert!(out.contains("Usage: objectos"), "{args:?}: {out}");
    }
    let (_, out, _) = objectos(&["serve", "--help"]);
    for flag in [
        "--database-url",
        "OS_DATABASE_URL",
        "--allow-destructive-migrations",
        "OS_ARTIFACT_URL",
        "--port",
        "--env",
    ] {
        assert!(out.contains(flag), "serve --help lacks {flag}");
    }
}

#[test]
fn serve_refuses_to_start_without_an_auth_secret() {
    let expense = repo_path("tests/fixtures/expense/objectstack.json");
    let dir = std::env::temp_dir().join(format!("objectos-secret-{}", std::process::id()));
    let url = format!("sqlite://{}", dir.join("app.db").display());
    let (code, _, err) = objectos(&[
        "serve",
        expense.to_str().unwrap(),
        "--database-url",
        &url,
        "-p",
        "0",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("OS_AUTH_SECRET is not set"), "{err}");
    let (code, _, err) = objectos(&[
        "serve",
        expense.to_str().unwrap(),
        "--database-url",
        &url,
        "--auth-secret",
        "short",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("at least 16 characters"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
