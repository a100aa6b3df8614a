//! The job runner: polls the jobs table, runs due jobs by kind, and enqueues periodic jobs.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use certkeeper_store::{Backoff, FailOutcome, JobRow, NewJob, Store};
use time::OffsetDateTime;
use tokio::task::JoinSet;

/// The future a job handler returns; the error text is stored as the job's last error.
pub type JobFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A handler: receives the claimed job and the current Unix time.
pub type JobHandler = Arc<dyn Fn(JobRow, i64) -> JobFuture + Send + Sync>;

/// Jobs run at once by one runner.
const MAX_IN_FLIGHT: usize = 32;

/// Finished jobs are deleted after this many seconds (seven days).
const FINISHED_JOB_RETENTION_SECONDS: i64 = 7 * 86_400;

/// How long a stopping runner waits for running jobs, such as a delivery in progress.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Time between deletions of old finished jobs.
const PRUNE_INTERVAL_SECONDS: i64 = 3600;

/// Schedule and limits of a runner.
#[derive(Clone, Copy, Debug)]
pub struct RunnerSettings {
    pub poll_interval: Duration,
    /// Lease of a claimed job; a handler still running at its end is stopped.
    pub lease: Duration,
    pub backoff: Backoff,
    /// Attempts of the periodic jobs this runner enqueues.
    pub max_attempts: i64,
}

struct Periodic {
    kind: String,
    interval_seconds: i64,
    /// Start of the last interval whose job this runner stored, so each interval costs one
    /// write per runner instead of one per poll.
    enqueued_slot: std::sync::Mutex<Option<i64>>,
}

/// Runs jobs of the kinds it has handlers for, and claims no others. Several runners, in one process or several, may
/// share a database: each job is leased to one of them at a time.
pub struct JobRunner {
    store: Store,
    owner: String,
    handlers: HashMap<String, JobHandler>,
    periodic: Vec<Periodic>,
    settings: RunnerSettings,
}

impl JobRunner {
    /// Creates a runner with a unique lease owner name (`<pid>-<random>`).
    pub fn new(store: Store, settings: RunnerSettings) -> Self {
        let owner = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        JobRunner { store, owner, handlers: HashMap::new(), periodic: Vec::new(), settings }
    }

    /// Returns the lease owner name of this runner.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Sets the handler of a job kind.
    pub fn handle(&mut self, kind: &str, handler: JobHandler) -> &mut Self {
        self.handlers.insert(kind.to_owned(), handler);
        self
    }

    /// Enqueues a job of `kind` once per `interval`. The job of each interval has the key
    /// `<kind>:<start of the interval in Unix seconds>`, so runners sharing a database enqueue
    /// it once between them.
    pub fn every(&mut self, kind: &str, interval: Duration) -> &mut Self {
        let interval_seconds = i64::try_from(interval.as_secs()).unwrap_or(i64::MAX).max(1);
        self.periodic.push(Periodic { kind: kind.to_owned(), interval_seconds, enqueued_slot: std::sync::Mutex::new(None) });
        self
    }

