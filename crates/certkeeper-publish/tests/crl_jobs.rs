//! CRL builds as durable jobs: two publishers with their own runners on one database publish a
//! revocation once and serve the same CRL, and a revocation committed while no runner runs is
//! published when one starts.

mod support;

use certkeeper_publish::KIND_CRL_PUBLISH;
use certkeeper_store::{Backoff, FailOutcome, JOB_DONE};
use support::{TestCa, http_request, now, random_serial, run};

/// Returns the `openssl crl -text` output of a DER CRL written to `file`.
fn crl_text(ca: &TestCa, der: &[u8], file: &str) -> String {
    std::fs::write(ca.path(file), der).unwrap();
    let (ok, text) = run(ca.dir.path(), "openssl", &["crl", "-inform", "DER", "-in", file, "-noout", "-text"]);
    assert!(ok, "{text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_publishers_publish_once() {
    let mut ca = TestCa::new("Shared").await;
    ca.write_chain();
    let first = ca.serve().await;
    let second = ca.publisher().await;
    let serial = random_serial();
    ca.issue_leaf("leaf", &serial, true).await;
    let shard = i64::from(ca.urls.crl_shard(&serial));
    let issuer_id = ca.intermediate.id;

    // Move crl_state ahead of the clock, so that each build adds exactly one to the number
    // instead of taking the current time.
    let entries = ca.store.crl_state(issuer_id, shard).await.unwrap().unwrap().last_entry_count;
    let ahead = ca.store.next_crl_number(issuer_id, shard, now().unix_timestamp() + 1_000_000, entries).await.unwrap();

    ca.revoke(&serial, 1).await;
    first.revoked(&serial).await.unwrap();
    second.revoked(&serial).await.unwrap();
    let first_runner = ca.crl_runner(&first);
    let second_runner = ca.crl_runner(&second);
    let at = now().unix_timestamp();
    let (ran_first, ran_second) = tokio::join!(first_runner.run_due(at), second_runner.run_due(at));
    assert!(ran_first + ran_second >= 1, "no job ran");

    let jobs = ca.store.jobs_of_kind(KIND_CRL_PUBLISH).await.unwrap();
    assert_eq!(jobs.len(), 1, "one revocation enqueued {} crl.publish jobs", jobs.len());
    assert_eq!(jobs[0].state, JOB_DONE, "last error: {}", jobs[0].last_error);
    assert_eq!(jobs[0].attempts, 1);
    let state = ca.store.crl_state(issuer_id, shard).await.unwrap().unwrap();
    assert_eq!(state.last_number, ahead + 1, "the shard's CRL was not built exactly once");
    let stored = ca.store.stored_crl(issuer_id, shard).await.unwrap().unwrap();
    assert_eq!(stored.number, ahead + 1);

    first.sync_crls().await.unwrap();
    second.sync_crls().await.unwrap();
    let first_crl = first.crl(issuer_id, shard).unwrap();
    let second_crl = second.crl(issuer_id, shard).unwrap();
    assert_eq!(first_crl.number, u64::try_from(ahead + 1).unwrap());
    assert_eq!(second_crl.number, first_crl.number);
    assert_eq!(second_crl.der, first_crl.der, "the two publishers serve different CRLs");
    assert_eq!(*first_crl.der, stored.der);

    // The CRL served over HTTP verifies against the intermediate and lists the serial.
    let response = http_request(ca.port, "GET", &format!("/crl/{issuer_id}/{shard}.crl"), None, b"");
    assert_eq!(response.status, 200);
    assert_eq!(response.body, *second_crl.der);
    std::fs::write(ca.path("crl.der"), &response.body).unwrap();
    std::fs::write(
        ca.path("chain.pem"),
        [std::fs::read(ca.path("inter.pem")).unwrap(), std::fs::read(ca.path("root.pem")).unwrap()].concat(),
    )
    .unwrap();
    let (ok, verified) =
        run(ca.dir.path(), "openssl", &["crl", "-inform", "DER", "-in", "crl.der", "-noout", "-verify", "-CAfile", "chain.pem"]);
    assert!(ok, "{verified}");
    assert!(verified.contains("verify OK"), "{verified}");
    let text = crl_text(&ca, &response.body, "served.crl");
    assert!(text.contains(&format!("Serial Number: {}", serial.to_hex().to_uppercase())), "{text}");

    // A shard that does not exist is a 404 naming the CRLs that do.
    let missing = http_request(ca.port, "GET", &format!("/crl/{issuer_id}/9999.crl"), None, b"");
    assert_eq!(missing.status, 404);
    let listed = String::from_utf8_lossy(&missing.body);
    let last = format!("/crl/{issuer_id}/{}.crl", ca.urls.crl_shards() - 1);
    assert!(listed.contains(&last), "{listed}");
    assert!(listed.contains("/crl/root.crl"), "{listed}");

    // A later pass of either runner finds nothing to build.
    let later = now().unix_timestamp() + 1;
    first_runner.run_due(later).await;
    second_runner.run_due(later).await;
    assert_eq!(ca.store.crl_state(issuer_id, shard).await.unwrap().unwrap().last_number, ahead + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_published_after_restart() {
    let ca = TestCa::new("Restart").await;
    let serial = random_serial();
    ca.issue_leaf("leaf", &serial, true).await;
    let shard = i64::from(ca.urls.crl_shard(&serial));
    let issuer_id = ca.intermediate.id;
    let listed = format!("Serial Number: {}", serial.to_hex().to_uppercase());

    // The revocation commits while no publisher or runner runs.
    let stopped = ca.publisher().await;
    drop(stopped);
    ca.revoke(&serial, 1).await;

    let restarted = ca.publisher().await;
    let before = restarted.crl(issuer_id, shard).unwrap();
    let text = crl_text(&ca, &before.der, "before.crl");
    assert!(!text.contains(&listed), "the restarted publisher built the CRL itself:\n{text}");

    assert!(ca.run_crl_jobs(&restarted).await >= 1, "no job ran");
    let jobs = ca.store.jobs_of_kind(KIND_CRL_PUBLISH).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].state, JOB_DONE, "last error: {}", jobs[0].last_error);
    let after = restarted.crl(issuer_id, shard).unwrap();
    assert!(after.number > before.number, "CRL number {} not above {}", after.number, before.number);
    let text = crl_text(&ca, &after.der, "after.crl");
    assert!(text.contains(&listed), "{text}");
    assert!(text.contains("Key Compromise"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_catches_dead_publish_job() {
    let ca = TestCa::new("Dead job").await;
    let publisher = ca.publisher().await;
    let serial = random_serial();
    ca.issue_leaf("leaf", &serial, true).await;
    let shard = i64::from(ca.urls.crl_shard(&serial));
    let issuer_id = ca.intermediate.id;
    let listed = format!("Serial Number: {}", serial.to_hex().to_uppercase());
    ca.revoke(&serial, 1).await;

    // Every attempt of the revocation's job fails until it is dead.
    let backoff = Backoff { base_seconds: 1, max_seconds: 1 };
    let mut at = now().unix_timestamp();
    loop {
        let claimed = ca.store.claim_jobs("failing-runner", &[KIND_CRL_PUBLISH], 1, 60, at).await.unwrap();
        assert_eq!(claimed.len(), 1, "the job is due again after its backoff");
        match ca.store.fail_job(claimed[0].id, "failing-runner", "signing failed", backoff, at).await.unwrap() {
            FailOutcome::Dead => break,
            FailOutcome::Retry { run_after } => at = run_after,
            FailOutcome::LeaseLost => panic!("the lease was lost"),
        }
    }
    let before = ca.store.stored_crl(issuer_id, shard).await.unwrap().unwrap();
    assert!(!crl_text(&ca, &before.der, "before.crl").contains(&listed));

    // The CRL is fresh, so only the dead job makes the periodic pass rebuild it.
    assert_eq!(publisher.refresh_crls().await.unwrap(), 1);
    let after = ca.store.stored_crl(issuer_id, shard).await.unwrap().unwrap();
    assert!(after.number > before.number);
    assert!(crl_text(&ca, &after.der, "after.crl").contains(&listed));
    assert_eq!(publisher.refresh_crls().await.unwrap(), 0, "a covered dead job causes no further builds");
}
