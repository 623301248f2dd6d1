//! Compiled components on disk, keyed by the SHA-256 of the component bytes and the engine's configuration,
//! so that a restart deserializes instead of recompiling. Only files this cache wrote are loaded: each has a
//! sidecar with the SHA-256 of its contents, checked before `Component::deserialize` (which trusts its input).
//! Pre-initialised snapshots of the JS runtime are kept here too, keyed by what they were made from.

use ring::digest::{SHA256, digest};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

pub struct CompileCache {
    dir: PathBuf,
    engine_key: String,
}

impl CompileCache {
    pub fn open(dir: &Path, engine: &Engine) -> std::io::Result<CompileCache> {
        std::fs::create_dir_all(dir)?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(CompileCache {
            dir: dir.to_path_buf(),
            engine_key: format!("{:016x}", hasher.finish()),
        })
    }

    fn paths(&self, stem: &str, ext: &str) -> (PathBuf, PathBuf) {
        (
            self.dir.join(format!("{stem}.{ext}")),
            self.dir.join(format!("{stem}.{ext}.sha256")),
        )
    }

    /// A file this cache wrote, if it is there and matches its sidecar.
    fn load_blob(&self, stem: &str, ext: &str) -> Option<(PathBuf, Vec<u8>)> {
        let (file, sidecar) = self.paths(stem, ext);
        let bytes = std::fs::read(&file).ok()?;
        let expected = std::fs::read_to_string(&sidecar).ok()?;
        if hex::encode(digest(&SHA256, &bytes)) != expected.trim() {
            tracing::warn!(file = %file.display(), "cache entry does not match its checksum; making it again");
            return None;
        }
        Some((file, bytes))
    }

    /// Writes a file and its sidecar; failures only cost redoing the work later.
    fn store_blob(&self, stem: &str, ext: &str, bytes: &[u8]) {
        let (file, sidecar) = self.paths(stem, ext);
        let tmp = file.with_extension(format!("tmp{}", std::process::id()));
        let written = std::fs::write(&tmp, bytes)
            .and_then(|_| std::fs::write(&sidecar, hex::encode(digest(&SHA256, bytes))))
            .and_then(|_| std::fs::rename(&tmp, &file));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            tracing::warn!(dir = %self.dir.display(), "could not write the cache: {e}");
        }
    }

    /// The cached compilation of a component, if a valid one is there.
    pub fn load(&self, engine: &Engine, component_sha256: &str) -> Option<Component> {
        let stem = format!("{component_sha256}-{}", self.engine_key);
        let (file, bytes) = self.load_blob(&stem, "cwasm")?;
        // SAFETY: the bytes are a serialization this cache wrote (checked against the sidecar written with them)
        // for an engine with the same compatibility hash; deserialize also checks the engine configuration.
        match unsafe { Component::deserialize(engine, &bytes) } {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(file = %file.display(), "compile cache entry unusable ({e}); recompiling");
                None
            }
        }
    }

    /// Stores a compilation.
    pub fn store(&self, component_sha256: &str, component: &Component) {
        if let Ok(bytes) = component.serialize() {
            let stem = format!("{component_sha256}-{}", self.engine_key);
            self.store_blob(&stem, "cwasm", &bytes);
        }
    }

    /// A pre-initialised component (see `snapshot.rs`) made earlier for the same inputs.
    pub fn load_snapshot(&self, key: &str) -> Option<Vec<u8>> {
        self.load_blob(key, "snapshot.wasm").map(|(_, b)| b)
    }

    pub fn store_snapshot(&self, key: &str, component: &[u8]) {
        self.store_blob(key, "snapshot.wasm", component);
    }
}
