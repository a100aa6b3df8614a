//! Throughput of DNS validation: 10,000 pending DNS checks against a local BIND9, bounded by
//! the validator's semaphore. Half of the names have the expected TXT record, half have none.
//!
//! Run with `cargo bench -p certkeeper-va --bench dns_throughput`. Optional arguments: the
//! number of checks (default 10000) and `max_concurrent_checks` (default 64). Prints checks
//! per second and the peak resident set size (VmHWM from /proc/self/status).

use std::sync::Arc;
use std::time::{Duration, Instant};

use certkeeper_core::{DnsName, ValidationMethod};
use certkeeper_testkit::Bind9;
use certkeeper_va::{Challenge, DnsAutoConfig, ValidationConfig, Validator};

fn main() {
    let mut args = std::env::args().skip(1).filter(|arg| arg != "--bench");
    let checks: usize = args
        .next()
        .map(|arg| arg.parse().expect("checks must be a number"))
        .unwrap_or(10_000);
    let concurrency: usize = args
        .next()
        .map(|arg| arg.parse().expect("concurrency must be a number"))
        .unwrap_or(64);

    let challenges: Vec<Challenge> = (0..checks)
        .map(|index| {
            let domain = DnsName::parse(&format!("d{index}.bench.example.test"))
                .expect("a valid bench name");
            Challenge::new(domain, ValidationMethod::Dns).expect("create a challenge")
        })
        .collect();
    let mut builder = Bind9::builder().zone("example.test");
    for challenge in challenges.iter().step_by(2) {
        builder = builder.record(&format!(
            "{}. 300 IN TXT \"{}\"",
            challenge.key, challenge.value
        ));
    }
    let bind = builder.start();

    let config = ValidationConfig {
        dns_servers: vec![bind.addr()],
        dns_timeout: Duration::from_secs(5),
        max_concurrent_checks: concurrency,
        ..ValidationConfig::default()
    };
    let validator =
        Arc::new(Validator::new(config, &DnsAutoConfig::default()).expect("build the validator"));
    let runtime = tokio::runtime::Runtime::new().expect("start a tokio runtime");

    let started = Instant::now();
    let (valid, invalid, errors, first_error) = runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for challenge in challenges {
            let validator = Arc::clone(&validator);
            tasks.spawn(async move { validator.check(&challenge).await });
        }
        let (mut valid, mut invalid, mut errors) = (0usize, 0usize, 0usize);
        let mut first_error = None;
        while let Some(result) = tasks.join_next().await {
            let result = result.expect("a check task panicked");
            if result.is_valid() {
                valid += 1;
            } else if result.error.is_some() {
                errors += 1;
                first_error = first_error.or(result.error);
            } else {
                invalid += 1;
            }
        }
        (valid, invalid, errors, first_error)
    });
    let elapsed = started.elapsed();

    println!("checks: {checks} (max_concurrent_checks {concurrency})");
    println!("valid: {valid}, record missing: {invalid}, lookup errors: {errors}");
    if let Some(error) = first_error {
        println!("first lookup error: {error}");
    }
    println!("elapsed: {:.2} s", elapsed.as_secs_f64());
    println!(
        "checks per second: {:.0}",
        checks as f64 / elapsed.as_secs_f64()
    );
    println!("peak RSS (VmHWM): {}", peak_rss());
}

fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .map(|line| line.trim_start_matches("VmHWM:").trim().to_owned())
        .unwrap_or_else(|| "unknown (no /proc/self/status)".to_owned())
}
