-- Durable jobs, expiry notices and per-account notification settings.

-- Work that must survive restarts and run once even when several processes share the database.
-- A worker claims a due job by setting a lease (owner and expiry) in one conditional UPDATE; a
-- lease that expires unfinished makes the job claimable again. `unique_key` de-duplicates
-- enqueues: a second job with the same key is not stored, also after the first has finished.
CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL,          -- dispatch name, such as 'expiry-scan' or 'notify-email'
    unique_key       TEXT NOT NULL UNIQUE,
    payload          TEXT NOT NULL,          -- JSON
    state            TEXT NOT NULL,          -- 'queued', 'done' or 'dead' (attempts used up)
    run_after        INTEGER NOT NULL,       -- Unix seconds; not claimed before this
    lease_owner      TEXT,
    lease_expires_at INTEGER,                -- Unix seconds
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    last_error       TEXT NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    finished_at      INTEGER
);
CREATE INDEX jobs_due ON jobs (state, run_after);
CREATE INDEX jobs_finished ON jobs (state, finished_at);

-- One row per certificate and threshold whose expiry notice was decided. The unique constraint
-- is what keeps a notice from being sent twice: the row and the delivery jobs are written in one
-- transaction, and a second scan (in this or another process) loses on the constraint. A scan
-- reads a certificate's notices through the index of that constraint.
CREATE TABLE expiry_notices (
    id             INTEGER PRIMARY KEY,
    certificate_id TEXT NOT NULL REFERENCES certificates (id),
    threshold_days INTEGER NOT NULL,
    days_left      INTEGER NOT NULL,
    not_after      INTEGER NOT NULL,         -- the certificate's notAfter when notified, Unix seconds
    created_at     INTEGER NOT NULL,
    UNIQUE (certificate_id, threshold_days)
);

-- Certificates whose owner turned expiry notices off (ModifyCertificatesExpiringNotificationSwitch
-- with SwitchStatus 1, shown as IsIgnore). No row means notices are on.
CREATE TABLE expiry_notice_opt_outs (
    certificate_id TEXT PRIMARY KEY REFERENCES certificates (id),
    created_at     INTEGER NOT NULL
);

-- Notification settings of an account. No row means the configured defaults.
CREATE TABLE notification_settings (
    account_id        INTEGER PRIMARY KEY REFERENCES accounts (id),
    expiry_thresholds TEXT NOT NULL,         -- days, descending, separated by ','
    email             TEXT NOT NULL DEFAULT '', -- recipients separated by ','
    updated_at        INTEGER NOT NULL
);

-- Decided reviews are read by decision time to notify their owners.
CREATE INDEX reviews_decided ON reviews (decided_at);
