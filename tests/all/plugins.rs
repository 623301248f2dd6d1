//! Signed plugins: the trust policy's decisions on real components, interoperability of the signature format
//! with wasmsign2 (an independent implementation) in both directions, dependency order, and the CLI.

use chrono::{TimeZone, Utc};
use objectos_host::plugins::manifest::{MANIFEST_SECTION, Manifest};
use objectos_host::plugins::signature::{self, PublicKey, SecretKey};
use objectos_host::plugins::trust::{Refusal, TrustPolicy, start_order};
use serde_json::json;

fn component() -> Vec<u8> {
    std::fs::read(objectos_guest_artifacts::SAMPLE_SERVICE).expect("a real plugin component")
}

fn with_manifest(bytes: &[u8], manifest: serde_json::Value) -> Vec<u8> {
    signature::with_custom_section(bytes, MANIFEST_SECTION, manifest.to_string().as_bytes())
        .expect("manifest embedded")
}

fn manifest(id: &str, capabilities: &[&str]) -> serde_json::Value {
    json!({"id": id, "version": "1.2.0", "kind": "service", "capabilities": capabilities})
}

fn key_entry(key: &SecretKey, plugins: &str, not_after: Option<&str>) -> String {
    let public = key.public_key();
    format!(
        "[[keys]]\nkey_id = \"{}\"\npublic_key = \"{}\"\nplugins = [{plugins}]\n{}\n",
        public.key_id(),
        hex::encode(public.0),
        not_after
            .map(|t| format!("not_after = \"{t}\""))
            .unwrap_or_default()
    )
}

#[test]
fn the_trust_policy_decides_which_plugins_load() {
    let (vendor, other, expired, stranger) = (
        SecretKey::generate().unwrap(),
        SecretKey::generate().unwrap(),
        SecretKey::generate().unwrap(),
        SecretKey::generate().unwrap(),
    );
    let policy = TrustPolicy::parse(&format!(
        "{}{}{}[grants.\"com.example.audit\"]\ncapabilities = [\"log\", \"data:read:crm_account\"]\n",
        key_entry(&vendor, "\"com.example.*\"", None),
        key_entry(&other, "\"org.other.tools\"", None),
        key_entry(&expired, "\"com.example.*\"", Some("2026-01-31")),
    ))
    .expect("policy parses");
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
    let plugin = with_manifest(&component(), manifest("com.example.audit", &["log"]));
    let admit = |bytes: &[u8]| policy.admit("audit.wasm", bytes, now, false);

    // Signed by the vendor's key, allowed for com.example.*: loads, with requested ∩ granted capabilities.
    let signed = signature::sign(&plugin, &vendor).unwrap();
    let ok = admit(&signed).expect("admitted");
    assert_eq!(
        ok.signed_by.as_deref(),
        Some(vendor.public_key().key_id().as_str())
    );
    assert_eq!(
        ok.capabilities
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>(),
        ["log"]
    );
    // The signed file is still a component wasmtime loads (the signature section is inert).
    let engine = wasmtime::Engine::new(wasmtime::Config::new().wasm_component_model(true)).unwrap();
    wasmtime::component::Component::new(&engine, &signed).expect("the signed component compiles");

    // One flipped byte anywhere after the signature: refused as tampered.
    let mut tampered = signed.clone();
    let at = tampered.len() - 10;
    tampered[at] ^= 0x01;
    assert!(
        matches!(admit(&tampered), Err(Refusal::Tampered { .. })),
        "{:?}",
        admit(&tampered)
    );
    // The manifest is covered too: changing a capability after signing is tampering.
    let widened = with_manifest(
        &signed,
        manifest("com.example.audit", &["log", "data:read:crm_account"]),
    );
    assert!(matches!(admit(&widened), Err(Refusal::Tampered { .. })));
    // A key the policy does not list.
    let e = admit(&signature::sign(&plugin, &stranger).unwrap()).unwrap_err();
    assert!(matches!(e, Refusal::UntrustedKey { .. }), "{e}");
    assert!(
        e.to_string().contains(&stranger.public_key().key_id()),
        "{e}"
    );
    // A trusted key, but not for this plugin id.
    let e = admit(&signature::sign(&plugin, &other).unwrap()).unwrap_err();
    assert!(matches!(e, Refusal::KeyNotAllowed { .. }), "{e}");
    assert!(e.to_string().contains("com.example.audit"), "{e}");
    // An expired key.
    let e = admit(&signature::sign(&plugin, &expired).unwrap()).unwrap_err();
    assert!(matches!(e, Refusal::KeyExpired { .. }), "{e}");
    // Unsigned: refused, unless --allow-unsigned (development).
    assert!(matches!(admit(&plugin), Err(Refusal::Unsigned { .. })));
    let dev = policy
        .admit("audit.wasm", &plugin, now, true)
        .expect("allowed unsigned");
    assert!(dev.signed_by.is_none());
    // Two signers: the vendor's signature is enough even next to an untrusted one.
    let both = signature::sign(&signed, &stranger).unwrap();
    assert_eq!(signature::signer_ids(&both).unwrap().len(), 2);
    assert!(admit(&both).is_ok());
    // A capability the operator did not grant.
    let greedy = signature::sign(
        &with_manifest(
            &component(),
            manifest("com.example.audit", &["log", "http:outbound:evil.example"]),
        ),
        &vendor,
    )
    .unwrap();
    let e = admit(&greedy).unwrap_err();
    assert!(matches!(e, Refusal::NotGranted { .. }), "{e}");
    assert!(e.to_string().contains("http:outbound:evil.example"), "{e}");
    // No manifest at all.
    let bare = signature::sign(&component(), &vendor).unwrap();
    assert!(matches!(admit(&bare), Err(Refusal::Invalid { .. })));
    // A pinned content hash that does not match.
    let pinned = TrustPolicy::parse(&format!(
        "{}[grants.\"com.example.audit\"]\ncapabilities = [\"log\"]\nsha256 = \"{}\"\n",
        key_entry(&vendor, "\"com.example.*\"", None),
        "0".repeat(64)
    ))
    .unwrap();
    assert!(matches!(
        pinned.admit("audit.wasm", &signed, now, false),
        Err(Refusal::PinMismatch { .. })
    ));
}

