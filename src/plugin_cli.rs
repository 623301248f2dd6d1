//! `objectos plugin keygen | sign | verify | inspect`.

use clap::Subcommand;
use objectos_host::plugins::manifest::{MANIFEST_SECTION, Manifest};
use objectos_host::plugins::signature::{self, PublicKey, SecretKey};
use objectos_host::plugins::trust::TrustPolicy;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum PluginCommand {
    /// Make an Ed25519 key pair: OUT.sk (secret, 0x81 ‖ seed ‖ public) and OUT.pub (0x01 ‖ public), the
    /// formats wasmsign2 reads too. Prints the key id and the public key for the trust policy.
    Keygen {
        /// Path prefix of the two files.
        out: String,
    },
    /// Sign a plugin component (embedding the manifest first when given); another signer may sign again.
    Sign {
        #[arg(long)]
        key: String,
        /// The manifest JSON to embed (a custom section covered by the signature).
        #[arg(long)]
        manifest: Option<String>,
        plugin: String,
        /// Where to write the signed component (default: in place).
        #[arg(short, long)]
        out: Option<String>,
    },
    /// Check a plugin against a trust policy (or one public key): exit status 2 when it would be refused.
    Verify {
        #[arg(long, conflicts_with = "key")]
        trust: Option<String>,
        /// A public key file (checks the signature only, no policy).
        #[arg(long)]
        key: Option<String>,
        #[arg(long)]
        allow_unsigned: bool,
        plugin: String,
    },
    /// Show a plugin's manifest, content SHA-256 and signers.
    Inspect { plugin: String },
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("{message}");
    ExitCode::from(2)
}

fn read(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{path}: {e}"))
}

pub fn run(command: PluginCommand) -> ExitCode {
    match command {
        PluginCommand::Keygen { out } => match keygen(&out) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        },
        PluginCommand::Sign {
            key,
            manifest,
            plugin,
            out,
        } => match sign(
            &key,
            manifest.as_deref(),
            &plugin,
            out.as_deref().unwrap_or(&plugin),
        ) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        },
        PluginCommand::Verify {
            trust,
            key,
            allow_unsigned,
            plugin,
        } => match verify(trust.as_deref(), key.as_deref(), allow_unsigned, &plugin) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        },
        PluginCommand::Inspect { plugin } => match inspect(&plugin) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        },
    }
}

fn keygen(out: &str) -> Result<(), String> {
    let key = SecretKey::generate().map_err(|e| e.to_string())?;
    let (sk, pk) = (format!("{out}.sk"), format!("{out}.pub"));
    write_secret(&sk, &key.to_bytes())?;
    std::fs::write(&pk, key.public_key().to_bytes()).map_err(|e| format!("{pk}: {e}"))?;
    let public = key.public_key();
    println!("wrote {sk} (keep it secret) and {pk}");
    println!("key_id = \"{}\"", public.key_id());
    println!("public_key = \"{}\"", hex::encode(public.0));
    Ok(())
}

#[cfg(unix)]
fn write_secret(path: &str, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| format!("{path}: {e}"))
}

#[cfg(not(unix))]
fn write_secret(path: &str, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("{path}: {e}"))
}

fn sign(key: &str, manifest: Option<&str>, plugin: &str, out: &str) -> Result<(), String> {
    let key = SecretKey::from_bytes(&read(key)?).map_err(|e| format!("{key}: {e}"))?;
    let mut bytes = read(plugin)?;
    if let Some(path) = manifest {
        let json = read(path)?;
        Manifest::parse(&json).map_err(|e| format!("{path}: {e}"))?;
        bytes = signature::with_custom_section(&bytes, MANIFEST_SECTION, &json)
            .map_err(|e| format!("{plugin}: {e}"))?;
    }
    let signed = signature::sign(&bytes, &key).map_err(|e| format!("{plugin}: {e}"))?;
    std::fs::write(out, &signed).map_err(|e| format!("{out}: {e}"))?;
    println!(
        "{out}: signed by key {} ({} bytes)",
        key.public_key().key_id(),
        signed.len()
    );
    Ok(())
}

fn verify(
    trust: Option<&str>,
    key: Option<&str>,
    allow_unsigned: bool,
    plugin: &str,
) -> Result<(), String> {
    let bytes = read(plugin)?;
    match (trust, key) {
        (Some(trust), _) => {
            let text = std::fs::read_to_string(trust).map_err(|e| format!("{trust}: {e}"))?;
            let policy = TrustPolicy::parse(&text)?;
            let admitted = policy
                .admit(plugin, &bytes, chrono::Utc::now(), allow_unsigned)
                .map_err(|e| e.to_string())?;
            let caps: Vec<String> = admitted
                .capabilities
                .iter()
                .map(|c| c.to_string())
                .collect();
            println!(
                "{plugin}: OK — {} {} signed by {}; capabilities: {}",
                admitted.manifest.id,
                admitted.manifest.version,
                admitted
                    .signed_by
                    .as_deref()
                    .unwrap_or("nobody (unsigned, --allow-unsigned)"),
                if caps.is_empty() {
                    "none".into()
                } else {
                    caps.join(", ")
                }
            );
            Ok(())
        }
        (None, Some(key)) => {
            let public = PublicKey::from_bytes(&read(key)?).map_err(|e| format!("{key}: {e}"))?;
            let v = signature::verify(&bytes, std::slice::from_ref(&public))
                .map_err(|e| format!("{plugin}: {e}"))?;
            if v.valid_keys.is_empty() {
                return Err(format!(
                    "{plugin}: no valid signature by key {}",
                    public.key_id()
                ));
            }
            println!("{plugin}: OK — signed by key {}", public.key_id());
            Ok(())
        }
        (None, None) => Err("give --trust POLICY.toml or --key KEY.pub".into()),
    }
}

fn inspect(plugin: &str) -> Result<(), String> {
    let bytes = read(plugin)?;
    let v = signature::verify(&bytes, &[]).map_err(|e| format!("{plugin}: {e}"))?;
    println!("{plugin}");
    println!("  content sha256: {}", v.content_sha256);
    let signers = signature::signer_ids(&bytes).map_err(|e| e.to_string())?;
    if signers.is_empty() {
        println!("  signatures: none");
    } else {
        println!("  signatures by key id: {}", signers.join(", "));
    }
    match signature::custom_section(&bytes, MANIFEST_SECTION).map_err(|e| e.to_string())? {
        Some(json) => match Manifest::parse(json) {
            Ok(m) => println!(
                "  manifest: {}\n",
                serde_json::to_string_pretty(&m).unwrap_or_default()
            ),
            Err(e) => println!("  manifest: invalid: {e}"),
        },
        None => println!("  manifest: none"),
    }
    Ok(())
}
