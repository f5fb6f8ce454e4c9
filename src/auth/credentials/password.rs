//! bcrypt on its own bounded pool of threads, never on the async workers.
//!
//! When checks queue up, a thread takes several waiting ones at once and runs them in the SIMD
//! lanes of its core (`bcrypt_rust::verify_many`, `hash_many`): eight cost-12 checks in one AVX2
//! batch take about 1.28 s here, against 1.81 s one after another. A lone check always runs on
//! its own, so an idle server answers a sign-in as fast as one bcrypt allows.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;

use bcrypt_rust::BcryptError;
use tokio::sync::oneshot;

use crate::domain::Password;

mod batch;
use batch::{BatchPlan, Batchable};

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every hashing thread is busy and the queue is full: answer 503 rather than pile up work.
    #[error("the password hashing queue is full")]
    Busy,
    #[error("bcrypt failed: {0}")]
    Bcrypt(#[from] BcryptError),
    #[error("the password hashing pool stopped")]
    Stopped,
}

/// Where a job's answer goes.
type Reply<T> = oneshot::Sender<Result<T, BcryptError>>;

/// One piece of work for the hashing threads. Each carries the sender its answer goes to.
enum Job {
    Hash {
        password: Password,
        reply: Reply<String>,
    },
    Verify {
        password: Password,
        hash: String,
        reply: Reply<bool>,
    },
    /// Any closure, for the tests that need to hold a thread.
    #[cfg(test)]
    Run(Box<dyn FnOnce() + Send>),
}

impl Batchable for Job {
    /// Jobs of one kind can share a batch; closures never do.
    fn batch_kind(&self) -> Option<u8> {
        match self {
            Job::Hash { .. } => Some(0),
            Job::Verify { .. } => Some(1),
            #[cfg(test)]
            Job::Run(_) => None,
        }
    }
}

/// The queue the hashing threads wait on.
struct Shared {
    queue: Mutex<Waiting>,
    ready: Condvar,
    capacity: usize,
    /// When jobs share a batch; `None`: the process's measured plan, once it is measured.
    plan: Option<BatchPlan>,
    cost: u32,
    /// Jobs queued or running, for the metrics.
    in_flight: AtomicUsize,
    /// Jobs that ran in a batch of more than one, for the metrics.
    batched: AtomicU64,
}

struct Waiting {
    jobs: VecDeque<Job>,
    closed: bool,
}

impl Shared {
    fn lock(&self) -> Option<MutexGuard<'_, Waiting>> {
        self.queue.lock().ok()
    }

    /// A hashing thread: wait for work, take a batch, run it, until the pool is dropped.
    fn serve(&self) {
        lower_priority();
        loop {
            let Some(mut waiting) = self.lock() else {
                return;
            };
            let batch = loop {
                if waiting.closed {
                    return;
                }
                let plan = self.plan.unwrap_or_else(BatchPlan::current);
                let batch = plan.take(&mut waiting.jobs);
                if !batch.is_empty() {
                    break batch;
                }
                waiting = match self.ready.wait(waiting) {
                    Ok(waiting) => waiting,
                    Err(_) => return,
                };
            };
            // The lock is held only while taking work, not while it runs.
            drop(waiting);
            self.run(batch);
        }
    }

    fn run(&self, batch: Vec<Job>) {
        if batch.len() > 1 {
            self.batched
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
        }
        let mut hashes = Vec::new();
        let mut checks = Vec::new();
        for job in batch {
            match job {
                Job::Hash { password, reply } => hashes.push((password, reply)),
                Job::Verify {
                    password,
                    hash,
                    reply,
                } => checks.push((password, hash, reply)),
                #[cfg(test)]
                Job::Run(work) => {
                    work();
                    self.done();
                }
            }
        }
        self.hash_all(hashes);
        self.verify_all(checks);
    }

    /// Counted down before the caller is woken, so it never sees its own job in flight.
    fn done(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    fn hash_all(&self, jobs: Vec<(Password, Reply<String>)>) {
        let cost = self.cost;
        let results = match jobs.as_slice() {
            [] => return,
            [(password, _)] => vec![bcrypt_rust::hash(password.expose(), cost)],
            many => {
                let passwords: Vec<&[u8]> =
                    many.iter().map(|(p, _)| p.expose().as_bytes()).collect();
                match bcrypt_rust::hash_many(&passwords, cost) {
                    Ok(hashes) => hashes.into_iter().map(Ok).collect(),
                    Err(e) => vec![Err(e); many.len()],
                }
            }
        };
        for ((_, reply), result) in jobs.into_iter().zip(results) {
            self.done();
            let _ = reply.send(result);
        }
    }

    fn verify_all(&self, jobs: Vec<(Password, String, Reply<bool>)>) {
        let results = match jobs.as_slice() {
            [] => return,
            [(password, hash, _)] => vec![bcrypt_rust::verify(password.expose(), hash)],
            many => {
                let passwords: Vec<&[u8]> =
                    many.iter().map(|(p, _, _)| p.expose().as_bytes()).collect();
                let hashes: Vec<&str> = many.iter().map(|(_, h, _)| h.as_str()).collect();
                bcrypt_rust::verify_many(&passwords, &hashes)
            }
        };
        for ((_, _, reply), result) in jobs.into_iter().zip(results) {
            self.done();
            let _ = reply.send(result);
        }
    }
}