#[test]
fn a_policy_with_mistakes_is_refused() {
    let key = SecretKey::generate().unwrap();
    let wrong_id = key_entry(&key, "\"x\"", None)
        .replace(&key.public_key().key_id(), "00112233445566778899aabb");
    let e = TrustPolicy::parse(&wrong_id).unwrap_err();
    assert!(e.contains("keys[0].key_id"), "{e}");
    let e = TrustPolicy::parse(&key_entry(&key, "\"x\"", Some("someday"))).unwrap_err();
    assert!(e.contains("keys[0].not_after"), "{e}");
    let e = TrustPolicy::parse("[grants.\"a\"]\ncapabilities = [\"fs:write:/\"]\n").unwrap_err();
    assert!(e.contains("grants.\"a\".capabilities[0]"), "{e}");
    let e = TrustPolicy::parse("[[keys]]\nkey_id = 1\n").unwrap_err();
    assert!(e.contains("trust policy"), "{e}");
}

/// Files signed here verify with wasmsign2, and files signed by wasmsign2 verify here.
#[test]
fn signatures_interoperate_with_wasmsign2() {
    let ours = SecretKey::generate().unwrap();
    let plugin = with_manifest(&component(), manifest("com.example.audit", &[]));
    let signed = signature::sign(&plugin, &ours).unwrap();
    let their_view =
        wasmsign2::PublicKey::from_bytes(&ours.public_key().to_bytes()).expect("key reads");
    their_view
        .verify(&mut std::io::Cursor::new(&signed), None)
        .expect("wasmsign2 verifies an objectos signature");
    // And wasmsign2 rejects a tampered one, as we do.
    let mut tampered = signed.clone();
    let at = tampered.len() - 3;
    tampered[at] ^= 0x80;
    assert!(
        their_view
            .verify(&mut std::io::Cursor::new(&tampered), None)
            .is_err()
    );

    // The other way: a key made and a file signed by wasmsign2.
    let pair = wasmsign2::KeyPair::generate();
    let module =
        wasmsign2::Module::deserialize(&mut std::io::Cursor::new(&plugin)).expect("parses");
    let theirs = pair.sk.sign(module, None).expect("wasmsign2 signs");
    let mut bytes = Vec::new();
    theirs.serialize(&mut bytes).unwrap();
    let their_key = PublicKey::from_bytes(&pair.pk.to_bytes()).unwrap();
    let v = signature::verify(&bytes, std::slice::from_ref(&their_key)).unwrap();
    assert_eq!(v.valid_keys, vec![their_key.clone()]);
    assert_eq!(
        v.content_sha256,
        signature::verify(&signed, &[]).unwrap().content_sha256
    );
    // Their secret key file works for our signer, ours for theirs.
    let converted = SecretKey::from_bytes(&pair.sk.to_bytes()).expect("wasmsign2 secret key reads");
    assert_eq!(converted.public_key(), their_key);
    wasmsign2::SecretKey::from_bytes(&ours.to_bytes()).expect("our secret key reads in wasmsign2");
}

