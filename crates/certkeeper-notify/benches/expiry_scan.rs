//! Times the expiry scan over a large SQLite store.
//!
//! Run: `cargo bench -p certkeeper-notify --bench expiry_scan -- [CERTIFICATES] [DIRECTORY]
//! [first]` (defaults 1000000 and a temporary directory). Issued certificates get notAfter
//! values spread evenly over the next 398 days. Every notice due at the scan time is recorded
//! beforehand, as after earlier scans, so the timed scans read the window and find nothing new:
//! the steady state of an hourly scan. With `first`, no notice is recorded beforehand, so the
//! first timed scan records all of them, as after an import. The database stays in DIRECTORY
//! for a run of the same queries by the sqlite3 CLI.

use std::path::PathBuf;
use std::time::Instant;

use certkeeper_core::ExpiryThresholds;
use certkeeper_notify::{ExpiryScanner, Notifier, NotifyConfig};
use certkeeper_store::Store;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

/// Fixed scan time, so runs are comparable: 2030-01-01T00:00:00Z.
const NOW: i64 = 1_893_456_000;
const SPREAD_SECONDS: i64 = 398 * 86_400;

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Returns the CPU time of this process (all threads, user and system) in seconds, from
/// /proc/self/stat, which counts in clock ticks of 1/100 s on Linux.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |index: usize| fields.get(index).and_then(|value| value.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 of proc(5) (utime, stime) are at 11 and 12 after the command name.
    (ticks(11) + ticks(12)) / 100.0
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|arg| arg != "--bench").collect();
    let count: i64 = args.first().and_then(|arg| arg.parse().ok()).unwrap_or(1_000_000);
    let temp = tempfile::tempdir().unwrap();
    let directory = args.get(1).map(PathBuf::from).unwrap_or_else(|| temp.path().to_owned());
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("certkeeper.db");
    let _ = std::fs::remove_file(&path);

    let store = Store::open(&path).await.unwrap();
    let started = Instant::now();
    let first = args.get(2).is_some_and(|arg| arg == "first");
    seed(&path, count, !first).await;
    let seeded = if first { "no notices" } else { "their due notices" };
    println!("seeded {count} certificates and {seeded} in {:.1} s", started.elapsed().as_secs_f64());

    let config = NotifyConfig::default();
    let defaults: ExpiryThresholds = config.validate().unwrap();
    let scanner = ExpiryScanner::new(Notifier::new(store.clone(), config).unwrap(), defaults);
    let rss_before = peak_rss_kib();
    for run in 1..=5 {
        let started = Instant::now();
        let cpu_before = cpu_seconds();
        let report = scanner.scan(NOW).await.unwrap();
        let elapsed = started.elapsed();
        let cpu = cpu_seconds() - cpu_before;
        println!(
            "scan {run}: {:.3} s wall, {cpu:.2} s CPU, {} candidates in the 30-day window, {} new notices",
            elapsed.as_secs_f64(),
            report.candidates,
            report.notices
        );
    }
    println!("peak RSS: {} MiB (before the scans: {} MiB)", peak_rss_kib() / 1024, rss_before / 1024);
    store.close().await;
    println!("database: {}", path.display());
}

/// Inserts the certificates and the notices a scan at NOW would have recorded, in one
/// transaction of SQLite statements (the seeding only, not the measured scan, is SQLite-only).
async fn seed(path: &std::path::Path, count: i64, with_notices: bool) {
    let mut connection = SqliteConnectOptions::new().filename(path).connect().await.unwrap();
    let mut tx = connection.begin().await.unwrap();
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $1 - 1) \
         INSERT INTO certificates (id, account_id, product_id, status, source, validation_method, domain, names, \
                                   key_algorithm, not_before, not_after, created_at, updated_at) \
         SELECT printf('c%08d', i), NULL, 1, 1, 'issued', 'DNS', printf('h%d.example.test', i), printf('h%d.example.test', i), \
                'ecdsa-p256', $2 - 86400, $2 + 1 + (i * 7919) % $3, 0, 0 FROM n",
    )
    .bind(count)
    .bind(NOW)
    .bind(SPREAD_SECONDS)
    .execute(&mut *tx)
    .await
    .unwrap();
    if with_notices {
        seed_notices(&mut tx).await;
    }
    tx.commit().await.unwrap();
    sqlx::query("ANALYZE").execute(&mut connection).await.unwrap();
    connection.close().await.unwrap();
}

/// Inserts the notices a scan at NOW records.
async fn seed_notices(tx: &mut sqlx::SqliteConnection) {
    sqlx::query(
        "INSERT INTO expiry_notices (certificate_id, threshold_days, days_left, not_after, created_at) \
         SELECT c.id, t.days, (c.not_after - $1) / 86400, c.not_after, $1 \
         FROM certificates c JOIN (SELECT 30 AS days UNION ALL SELECT 15 UNION ALL SELECT 7 UNION ALL SELECT 3 UNION ALL SELECT 1) t \
           ON c.not_after - $1 < t.days * 86400 \
         WHERE c.not_after > $1 AND c.not_after < $1 + 30 * 86400",
    )
    .bind(NOW)
    .execute(tx)
    .await
    .unwrap();
}
