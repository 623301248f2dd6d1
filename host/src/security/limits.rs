//! Attempt limits for sign-in and password change: the knobs (`AuthLimits`), and the failure table that enforces
//! them (`Attempts`).
//!
//! An attempt is counted **before** the password is checked: `Attempts::reserve` takes one slot per key (client
//! IP, account, user) atomically, or refuses when a key already holds its maximum inside the window. A failed
//! check keeps the slot; a successful one (or one that never reached the check, e.g. refused as too busy)
//! releases it. So N concurrent wrong passwords for one account get exactly `max` answers of 401 and the rest 429,
//! whatever the interleaving.
//!
//! The table is bounded: expired timestamps are dropped on every touch of a key, the whole table is swept for
//! expired keys every `SWEEP_EVERY` insertions or `SWEEP_INTERVAL`, and past `max_tracked_keys` the keys whose
//! last attempt is oldest are evicted (a tenth of the cap at a time).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Sweep the whole table after this many new keys…
const SWEEP_EVERY: u64 = 4096;
/// …or when the last sweep is older than this.
const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// Authentication limits (flags / `OS_*` env; see the CLI for each name).
#[derive(Clone, Debug)]
pub struct AuthLimits {
    /// Failed sign-ins per client IP inside `failure_window` before 429.
    pub max_failures_per_ip: usize,
    /// Failed sign-ins per account (email) inside `failure_window` before 429.
    pub max_failures_per_account: usize,
    /// Wrong current passwords per user on change-password inside `failure_window` before 429.
    pub max_password_change_failures: usize,
    pub failure_window: Duration,
    /// Keys (IPs, accounts, users) the failure table tracks at most.
    pub max_tracked_keys: usize,
    /// Password hashes computed at once (each holds argon2id's 19 MiB); default: the number of cores.
    pub hash_concurrency: usize,
    /// How long a sign-in waits for a hashing slot before 503 `TOO_BUSY`.
    pub hash_queue_timeout: Duration,
    /// Longest lifetime of an API key; a key created without `expiresIn`/`expiresAt` gets this one.
    pub api_key_max_ttl: Duration,
}

impl Default for AuthLimits {
    fn default() -> Self {
        AuthLimits {
            max_failures_per_ip: 20,
            max_failures_per_account: 5,
            max_password_change_failures: 5,
            failure_window: Duration::from_secs(15 * 60),
            max_tracked_keys: 100_000,
            hash_concurrency: default_hash_concurrency(),
            hash_queue_timeout: Duration::from_secs(5),
            api_key_max_ttl: Duration::from_secs(365 * 24 * 3600),
        }
    }
}

/// The number of cores (at least 1).
pub fn default_hash_concurrency() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Counters of the failure table, for `/metrics` and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AttemptStats {
    /// Keys tracked now.
    pub keys: usize,
    /// Keys dropped because all their attempts had left the window.
    pub expired_total: u64,
    /// Keys dropped because the table was full.
    pub evicted_total: u64,
}

struct Table {
    keys: HashMap<String, VecDeque<Instant>>,
    inserted_since_sweep: u64,
    last_sweep: Instant,
}

/// The failure table. Keys are namespaced by the caller (`ip:…`, `account:…`, `password:…`).
pub struct Attempts {
    table: Mutex<Table>,
    window: Duration,
    max_keys: usize,
    expired_total: AtomicU64,
    evicted_total: AtomicU64,
}

/// Slots taken by one attempt. Dropping it keeps the slots (the attempt counts as failed); `release` gives them
/// back.
pub struct Reservation<'a> {
    attempts: &'a Attempts,
    taken: Vec<(String, Instant)>,
}

impl Reservation<'_> {
    /// The attempt succeeded or never reached the check: it does not count.
    pub fn release(mut self) {
        let taken = std::mem::take(&mut self.taken);
        let Ok(mut t) = self.attempts.table.lock() else {
            return;
        };
        for (key, at) in taken {
            if let Some(list) = t.keys.get_mut(&key) {
                if let Some(i) = list.iter().position(|x| *x == at) {
                    list.remove(i);
                }
                if list.is_empty() {
                    t.keys.remove(&key);
                }
            }
        }
    }

    /// The attempt failed: its slots stay until they leave the window.
    pub fn keep(self) {}
}