#[test]
fn plugins_start_after_their_dependencies() {
    let m = |id: &str, version: &str, deps: serde_json::Value| -> Manifest {
        Manifest::parse(
            json!({"id": id, "version": version, "kind": "service", "dependencies": deps})
                .to_string()
                .as_bytes(),
        )
        .expect("manifest")
    };
    let order = start_order(&[
        m(
            "c.webhook",
            "1.0.0",
            json!({"b.audit": "^2.1", "a.kv": "1"}),
        ),
        m("b.audit", "2.3.0", json!({"a.kv": ">=1.0, <2"})),
        m("a.kv", "1.4.2", json!({})),
    ])
    .unwrap();
    assert_eq!(order, ["a.kv", "b.audit", "c.webhook"]);
    let e = start_order(&[m("c.webhook", "1.0.0", json!({"z.missing": "1"}))])
        .unwrap_err()
        .message;
    assert!(e.contains("z.missing") && e.contains("not loaded"), "{e}");
    let e = start_order(&[
        m("a.kv", "1.0.0", json!({})),
        m("b.x", "1.0.0", json!({"a.kv": "^2"})),
    ])
    .unwrap_err()
    .message;
    assert!(e.contains("a.kv is 1.0.0"), "{e}");
    let e = start_order(&[
        m("a.one", "1.0.0", json!({"b.two": "1"})),
        m("b.two", "1.0.0", json!({"a.one": "1"})),
    ])
    .unwrap_err()
    .message;
    assert!(
        e.contains("cycle") && e.contains("a.one → b.two → a.one"),
        "{e}"
    );
    let e = Manifest::parse(br#"{"id": "Bad Id", "version": "1", "kind": "hooks"}"#).unwrap_err();
    assert!(e.starts_with("id:"), "{e}");
    let e = Manifest::parse(br#"{"id": "a.b", "version": "one", "kind": "hooks"}"#).unwrap_err();
    assert!(e.starts_with("version:"), "{e}");
}

/// The CLI end to end: keygen, sign with a manifest, inspect, verify against a policy, refuse a tampered file.
#[test]
fn plugin_cli_keygen_sign_verify_inspect() {
    let dir = std::env::temp_dir().join(format!("objectos-plugin-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_objectos"))
            .args(args)
            .output()
            .expect("run objectos");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let p = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let (code, out, err) = run(&["plugin", "keygen", &p("vendor")]);
    assert_eq!(code, 0, "{err}");
    let key_id = out
        .lines()
        .find_map(|l| l.strip_prefix("key_id = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("key id printed")
        .to_string();
    let public = out
        .lines()
        .find_map(|l| l.strip_prefix("public_key = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("public key printed")
        .to_string();
    std::fs::copy(objectos_guest_artifacts::SAMPLE_SERVICE, p("audit.wasm")).unwrap();
    std::fs::write(
        p("manifest.json"),
        json!({"id": "com.example.audit", "version": "0.1.0", "kind": "service", "capabilities": ["log"]}).to_string(),
    )
    .unwrap();
    let (code, out, err) = run(&[
        "plugin",
        "sign",
        "--key",
        &p("vendor.sk"),
        "--manifest",
        &p("manifest.json"),
        &p("audit.wasm"),
        "-o",
        &p("signed.wasm"),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&key_id), "{out}");
    let (code, out, _) = run(&["plugin", "inspect", &p("signed.wasm")]);
    assert_eq!(code, 0);
    assert!(
        out.contains(&key_id) && out.contains("com.example.audit"),
        "{out}"
    );
    std::fs::write(
        p("trust.toml"),
        format!("[[keys]]\nkey_id = \"{key_id}\"\npublic_key = \"{public}\"\nplugins = [\"com.example.*\"]\n\n[grants.\"com.example.audit\"]\ncapabilities = [\"log\"]\n"),
    )
    .unwrap();
    let (code, out, err) = run(&[
        "plugin",
        "verify",
        "--trust",
        &p("trust.toml"),
        &p("signed.wasm"),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("OK") && out.contains("capabilities: log"),
        "{out}"
    );
    let (code, _, err) = run(&[
        "plugin",
        "verify",
        "--key",
        &p("vendor.pub"),
        &p("signed.wasm"),
    ]);
    assert_eq!(code, 0, "{err}");
    let mut bytes = std::fs::read(p("signed.wasm")).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x20;
    std::fs::write(p("tampered.wasm"), &bytes).unwrap();
    let (code, _, err) = run(&[
        "plugin",
        "verify",
        "--trust",
        &p("trust.toml"),
        &p("tampered.wasm"),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("changed after it was signed") || err.contains("malformed"),
        "{err}"
    );
    let (code, _, err) = run(&[
        "plugin",
        "verify",
        "--trust",
        &p("trust.toml"),
        &p("audit.wasm"),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no manifest") || err.contains("not signed"),
        "{err}"
    );
}

/// `serve --plugins DIR --trust FILE`: a refused plugin stops the start (named, with the reason), or is left
/// out with `--skip-bad-plugins`; `--allow-unsigned` admits unsigned ones with a warning; admitted plugins are
/// reported by `/api/v1/health`.
#[tokio::test]
async fn serve_admits_plugins_by_the_trust_policy() {
    use objectos_host::plugins::loader;
    let dir = std::env::temp_dir().join(format!("objectos-serve-plugins-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let vendor = SecretKey::generate().unwrap();
    let signed = signature::sign(
        &with_manifest(
            &component(),
            manifest("com.example.audit", &["log", "data:read:*"]),
        ),
        &vendor,
    )
    .unwrap();
    std::fs::write(plugins.join("audit.wasm"), &signed).unwrap();
    let mut tampered = signature::sign(
        &with_manifest(&component(), manifest("com.example.other", &[])),
        &vendor,
    )
    .unwrap();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x04;
    std::fs::write(plugins.join("other.wasm"), &tampered).unwrap();
    let trust = dir.join("trust.toml");
    std::fs::write(
        &trust,
        format!(
            "{}[grants.\"com.example.audit\"]\ncapabilities = [\"log\", \"data:read:*\"]\n\
             [grants.\"com.example.dev\"]\ncapabilities = [\"log\", \"data:read:*\"]\n",
            key_entry(&vendor, "\"com.example.*\"", None)
        ),
    )
    .unwrap();
    let expense = crate::support::repo_path("tests/fixtures/expense/objectstack.json");
    let url = format!("sqlite://{}", dir.join("app.db").display());
    let serve = |extra: &[&str]| {
        let mut args = vec![
            "serve".to_string(),
            expense.to_string_lossy().into_owned(),
            "--database-url".into(),
            url.clone(),
            "--check".into(),
            "--plugins".into(),
            plugins.to_string_lossy().into_owned(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_objectos"))
            .args(&args)
            .env_remove("OS_TRUST_POLICY")
            .env_remove("OS_PLUGINS_DIR")
            .output()
            .expect("run objectos");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let trust_arg = trust.to_string_lossy().into_owned();
    let (code, err) = serve(&["--trust", &trust_arg]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("other.wasm") && err.contains("changed after it was signed"),
        "{err}"
    );
    let (code, err) = serve(&["--trust", &trust_arg, "--skip-bad-plugins"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("left out") && err.contains("other.wasm"),
        "{err}"
    );
    let (code, err) = serve(&[]);
    assert_eq!(code, 2);
    assert!(err.contains("--plugins needs --trust"), "{err}");
    std::fs::remove_file(plugins.join("other.wasm")).unwrap();
    std::fs::write(
        plugins.join("dev.wasm"),
        with_manifest(
            &component(),
            manifest("com.example.dev", &["log", "data:read:*"]),
        ),
    )
    .unwrap();
    let (code, err) = serve(&["--trust", &trust_arg]);
    assert_eq!(code, 2);
    assert!(err.contains("dev.wasm: not signed"), "{err}");
    let (code, err) = serve(&["--trust", &trust_arg, "--allow-unsigned"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("WARNING: --allow-unsigned"), "{err}");

    // What health reports for admitted plugins.
    let policy = TrustPolicy::parse(&std::fs::read_to_string(&trust).unwrap()).unwrap();
    let loaded = loader::admit_dir(&loader::LoadOptions {
        dir: &plugins,
        policy: &policy,
        allow_unsigned: true,
        skip_bad: false,
        now: Utc::now(),
    })
    .unwrap();
    let admitted = loaded.plugins;
    assert_eq!(admitted.len(), 2);
    let s = crate::support::start_server_with(
        crate::support::Db::Sqlite,
        "",
        serde_json::from_str(include_str!("../fixtures/expense/objectstack.json")).unwrap(),
        Default::default(),
        |cfg| cfg.plugins = admitted.clone(),
    )
    .await;
    // Plugin details are for a platform administrator (the first user).
    let admin = s
        .sign_up("admin@example.com", "correct horse battery")
        .await;
    let r = s
        .call(
            "GET",
            "/api/v1/health",
            serde_json::Value::Null,
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let reported = r.body["plugins"].as_array().cloned().unwrap_or_default();
    assert_eq!(reported.len(), 2, "{:?}", r.body);
    let audit = reported
        .iter()
        .find(|p| p["id"] == "com.example.audit")
        .expect("audit plugin");
    assert_eq!(audit["signedBy"], json!(vendor.public_key().key_id()));
    assert_eq!(audit["capabilities"], json!(["data:read:*", "log"]));
    assert_eq!(audit["status"], "running");
}
