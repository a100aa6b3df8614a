//! The jobs table: idempotent enqueue, leases, retries with backoff, and claims by several
//! workers and processes on one SQLite file.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use certkeeper_store::{Backoff, FailOutcome, JOB_DEAD, JOB_DONE, JOB_QUEUED, NewJob, Store};

const CHILD_DATABASE_ENV: &str = "CERTKEEPER_JOBS_CHILD_DATABASE";
const CHILD_OWNER_ENV: &str = "CERTKEEPER_JOBS_CHILD_OWNER";
const CHILD_BARRIER_ENV: &str = "CERTKEEPER_JOBS_CHILD_BARRIER";
const JOB_COUNT: usize = 300;
const BACKOFF: Backoff = Backoff { base_seconds: 30, max_seconds: 600 };

fn job(key: &str, run_after: i64) -> NewJob {
    NewJob {
        kind: "test".to_owned(),
        unique_key: key.to_owned(),
        payload: format!("{{\"key\":\"{key}\"}}"),
        run_after,
        max_attempts: 3,
    }
}

async fn open(path: &Path) -> Store {
    Store::open(path).await.expect("opening the store")
}

/// Claims and completes jobs until none is due, and returns the ids this worker completed.
async fn drain(store: &Store, owner: &str, at: i64) -> Vec<i64> {
    let mut done = Vec::new();
    loop {
        let claimed = store.claim_jobs(owner, &["test"], 4, 60, at).await.expect("claiming jobs");
        if claimed.is_empty() {
            return done;
        }
        for row in claimed {
            assert_eq!(row.lease_owner.as_deref(), Some(owner));
            assert!(store.complete_job(row.id, owner, at).await.expect("completing a job"), "lease of job {} lost", row.id);
            done.push(row.id);
        }
        // A short pause between claims lets the other worker claim too, however the two are
        // scheduled, so both take part.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn enqueue_is_idempotent_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("jobs.db")).await;
    let first = store.enqueue_job(&job("scan:1", 100), 100).await.unwrap();
    let second = store.enqueue_job(&job("scan:1", 200), 100).await.unwrap();
    assert!(first.is_some());
    assert_eq!(second, None);
    assert_eq!(store.jobs_of_kind("test").await.unwrap().len(), 1);

    // The key stays taken after the job finished.
    let id = first.unwrap();
    store.claim_jobs("w", &["test"], 1, 60, 100).await.unwrap();
    assert!(store.complete_job(id, "w", 101).await.unwrap());
    assert_eq!(store.enqueue_job(&job("scan:1", 300), 300).await.unwrap(), None);
}

#[tokio::test]
async fn claim_takes_only_given_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("jobs.db")).await;
    let other = NewJob { kind: "other".to_owned(), ..job("other:1", 0) };
    let other_id = store.enqueue_job(&other, 0).await.unwrap().unwrap();
    let test_id = store.enqueue_job(&job("test:1", 0), 0).await.unwrap().unwrap();

    let claimed = store.claim_jobs("w", &["test"], 10, 60, 10).await.unwrap();
    let claimed_ids: Vec<i64> = claimed.iter().map(|row| row.id).collect();
    assert_eq!(claimed_ids, [test_id]);
    let untouched = store.job(other_id).await.unwrap().unwrap();
    assert_eq!(untouched.state, JOB_QUEUED);
    assert_eq!(untouched.lease_owner, None);
    assert_eq!(untouched.attempts, 0);

    assert!(store.claim_jobs("w", &[], 10, 60, 10).await.unwrap().is_empty());
    let both = store.claim_jobs("v", &["test", "other"], 10, 60, 10).await.unwrap();
    let both_ids: Vec<i64> = both.iter().map(|row| row.id).collect();
    assert_eq!(both_ids, [other_id], "the leased test job was claimed again");
}

#[tokio::test]
async fn claim_respects_run_after_and_lease() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("jobs.db")).await;
    let id = store.enqueue_job(&job("later", 1_000), 0).await.unwrap().unwrap();

    assert!(store.claim_jobs("a", &["test"], 10, 60, 999).await.unwrap().is_empty());
    let claimed = store.claim_jobs("a", &["test"], 10, 60, 1_000).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].attempts, 1);
    assert_eq!(claimed[0].lease_expires_at, Some(1_060));

    // Leased: another worker gets nothing until the lease expires.
    assert!(store.claim_jobs("b", &["test"], 10, 60, 1_059).await.unwrap().is_empty());
    let reclaimed = store.claim_jobs("b", &["test"], 10, 60, 1_060).await.unwrap();
    assert_eq!(reclaimed.len(), 1);
    assert_eq!(reclaimed[0].attempts, 2);

    // The first worker lost its lease, so its completion changes nothing.
    assert!(!store.complete_job(id, "a", 1_061).await.unwrap());
    assert!(store.complete_job(id, "b", 1_061).await.unwrap());
    let row = store.job(id).await.unwrap().unwrap();
    assert_eq!(row.state, JOB_DONE);
    assert_eq!(row.lease_owner, None);
}

