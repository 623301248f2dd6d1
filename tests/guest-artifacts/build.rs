//! Builds the guest workspace in `plugins/` for wasm32-wasip2 (as wasmtime's test-programs do) and writes
//! `guests.rs`: one constant per component, holding the path of its `.wasm`.

use std::path::{Path, PathBuf};
use std::process::Command;

const COMPONENTS: &[&str] = &[
    "sample_hooks",
    "sample_functions",
    "hostile",
    "hostile_fs",
    "js_runtime",
    "sample_service",
    "webhook",
    "audit_forward",
    "kv_driver",
    "stamp_hooks",
];

fn main() {
    let manifest_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .join("../..")
        .canonicalize()
        .expect("repository root");
    for watched in ["plugins", "sdk", "wit"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let target_dir = root.join("target/guests");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root.join("plugins"))
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&target_dir);
    // The outer build's settings are for the host; the guests get their own.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
    ] {
        cmd.env_remove(var);
    }
    for (key, _) in std::env::vars() {
        if key.starts_with("CARGO_PROFILE_") || key.starts_with("CARGO_CFG_") {
            cmd.env_remove(key);
        }
    }
    let status = cmd
        .status()
        .expect("running cargo for the guest components");
    assert!(
        status.success(),
        "building plugins/ for wasm32-wasip2 failed (is the target installed? `rustup target add wasm32-wasip2`)"
    );
    let mut out = String::new();
    for name in COMPONENTS {
        let path = target_dir
            .join("wasm32-wasip2/release")
            .join(format!("{name}.wasm"));
        assert!(
            Path::new(&path).exists(),
            "{} was not built",
            path.display()
        );
        out.push_str(&format!(
            "pub const {}: &str = {:?};\n",
            name.to_uppercase(),
            path.display().to_string()
        ));
    }
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("guests.rs");
    std::fs::write(dest, out).expect("writing guests.rs");
}
