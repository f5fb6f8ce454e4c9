//! When a hashing thread takes several waiting jobs at once: the batch policy, and the one
//! measurement per process it rests on.

use std::collections::VecDeque;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// A queued job a batch can take: jobs of one kind share a batch, `None` never does.
pub trait Batchable {
    fn batch_kind(&self) -> Option<u8>;
}

/// When a thread takes several jobs at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPlan {
    /// Most jobs in one batch: the SIMD lanes of the detected backend (1 without one).
    pub lanes: usize,
    /// Fewest waiting jobs of one kind worth a batch.
    pub min: usize,
}

/// The process's plan, once measured.
static PLAN: OnceLock<BatchPlan> = OnceLock::new();

impl BatchPlan {
    pub const SINGLE: Self = Self { lanes: 1, min: 1 };

    /// The measured plan, or every job alone while it is being measured.
    pub fn current() -> Self {
        PLAN.get().copied().unwrap_or(Self::SINGLE)
    }

    /// Starts the measurement on a thread of its own, once per process. Nothing waits for it:
    /// with an AVX-512 backend it takes about 0.7 s (the crate's own one-time choice between
    /// its SIMD widths, then ours), which would otherwise more than double the time to ready.
    pub fn measure_in_background() {
        static STARTED: OnceLock<()> = OnceLock::new();
        STARTED.get_or_init(|| {
            let started = thread::Builder::new()
                .name("bcrypt-plan".into())
                .spawn(Self::measured);
            if let Err(e) = started {
                log::warn!("password hashing: cannot measure batches, each job runs alone: {e}");
            }
        });
    }

    /// Measured once per process. A batch of up to `lanes` checks takes about as long as a full
    /// one, so it pays when that many checks one after another would take at least as long: `min`
    /// is a full batch's time over one check's, each the best of three at cost 8 (about 0.3 s in
    /// all, beside the dummy hash and the first requests). Where batches do not pay (no SIMD
    /// backend, a slow one, or the crate's own one-time pick of its lookup flavour going wrong),
    /// every job runs alone.
    fn measured() -> Self {
        *PLAN.get_or_init(|| {
            let plan = Self::measure().unwrap_or(Self::SINGLE);
            log::info!(
                "password hashing: {:?} backend, batches of up to {} from {} waiting",
                bcrypt_rust::detected_backend(),
                plan.lanes,
                plan.min
            );
            plan
        })
    }

    fn measure() -> Option<Self> {
        let lanes = bcrypt_rust::detected_backend().lanes();
        if lanes < 2 {
            return None;
        }
        let secret = b"calibration only";
        let hash = bcrypt_rust::hash(secret, 8).ok()?;
        let best_of_three = |work: &dyn Fn()| {
            (0..3)
                .map(|_| {
                    let started = Instant::now();
                    work();
                    started.elapsed()
                })
                .min()
                .unwrap_or(Duration::MAX)
        };
        let single = best_of_three(&|| {
            let _ = bcrypt_rust::verify(secret, &hash);
        });
        let passwords = vec![secret.as_slice(); lanes];
        let hashes = vec![hash.as_str(); lanes];
        let batch = best_of_three(&|| {
            let _ = bcrypt_rust::verify_many(&passwords, &hashes);
        });
        let min = batch.as_secs_f64() / single.as_secs_f64().max(f64::MIN_POSITIVE);
        let min = min.ceil().max(2.0);
        (min <= lanes as f64).then_some(Self {
            lanes,
            min: min as usize,
        })
    }

    /// Takes the next batch off the queue: the first job, and when at least `min` jobs of its
    /// kind wait, up to `lanes` of them in their order. Other jobs keep their places.
    pub fn take<J: Batchable>(self, queue: &mut VecDeque<J>) -> Vec<J> {
        let Some(kind) = queue.front().map(J::batch_kind) else {
            return Vec::new();
        };
        let alike = |job: &J| kind.is_some() && job.batch_kind() == kind;
        if self.lanes < 2 || queue.iter().filter(|job| alike(job)).count() < self.min {
            return queue.pop_front().into_iter().collect();
        }
        let mut batch = Vec::with_capacity(self.lanes);
        let mut rest = VecDeque::with_capacity(queue.len());
        for job in queue.drain(..) {
            if batch.len() < self.lanes && alike(&job) {
                batch.push(job);
            } else {
                rest.push_back(job);
            }
        }
        *queue = rest;
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hash (`h`), a check (`v`) or a closure (`r`), as the pool's jobs batch.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Job {
        Hash,
        Verify,
        Run,
    }

    impl Batchable for Job {
        fn batch_kind(&self) -> Option<u8> {
            match self {
                Job::Hash => Some(0),
                Job::Verify => Some(1),
                Job::Run => None,
            }
        }
    }

    fn verify_job(_typed: &str, _hash: &str) -> Job {
        Job::Verify
    }

    fn hash_job() -> Job {
        Job::Hash
    }

    fn kinds(jobs: &[Job]) -> String {
        jobs.iter()
            .map(|job| match job {
                Job::Hash => 'h',
                Job::Verify => 'v',
                Job::Run => 'r',
            })
            .collect()
    }

    #[test]
    fn the_plan_measured_in_the_background_becomes_the_current_one() {
        BatchPlan::measure_in_background();
        // Waits for the same once-per-process measurement the background thread runs.
        let measured = BatchPlan::measured();
        assert_eq!(BatchPlan::current(), measured);
        assert!(
            measured == BatchPlan::SINGLE || (2..=measured.lanes).contains(&measured.min),
            "{measured:?}"
        );
    }

    #[test]
    fn a_batch_takes_jobs_of_the_first_kind_only_when_enough_wait() {
        let plan = BatchPlan { lanes: 3, min: 2 };
        let mut queue: VecDeque<Job> = [
            verify_job("a", "h"),
            hash_job(),
            verify_job("b", "h"),
            verify_job("c", "h"),
            verify_job("d", "h"),
        ]
        .into();
        // Three checks at most, in order; the hash keeps its place at the front of the rest.
        assert_eq!(kinds(&plan.take(&mut queue)), "vvv");
        assert_eq!(kinds(queue.make_contiguous()), "hv");
        // One hash waiting is below the minimum: it runs alone.
        assert_eq!(kinds(&plan.take(&mut queue)), "h");
        assert_eq!(kinds(&plan.take(&mut queue)), "v");
        assert!(plan.take(&mut queue).is_empty());
        // Closures never share a batch, and a plan of one lane never batches.
        let mut queue: VecDeque<Job> = [Job::Run, Job::Run].into();
        assert_eq!(kinds(&plan.take(&mut queue)), "r");
        let mut queue: VecDeque<Job> = [verify_job("a", "h"), verify_job("b", "h")].into();
        assert_eq!(kinds(&BatchPlan::SINGLE.take(&mut queue)), "v");
    }
}