#[tokio::test]
async fn failure_backs_off_then_dies() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("jobs.db")).await;
    let id = store.enqueue_job(&job("flaky", 0), 0).await.unwrap().unwrap();

    store.claim_jobs("w", &["test"], 1, 60, 0).await.unwrap();
    let outcome = store.fail_job(id, "w", "connection refused", BACKOFF, 10).await.unwrap();
    assert_eq!(outcome, FailOutcome::Retry { run_after: 40 });
    let row = store.job(id).await.unwrap().unwrap();
    assert_eq!(row.state, JOB_QUEUED);
    assert_eq!(row.last_error, "connection refused");
    assert_eq!(row.lease_owner, None);

    assert!(store.claim_jobs("w", &["test"], 1, 60, 39).await.unwrap().is_empty());
    store.claim_jobs("w", &["test"], 1, 60, 40).await.unwrap();
    let outcome = store.fail_job(id, "w", "timed out", BACKOFF, 41).await.unwrap();
    assert_eq!(outcome, FailOutcome::Retry { run_after: 101 });

    store.claim_jobs("w", &["test"], 1, 60, 101).await.unwrap();
    let outcome = store.fail_job(id, "w", "still refused", BACKOFF, 102).await.unwrap();
    assert_eq!(outcome, FailOutcome::Dead);
    let row = store.job(id).await.unwrap().unwrap();
    assert_eq!(row.state, JOB_DEAD);
    assert_eq!(row.attempts, 3);
    assert_eq!(row.last_error, "still refused");
    assert!(store.claim_jobs("w", &["test"], 1, 60, 10_000).await.unwrap().is_empty());

    assert_eq!(store.fail_job(id, "w", "late", BACKOFF, 103).await.unwrap(), FailOutcome::LeaseLost);
}

#[tokio::test]
async fn two_workers_never_share_a_job() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    let setup = open(&path).await;
    for i in 0..JOB_COUNT {
        setup.enqueue_job(&job(&format!("job:{i}"), 0), 0).await.unwrap();
    }
    // Two stores are two connection pools, as two processes would have.
    let first = open(&path).await;
    let second = open(&path).await;
    let (a, b) = tokio::join!(
        tokio::spawn(async move { drain(&first, "worker-a", 5).await }),
        tokio::spawn(async move { drain(&second, "worker-b", 5).await }),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_each_job_once(&setup, &a, &b).await;
}

#[tokio::test]
async fn two_processes_never_share_a_job() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    let setup = open(&path).await;
    for i in 0..JOB_COUNT {
        setup.enqueue_job(&job(&format!("job:{i}"), 0), 0).await.unwrap();
    }
    let spawn = |owner: &str| {
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_worker", "--ignored", "--nocapture", "--test-threads", "1"])
            .env(CHILD_DATABASE_ENV, &path)
            .env(CHILD_OWNER_ENV, owner)
            .env(CHILD_BARRIER_ENV, dir.path())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("starting a child worker process")
    };
    let children = [spawn("process-a"), spawn("process-b")];
    let mut completed = Vec::new();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "child worker failed: {output:?}");
        let text = String::from_utf8(output.stdout).unwrap();
        // The test harness prints "test child_worker ... " before the first line of output, on
        // the same line.
        let ids: Vec<i64> =
            text.lines().filter_map(|line| line.split("completed ").nth(1)).map(|id| id.trim().parse().unwrap()).collect();
        completed.push(ids);
    }
    assert_each_job_once(&setup, &completed[0], &completed[1]).await;
}

/// Worker process of `two_processes_never_share_a_job`; prints `completed <id>` per job.
#[tokio::test]
#[ignore = "started as a child process by two_processes_never_share_a_job"]
async fn child_worker() {
    let path = std::env::var_os(CHILD_DATABASE_ENV).expect("the database path of the parent test");
    let owner = std::env::var(CHILD_OWNER_ENV).expect("the worker name of the parent test");
    let store = open(Path::new(&path)).await;

    // Start claiming only once both workers have opened the store, so that they compete.
    let barrier = PathBuf::from(std::env::var_os(CHILD_BARRIER_ENV).expect("the barrier directory of the parent test"));
    std::fs::write(barrier.join(format!("{owner}.ready")), b"").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let ready = std::fs::read_dir(&barrier).unwrap().filter_map(|e| e.ok()).filter(|e| e.path().extension().is_some_and(|x| x == "ready")).count();
        if ready == 2 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the other worker process did not start");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }

    for id in drain(&store, &owner, 5).await {
        println!("completed {id}");
    }
    store.close().await;
}

async fn assert_each_job_once(store: &Store, a: &[i64], b: &[i64]) {
    let first: HashSet<i64> = a.iter().copied().collect();
    let second: HashSet<i64> = b.iter().copied().collect();
    assert_eq!(first.len(), a.len(), "worker a completed a job twice");
    assert_eq!(second.len(), b.len(), "worker b completed a job twice");
    assert!(first.is_disjoint(&second), "both workers completed {:?}", first.intersection(&second).collect::<Vec<_>>());
    assert_eq!(first.len() + second.len(), JOB_COUNT);
    assert!(!first.is_empty(), "worker b took every job");
    assert!(!second.is_empty(), "worker a took every job");
    for row in store.jobs_of_kind("test").await.unwrap() {
        assert_eq!(row.state, JOB_DONE, "job {}", row.id);
        assert_eq!(row.attempts, 1, "job {} was claimed more than once", row.id);
    }
}