    /// Enqueues the periodic jobs of the interval containing `now`.
    pub async fn enqueue_periodic(&self, now: i64) {
        for periodic in &self.periodic {
            let slot = now.div_euclid(periodic.interval_seconds) * periodic.interval_seconds;
            if *periodic.enqueued_slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) == Some(slot) {
                continue;
            }
            let job = NewJob {
                kind: periodic.kind.clone(),
                unique_key: format!("{}:{slot}", periodic.kind),
                payload: "{}".to_owned(),
                run_after: slot,
                max_attempts: self.settings.max_attempts,
            };
            match self.store.enqueue_job(&job, now).await {
                Ok(_) => *periodic.enqueued_slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(slot),
                Err(error) => tracing::warn!(kind = %periodic.kind, %error, "enqueuing a periodic job failed; retrying at the next poll"),
            }
        }
    }

    /// Enqueues periodic jobs, then claims and runs every job due at `now` until none is left,
    /// and returns how many ran. Tests use it to run jobs at a chosen time.
    pub async fn run_due(&self, now: i64) -> usize {
        self.enqueue_periodic(now).await;
        let mut ran = 0;
        loop {
            let claimed = self.claim(MAX_IN_FLIGHT, now).await;
            if claimed.is_empty() {
                return ran;
            }
            ran += claimed.len();
            let mut tasks = JoinSet::new();
            for job in claimed {
                tasks.spawn(self.execute(job, now));
            }
            while tasks.join_next().await.is_some() {}
        }
    }

    /// Polls for due jobs until `shutdown` completes, running up to 32 at once. A slow job does
    /// not hold up others: the runner claims more while it runs. At shutdown, running jobs get
    /// 10 seconds to finish. Jobs still running then are stopped, and their leases expire before
    /// a runner retries them.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        tracing::info!(owner = %self.owner, kinds = ?self.handlers.keys().collect::<Vec<_>>(), "job runner started");
        let mut tasks = JoinSet::new();
        let mut last_prune = 0;
        loop {
            while tasks.try_join_next().is_some() {}
            let now = OffsetDateTime::now_utc().unix_timestamp();
            self.enqueue_periodic(now).await;
            if now - last_prune >= PRUNE_INTERVAL_SECONDS {
                last_prune = now;
                match self.store.prune_jobs(now - FINISHED_JOB_RETENTION_SECONDS).await {
                    Ok(0) => {}
                    Ok(deleted) => tracing::info!(deleted, "old finished jobs deleted"),
                    Err(error) => tracing::warn!(%error, "deleting old finished jobs failed"),
                }
            }
            let free = MAX_IN_FLIGHT.saturating_sub(tasks.len());
            if free > 0 {
                for job in self.claim(free, now).await {
                    tasks.spawn(self.execute(job, now));
                }
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(self.settings.poll_interval) => {}
            }
        }
        if !tasks.is_empty() {
            tracing::info!(running = tasks.len(), "waiting for running jobs before stopping");
            let drain = async { while tasks.join_next().await.is_some() {} };
            if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
                // NOTE: a job stopped here keeps its lease, so it runs again only after the
                // lease expires (`notify.lease`, 5 minutes by default).
                tracing::warn!(running = tasks.len(), "stopping jobs that are still running; they run again after their lease expires");
                tasks.abort_all();
            }
        }
        tracing::info!(owner = %self.owner, "job runner stopped");
    }

    async fn claim(&self, limit: usize, now: i64) -> Vec<JobRow> {
        let lease = i64::try_from(self.settings.lease.as_secs()).unwrap_or(i64::MAX);
        // Only kinds with a handler here are claimed, so a job of a kind that another process
        // (or a newer version) handles waits for that runner instead of failing here.
        let kinds: Vec<&str> = self.handlers.keys().map(String::as_str).collect();
        match self.store.claim_jobs(&self.owner, &kinds, limit as i64, lease, now).await {
            Ok(jobs) => jobs,
            Err(error) => {
                tracing::warn!(%error, "claiming jobs failed; retrying at the next poll");
                Vec::new()
            }
        }
    }

    /// Returns a task that runs one claimed job and records its outcome.
    fn execute(&self, job: JobRow, now: i64) -> impl Future<Output = ()> + Send + 'static {
        let store = self.store.clone();
        let owner = self.owner.clone();
        let handler = self.handlers.get(&job.kind).cloned();
        let backoff = self.settings.backoff;
        // Stop the handler before its lease ends, so no other runner starts it meanwhile.
        let limit = self.settings.lease.mul_f64(0.9);
        async move {
            let result = match handler {
                Some(handler) => match tokio::time::timeout(limit, handler(job.clone(), now)).await {
                    Ok(result) => result,
                    Err(_) => Err(format!("timed out after {} s", limit.as_secs())),
                },
                // Unreachable while claims are filtered by the handled kinds; kept so that a
                // job without a handler is recorded as failed rather than dropped.
                None => Err(format!("no handler for job kind {} in this process", job.kind)),
            };
            let finished = OffsetDateTime::now_utc().unix_timestamp().max(now);
            match result {
                Ok(()) => match store.complete_job(job.id, &owner, finished).await {
                    Ok(true) => tracing::debug!(job_id = job.id, kind = %job.kind, "job done"),
                    Ok(false) => tracing::warn!(job_id = job.id, kind = %job.kind, "job finished after its lease was lost"),
                    Err(error) => tracing::error!(job_id = job.id, %error, "recording a finished job failed; it will run again"),
                },
                Err(message) => match store.fail_job(job.id, &owner, &message, backoff, finished).await {
                    Ok(FailOutcome::Retry { run_after }) => tracing::warn!(
                        job_id = job.id,
                        kind = %job.kind,
                        attempt = job.attempts,
                        retry_in_seconds = run_after - finished,
                        error = %message,
                        "job failed; retrying"
                    ),
                    Ok(FailOutcome::Dead) => tracing::error!(
                        job_id = job.id,
                        kind = %job.kind,
                        attempts = job.attempts,
                        error = %message,
                        "job failed on its last attempt; giving up"
                    ),
                    Ok(FailOutcome::LeaseLost) => tracing::warn!(job_id = job.id, error = %message, "job failed after its lease was lost"),
                    Err(error) => tracing::error!(job_id = job.id, %error, "recording a failed job failed; it will run again"),
                },
            }
        }
    }
}