/// How much lower than the request workers the hashing threads run: nice +19, the lowest weight
/// the scheduler gives, so request workers win every contended core (measured with `wrk`:
/// `/protected` p99 under saturating sign-ins 6.5-7.6 ms at +19 against 7.4-8.0 ms at +10; on an
/// otherwise idle machine bcrypt still gets every core, so sign-ins are unchanged).
const HASHING_NICENESS: i32 = 19;

/// Lowers the calling thread's scheduling priority, so the kernel preempts bcrypt whenever a
/// request worker is ready: token checks keep a low p99 while sign-ins use the idle CPU. On Linux
/// `setpriority(PRIO_PROCESS, tid)` applies to one thread. Best effort: where it is not allowed,
/// hashing simply runs at normal priority.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        let tid = rustix::thread::gettid();
        let current = rustix::process::getpriority_process(Some(tid)).unwrap_or(0);
        if let Err(e) = rustix::process::setpriority_process(Some(tid), current + HASHING_NICENESS)
        {
            log::warn!("cannot lower the priority of a hashing thread: {e}");
        }
    }
}

/// A fixed set of threads that run bcrypt, fed by a bounded queue.
///
/// Sign-ins beyond `threads + queue` in flight are refused with [`HashError::Busy`] at once, so a
/// flood of sign-ins cannot queue unbounded work or memory.
pub struct PasswordHasher {
    shared: Arc<Shared>,
    /// A hash of the configured cost that no password matches, verified for unknown users so
    /// that they cost the same as known ones (OWASP Authentication Cheat Sheet, "Authentication
    /// Responses").
    dummy_hash: String,
}

/// A hash of a random secret nobody knows, made off the async workers.
async fn dummy_hash(cost: u32) -> Result<String, HashError> {
    let unguessable = crate::auth::keys::random::random_token(32);
    let hash = tokio::task::spawn_blocking(move || bcrypt_rust::hash(unguessable, cost))
        .await
        .map_err(|_| HashError::Stopped)?;
    Ok(hash?)
}

impl PasswordHasher {
    /// Starts `threads` hashing threads with room for `queue` waiting jobs, and computes the
    /// dummy hash. The batch plan is measured in the background: until it is known every job
    /// runs alone, so the server is ready as soon as the dummy hash is.
    pub async fn start(threads: usize, queue: usize, cost: u32) -> Result<Self, HashError> {
        BatchPlan::measure_in_background();
        let dummy_hash = dummy_hash(cost).await?;
        Self::launch(None, threads, queue, cost, dummy_hash)
    }

