//! Password hashing (argon2id, the crate's default parameters: 19 MiB, 2 passes) behind a gate.
//!
//! Each hash needs 19 MiB of working memory. Unbounded, 200 concurrent sign-ins meant 200 blocking threads with
//! 19 MiB each (and the allocator kept most of it). Here at most `concurrency` hashes run at once, each in one
//! of `concurrency` memory blocks that are allocated once and reused; a caller that waits longer than
//! `queue_timeout` for a slot gets `Busy` (503 `TOO_BUSY` with `Retry-After`). Stored hashes are ordinary PHC
//! strings (`$argon2id$v=19$m=…`), so hashes written before this gate verify unchanged.

use argon2::password_hash::{PasswordHash, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// The largest argon2 memory a stored hash may ask for (64 MiB); a bigger one is treated as not matching.
const MAX_VERIFY_BLOCKS: usize = 64 * 1024;

/// No hashing slot became free within the queue timeout.
#[derive(Debug, Clone, Copy)]
pub struct Busy {
    pub retry_after_secs: u64,
}

pub struct PasswordHasherPool {
    permits: Arc<Semaphore>,
    queue_timeout: Duration,
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
}

impl PasswordHasherPool {
    pub fn new(concurrency: usize, queue_timeout: Duration) -> PasswordHasherPool {
        PasswordHasherPool {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            queue_timeout,
            memory: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The hashing slots (tests hold them to see the `TOO_BUSY` path deterministically).
    pub fn permits(&self) -> Arc<Semaphore> {
        self.permits.clone()
    }

    /// Runs `f` on a blocking thread with a slot and a reusable memory block, or `Busy`.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let busy = Busy {
            retry_after_secs: self.queue_timeout.as_secs().max(1),
        };
        let permit = tokio::time::timeout(self.queue_timeout, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| busy)?
            .map_err(|_| busy)?;
        let memory = self.memory.clone();
        tokio::task::spawn_blocking(move || {
            let mut block = memory
                .lock()
                .ok()
                .and_then(|mut m| m.pop())
                .unwrap_or_default();
            let out = f(&mut block);
            if let Ok(mut m) = memory.lock() {
                m.push(block);
            }
            // The slot is freed only once its memory is back in the pool: never more blocks than slots.
            drop(permit);
            out
        })
        .await
        .map_err(|_| busy)
    }

    /// A new PHC string for `password`.
    pub async fn hash(&self, password: &str) -> Result<Result<String, String>, Busy> {
        let password = password.to_string();
        self.run(move |memory| {
            let params = Params::default();
            let salt = SaltString::generate(&mut OsRng);
            let mut salt_bytes = [0u8; 64];
            let salt_raw = salt
                .decode_b64(&mut salt_bytes)
                .map_err(|e| e.to_string())?;
            let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
            fill(
                &Argon2::default(),
                password.as_bytes(),
                salt_raw,
                &mut out,
                memory,
                &params,
            )?;
            Ok(format!(
                "$argon2id$v=19$m={},t={},p={}${}${}",
                params.m_cost(),
                params.t_cost(),
                params.p_cost(),
                salt.as_str(),
                STANDARD_NO_PAD.encode(out)
            ))
        })
        .await
    }

    /// Whether `password` matches the PHC string `hash` (an unparsable hash never matches).
    pub async fn verify(&self, password: &str, hash: &str) -> Result<bool, Busy> {
        let (password, hash) = (password.to_string(), hash.to_string());
        self.run(move |memory| verify_with(&password, &hash, memory).unwrap_or(false))
            .await
    }
}

fn fill(
    argon: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    memory: &mut Vec<Block>,
    params: &Params,
) -> Result<(), String> {
    let needed = params.block_count();
    if needed > MAX_VERIFY_BLOCKS {
        return Err(format!("argon2 memory of {needed} KiB is above the limit"));
    }
    if memory.len() < needed {
        memory.resize(needed, Block::default());
    }
    argon
        .hash_password_into_with_memory(password, salt, out, &mut memory[..needed])
        .map_err(|e| e.to_string())
}

fn verify_with(password: &str, hash: &str, memory: &mut Vec<Block>) -> Option<bool> {
    let parsed = PasswordHash::new(hash).ok()?;
    let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .ok()?
        .unwrap_or_default();
    let expected = parsed.hash?;
    let params = Params::try_from(&parsed).ok()?;
    let params = Params::new(
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        Some(expected.len()),
    )
    .ok()?;
    let mut salt_bytes = [0u8; 64];
    let salt = parsed.salt?.decode_b64(&mut salt_bytes).ok()?;
    let argon = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    fill(&argon, password.as_bytes(), salt, &mut out, memory, &params).ok()?;
    let computed = argon2::password_hash::Output::new(&out).ok()?;
    // `Output`'s equality is constant-time.
    Some(computed == expected)
}
