//! Times the expiry scan over a large SQLite store.
//!
//! Run: `cargo bench -p certkeeper-notify --bench expiry_scan -- [CERTIFICATES] [DIRECTORY]`
//! (defaults 1000000 and a temporary directory). Issued certificates get notAfter values spread
//! evenly over the next 398 days. Every notice due at the scan time is recorded beforehand, as
//! after earlier scans, so the timed scans read the window and find nothing new: the steady
//! state of an hourly scan. The database stays in DIRECTORY for a run of the same queries by
//! the sqlite3 CLI.

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
    seed(&path, count).await;
    println!("seeded {count} certificates and their due notices in {:.1} s", started.elapsed().as_secs_f64());

    let config = NotifyConfig::default();
    let defaults: ExpiryThresholds = config.validate().unwrap();
    let scanner = ExpiryScanner::new(Notifier::new(store.clone(), config).unwrap(), defaults);
    let rss_before = peak_rss_kib();
    for run in 1..=3 {
        let started = Instant::now();
        let report = scanner.scan(NOW).await.unwrap();
        let elapsed = started.elapsed();
        println!(
            "scan {run}: {:.3} s, {} candidates in the 30-day window, {} new notices",
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
async fn seed(path: &std::path::Path, count: i64) {
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
    sqlx::query(
        "INSERT INTO expiry_notices (certificate_id, threshold_days, days_left, not_after, created_at) \
         SELECT c.id, t.days, (c.not_after - $1) / 86400, c.not_after, $1 \
         FROM certificates c JOIN (SELECT 30 AS days UNION ALL SELECT 15 UNION ALL SELECT 7 UNION ALL SELECT 3 UNION ALL SELECT 1) t \
           ON c.not_after - $1 < t.days * 86400 \
         WHERE c.not_after > $1 AND c.not_after < $1 + 30 * 86400",
    )
    .bind(NOW)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    sqlx::query("ANALYZE").execute(&mut connection).await.unwrap();
    connection.close().await.unwrap();
}