impl Attempts {
    pub fn new(window: Duration, max_keys: usize) -> Attempts {
        Attempts {
            table: Mutex::new(Table {
                keys: HashMap::new(),
                inserted_since_sweep: 0,
                last_sweep: Instant::now(),
            }),
            window,
            max_keys: max_keys.max(1),
            expired_total: AtomicU64::new(0),
            evicted_total: AtomicU64::new(0),
        }
    }

    /// Takes one slot under each `(key, max)`, all or none. `Err(seconds)` names when the fullest key frees a slot.
    pub fn reserve(&self, limits: &[(&str, usize)]) -> Result<Reservation<'_>, u64> {
        let Ok(mut t) = self.table.lock() else {
            // A poisoned table refuses rather than letting attempts through unlimited.
            return Err(1);
        };
        let now = Instant::now();
        let mut wait: Option<u64> = None;
        for (key, max) in limits {
            if let Some(list) = t.keys.get_mut(*key) {
                while list
                    .front()
                    .is_some_and(|at| now.duration_since(*at) >= self.window)
                {
                    list.pop_front();
                }
                if list.len() >= *max {
                    let oldest = list.front().copied().unwrap_or(now);
                    let secs = self
                        .window
                        .saturating_sub(now.duration_since(oldest))
                        .as_secs()
                        .max(1);
                    wait = Some(wait.map_or(secs, |w| w.max(secs)));
                }
            } else if *max == 0 {
                wait = Some(self.window.as_secs().max(1));
            }
        }
        if let Some(w) = wait {
            return Err(w);
        }
        let mut taken = Vec::with_capacity(limits.len());
        for (key, _) in limits {
            let list = match t.keys.get_mut(*key) {
                Some(l) => l,
                None => {
                    t.inserted_since_sweep += 1;
                    t.keys.entry(key.to_string()).or_default()
                }
            };
            list.push_back(now);
            taken.push((key.to_string(), now));
        }
        if t.keys.len() > self.max_keys
            || t.inserted_since_sweep >= SWEEP_EVERY
            || now.duration_since(t.last_sweep) >= SWEEP_INTERVAL
        {
            self.sweep(&mut t, now);
        }
        Ok(Reservation {
            attempts: self,
            taken,
        })
    }

    /// Drops every key whose attempts all left the window as of `now`, then evicts the least recently tried keys
    /// if the table is still over its cap.
    fn sweep(&self, t: &mut Table, now: Instant) {
        let before = t.keys.len();
        let window = self.window;
        t.keys.retain(|_, list| {
            list.back()
                .is_some_and(|last| now.saturating_duration_since(*last) < window)
        });
        self.expired_total
            .fetch_add((before - t.keys.len()) as u64, Ordering::Relaxed);
        t.inserted_since_sweep = 0;
        t.last_sweep = now;
        if t.keys.len() > self.max_keys {
            let target = self.max_keys - self.max_keys / 10;
            let mut by_age: Vec<(Instant, String)> = t
                .keys
                .iter()
                .map(|(k, l)| (l.back().copied().unwrap_or(now), k.clone()))
                .collect();
            by_age.sort();
            let excess = t.keys.len().saturating_sub(target);
            for (_, key) in by_age.into_iter().take(excess) {
                t.keys.remove(&key);
            }
            self.evicted_total
                .fetch_add(excess as u64, Ordering::Relaxed);
        }
    }

    /// Sweeps as if the clock read `now` (a test hook: pass a future instant to see expiry without waiting).
    pub fn sweep_at(&self, now: Instant) {
        if let Ok(mut t) = self.table.lock() {
            self.sweep(&mut t, now);
        }
    }

    pub fn stats(&self) -> AttemptStats {
        AttemptStats {
            keys: self.table.lock().map(|t| t.keys.len()).unwrap_or(0),
            expired_total: self.expired_total.load(Ordering::Relaxed),
            evicted_total: self.evicted_total.load(Ordering::Relaxed),
        }
    }
}