    #[cfg(test)]
    async fn start_with(
        plan: BatchPlan,
        threads: usize,
        queue: usize,
        cost: u32,
    ) -> Result<Self, HashError> {
        let dummy_hash = dummy_hash(cost).await?;
        Self::launch(Some(plan), threads, queue, cost, dummy_hash)
    }

    fn launch(
        plan: Option<BatchPlan>,
        threads: usize,
        queue: usize,
        cost: u32,
        dummy_hash: String,
    ) -> Result<Self, HashError> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Waiting {
                jobs: VecDeque::with_capacity(queue),
                closed: false,
            }),
            ready: Condvar::new(),
            capacity: queue,
            plan,
            cost,
            in_flight: AtomicUsize::new(0),
            batched: AtomicU64::new(0),
        });
        let hasher = Self { shared, dummy_hash };
        for n in 0..threads {
            let shared = Arc::clone(&hasher.shared);
            thread::Builder::new()
                .name(format!("bcrypt-{n}"))
                .spawn(move || shared.serve())
                .map_err(|_| HashError::Stopped)?;
        }
        Ok(hasher)
    }

    /// Queues a job, or refuses it at once when the queue is full.
    fn submit(&self, job: Job) -> Result<(), HashError> {
        let mut waiting = self.shared.lock().ok_or(HashError::Stopped)?;
        if waiting.closed {
            return Err(HashError::Stopped);
        }
        if waiting.jobs.len() >= self.shared.capacity {
            return Err(HashError::Busy);
        }
        self.shared.in_flight.fetch_add(1, Ordering::Relaxed);
        waiting.jobs.push_back(job);
        drop(waiting);
        self.shared.ready.notify_one();
        Ok(())
    }

    /// Whether a stored hash was made at another cost than the configured one, so it should be
    /// made again at the next sign-in (docs/api.md §3: old-cost accounts would otherwise
    /// stay cheaper to attack, and sign in measurably faster than unknown names).
    pub fn needs_rehash(&self, hash: &str) -> bool {
        hash.parse::<bcrypt_rust::HashParts>()
            .is_ok_and(|parts| parts.get_cost() != self.shared.cost)
    }

    /// Password checks queued or running now.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::Relaxed)
    }

    /// Hashes and checks that ran in a batch of several, since start.
    pub fn batched(&self) -> u64 {
        self.shared.batched.load(Ordering::Relaxed)
    }

    /// Hashes a password at the configured cost.
    pub async fn hash(&self, password: Password) -> Result<String, HashError> {
        // The password is at most 72 bytes (checked when parsed), so bcrypt uses all of it.
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Hash { password, reply })?;
        Ok(answer.await.map_err(|_| HashError::Stopped)??)
    }

    /// Checks a password against a stored hash, or against the dummy hash when there is none, so
    /// both cases do the same work. A stored hash that cannot be parsed never matches.
    pub async fn verify(
        &self,
        password: Password,
        hash: Option<String>,
    ) -> Result<bool, HashError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.clone());
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Verify {
            password,
            hash,
            reply,
        })?;
        match answer.await.map_err(|_| HashError::Stopped)? {
            Ok(matched) => Ok(matched && known),
            Err(e) => {
                log::error!("a stored password hash could not be read: {e}");
                Ok(false)
            }
        }
    }

    /// Runs any closure on a hashing thread.
    #[cfg(test)]
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Run(Box::new(move || {
            let _ = reply.send(work());
        })))?;
        answer.await.map_err(|_| HashError::Stopped)
    }
}

impl Drop for PasswordHasher {
    /// Stops the threads; jobs still queued are answered [`HashError::Stopped`].
    fn drop(&mut self) {
        if let Some(mut waiting) = self.shared.lock() {
            waiting.closed = true;
            waiting.jobs.clear();
        }
        self.shared.ready.notify_all();
    }
}

#[cfg(test)]
mod tests;
