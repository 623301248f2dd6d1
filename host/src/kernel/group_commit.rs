//! Group commit for single-writer databases (SQLite). Writers that arrive while another batch is being
//! written queue up; the next one to take the writer lock becomes the leader and runs every queued write in
//! ONE transaction, each inside its own savepoint (a failing write rolls back alone), then commits once and
//! hands every caller its own result. Nobody is answered before the commit that holds their write.
//!
//! A write that panics fails alone: the panic is caught at the write's boundary, its savepoint is rolled back,
//! its caller gets `INTERNAL_ERROR` and its batch-mates commit.

use super::hooks::WriteCx;
use super::{DataOp, Kernel, OpResult, Principal};
use crate::data::error::DataError;
use futures_util::FutureExt;
use std::sync::Mutex;
use tokio::sync::oneshot;

/// The most writes one transaction carries.
const MAX_BATCH: usize = 128;

struct Job {
    principal: Principal,
    op: DataOp,
    depth: usize,
    reply: oneshot::Sender<Result<OpResult, DataError>>,
}

#[derive(Default)]
pub struct GroupCommit {
    pending: Mutex<Vec<Job>>,
    leader: tokio::sync::Mutex<()>,
}

impl GroupCommit {
    pub async fn submit(
        &self,
        kernel: &Kernel,
        principal: &Principal,
        op: DataOp,
        depth: usize,
    ) -> Result<OpResult, DataError> {
        let (reply, mut answer) = oneshot::channel();
        self.pending
            .lock()
            .map_err(|_| DataError::Internal("write queue poisoned".into()))?
            .push(Job {
                principal: principal.clone(),
                op,
                depth,
                reply,
            });
        loop {
            tokio::select! {
                biased;
                result = &mut answer => return result.unwrap_or_else(|_| Err(DataError::Internal("the write was dropped".into()))),
                guard = self.leader.lock() => {
                    self.lead(kernel).await;
                    drop(guard);
                }
            }
        }
    }

    /// Writes everything queued so far in one transaction.
    async fn lead(&self, kernel: &Kernel) {
        let jobs: Vec<Job> = match self.pending.lock() {
            Ok(mut p) => {
                let n = p.len().min(MAX_BATCH);
                p.drain(..n).collect()
            }
            Err(_) => return,
        };
        if jobs.is_empty() {
            return;
        }
        let mut tx = match kernel.driver.begin().await {
            Ok(tx) => tx,
            Err(e) => {
                for job in jobs {
                    let _ = job.reply.send(Err(DataError::Unavailable(e.to_string())));
                }
                return;
            }
        };
        let mut results = Vec::with_capacity(jobs.len());
        let mut deferred = Vec::with_capacity(jobs.len());
        let mut replies = Vec::with_capacity(jobs.len());
        let mut broken: Option<String> = None;
        for job in jobs {
            replies.push(job.reply);
            if let Some(why) = &broken {
                results.push(Err(DataError::Internal(why.clone())));
                continue;
            }
            if let Err(e) = tx.savepoint().await {
                broken = Some(e.to_string());
                results.push(Err(e));
                continue;
            }
            let mut cx = WriteCx::at_depth(job.depth);
            let write = kernel.write_in(&mut *tx, &job.principal, job.op, &mut cx);
            let result = std::panic::AssertUnwindSafe(write)
                .catch_unwind()
                .await
                .unwrap_or_else(|panic| {
                    let request = job.principal.request_id.as_deref().unwrap_or("-");
                    tracing::error!(
                        request_id = request,
                        "a write panicked ({}); it fails alone, its batch goes on",
                        panic_message(&*panic)
                    );
                    Err(DataError::Internal("the write panicked".into()))
                });
            if result.is_ok() {
                deferred.push(cx.after_commit);
            }
            let settled = if result.is_ok() {
                tx.release_savepoint().await
            } else {
                tx.rollback_to_savepoint().await
            };
            if let Err(e) = settled {
                broken = Some(e.to_string());
            }
            results.push(result);
        }
        let committed = match broken {
            None => tx.commit().await,
            Some(why) => Err(DataError::Internal(why)),
        };
        if committed.is_ok() {
            for jobs in deferred {
                kernel.spawn_after_commit(jobs);
            }
        }
        for (reply, result) in replies.into_iter().zip(results) {
            let answer = match (&committed, result) {
                (Ok(()), r) => r,
                // The commit failed: nothing of the batch is written, whatever each write said.
                (Err(e), _) => Err(DataError::Unavailable(format!(
                    "the write could not be committed: {e}"
                ))),
            };
            let _ = reply.send(answer);
        }
    }
}

/// What a caught panic said, when it said it as text.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message")
}
