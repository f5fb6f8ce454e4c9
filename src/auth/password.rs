//! bcrypt on its own bounded pool of threads, never on the async workers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread;

use tokio::sync::oneshot;

use crate::domain::Password;

type Job = Box<dyn FnOnce() + Send>;

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every hashing thread is busy and the queue is full: answer 503 rather than pile up work.
    #[error("the password hashing queue is full")]
    Busy,
    #[error("bcrypt failed: {0}")]
    Bcrypt(#[from] bcrypt::BcryptError),
    #[error("the password hashing pool stopped")]
    Stopped,
}

/// A fixed set of threads that run bcrypt, fed by a bounded queue.
///
/// Sign-ins beyond `threads + queue` in flight are refused with [`HashError::Busy`] at once, so a
/// flood of sign-ins cannot queue unbounded work or memory.
pub struct PasswordHasher {
    jobs: SyncSender<Job>,
    /// Jobs queued or running, for the metrics.
    in_flight: Arc<AtomicUsize>,
    cost: u32,
    /// A hash of the configured cost that no password matches, verified for unknown users so
    /// that they cost the same as known ones (OWASP Authentication Cheat Sheet, "Authentication
    /// Responses").
    dummy_hash: String,
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

impl PasswordHasher {
    /// Starts `threads` hashing threads with room for `queue` waiting jobs, and computes the
    /// dummy hash on them.
    pub async fn start(threads: usize, queue: usize, cost: u32) -> Result<Self, HashError> {
        let (jobs, receiver) = mpsc::sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..threads {
            let receiver = Arc::clone(&receiver);
            thread::Builder::new()
                .name(format!("bcrypt-{n}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        // The lock is held only while waiting for the next job, not while it runs.
                        let job = match receiver.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|_| HashError::Stopped)?;
        }
        let mut hasher = Self {
            jobs,
            in_flight: Arc::new(AtomicUsize::new(0)),
            cost,
            dummy_hash: String::new(),
        };
        let unguessable = crate::auth::random_token(32);
        hasher.dummy_hash = hasher
            .run(move || bcrypt::hash(unguessable, cost))
            .await??;
        Ok(hasher)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (tx, rx) = oneshot::channel();
        let in_flight = Arc::clone(&self.in_flight);
        let job: Job = Box::new(move || {
            let result = work();
            // Counted down before the caller is woken, so it never sees its own job in flight.
            in_flight.fetch_sub(1, Ordering::Relaxed);
            let _ = tx.send(result);
        });
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.jobs.try_send(job).map_err(|e| {
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
            match e {
                TrySendError::Full(_) => HashError::Busy,
                TrySendError::Disconnected(_) => HashError::Stopped,
            }
        })?;
        rx.await.map_err(|_| HashError::Stopped)
    }

    /// Whether a stored hash was made at another cost than the configured one, so it should be
    /// made again at the next sign-in (CONTRACT.md section 3: old-cost accounts would otherwise
    /// stay cheaper to attack, and sign in measurably faster than unknown names).
    pub fn needs_rehash(&self, hash: &str) -> bool {
        hash.parse::<bcrypt::HashParts>()
            .is_ok_and(|parts| parts.get_cost() != self.cost)
    }

    /// Password checks queued or running now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Hashes a password at the configured cost.
    pub async fn hash(&self, password: Password) -> Result<String, HashError> {
        let cost = self.cost;
        // The password is at most 72 bytes (checked when parsed), so bcrypt uses all of it.
        Ok(self
            .run(move || bcrypt::hash(password.expose(), cost))
            .await??)
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
        let matched = self
            .run(move || bcrypt::verify(password.expose(), &hash))
            .await?;
        match matched {
            Ok(matched) => Ok(matched && known),
            Err(e) => {
                log::error!("a stored password hash could not be read: {e}");
                Ok(false)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(s: &str) -> Password {
        Password::parse(s.to_owned()).unwrap()
    }

    #[tokio::test]
    async fn only_hashes_of_another_cost_need_remaking() {
        let hasher = PasswordHasher::start(1, 4, 5).await.unwrap();
        let current = hasher.hash(password("correct horse")).await.unwrap();
        assert!(!hasher.needs_rehash(&current));
        assert!(hasher.needs_rehash(&bcrypt::hash("correct horse", 4).unwrap()));
        assert!(!hasher.needs_rehash("not a bcrypt hash"));
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_no_other() {
        let hasher = PasswordHasher::start(1, 4, 4).await.unwrap();
        let hash = hasher.hash(password("correct horse")).await.unwrap();
        assert!(hash.starts_with("$2b$04$"));
        assert!(
            hasher
                .verify(password("correct horse"), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(password("correct horsE"), Some(hash))
                .await
                .unwrap()
        );
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_at_a_lower_priority_than_the_caller() {
        let hasher = PasswordHasher::start(1, 4, 4).await.unwrap();
        let caller = rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        let hashing = hasher
            .run(|| rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap())
            .await
            .unwrap();
        assert_eq!(hashing, (caller + HASHING_NICENESS).min(19));
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        let hasher = PasswordHasher::start(1, 4, 4).await.unwrap();
        assert!(!hasher.verify(password("anything"), None).await.unwrap());
    }

    #[tokio::test]
    async fn seed_made_hashes_verify_unchanged() {
        // Made by the Flask seed's library: python bcrypt 5.0, `hashpw(pw.encode(), gensalt(12))`.
        let cases = [
            (
                "seed-password-1",
                "$2b$12$t6Xa.EbwEmo10T/ZAmucR.nN52v1Mp5yb6WkJMnDtRrTpoZJH2Lem",
            ),
            (
                "pässwörd-ünïcode",
                "$2b$12$3zOb.ofpQ.jnbVVfUeMSa.xbUTXiRIcaOXxpG.YvBt8wJ0BlsVtIa",
            ),
        ];
        let hasher = PasswordHasher::start(1, 4, 12).await.unwrap();
        for (pw, hash) in cases {
            assert!(
                hasher
                    .verify(password(pw), Some(hash.into()))
                    .await
                    .unwrap(),
                "{pw}"
            );
        }
    }

    #[tokio::test]
    async fn a_tampered_hash_is_a_mismatch_not_a_panic() {
        let hasher = PasswordHasher::start(1, 4, 4).await.unwrap();
        for bad in [
            "$2b$04$short",
            "$2b$99$",
            "not a hash",
            "$2b$04$!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        ] {
            assert!(
                !hasher
                    .verify(password("x"), Some(bad.into()))
                    .await
                    .unwrap(),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let hasher = PasswordHasher::start(1, 1, 4).await.unwrap();
        let (started, has_started) = oneshot::channel();
        let (release, wait) = mpsc::channel::<()>();

        // Occupy the only thread...
        let blocker = hasher.run(move || {
            let _ = started.send(());
            wait.recv().ok()
        });
        tokio::pin!(blocker);
        tokio::select! {
            _ = &mut blocker => unreachable!("the blocker waits for release"),
            _ = has_started => {}
        }
        // ...fill the only queue slot (a job is queued on its first poll)...
        let queued = hasher.run(|| ());
        tokio::pin!(queued);
        tokio::select! {
            biased;
            _ = &mut queued => unreachable!("the thread is busy"),
            _ = std::future::ready(()) => {}
        }
        // ...and the next job is refused without waiting.
        assert!(matches!(hasher.run(|| ()).await, Err(HashError::Busy)));

        release.send(()).unwrap();
        assert!(blocker.await.is_ok());
        assert!(queued.await.is_ok());
    }
}
