-- Initial schema. Column types are the SQLite spellings of portable types: INTEGER for 64-bit
-- integers and Unix-second timestamps, TEXT for strings, BLOB for DER and sealed bytes
-- (BYTEA in the PostgreSQL migrations).

-- Store-wide settings such as the id of the master key that sealed the keys below.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- certkeeper's own CA certificates and their sealed private keys.
CREATE TABLE issuers (
    id              INTEGER PRIMARY KEY,
    role            TEXT NOT NULL,           -- 'root' or 'intermediate'
    parent_id       INTEGER REFERENCES issuers (id),
    subject         TEXT NOT NULL,
    key_algorithm   TEXT NOT NULL,
    certificate_der BLOB NOT NULL,
    sealed_key      BLOB NOT NULL,
    sha256          TEXT NOT NULL UNIQUE,
    not_before      INTEGER NOT NULL,
    not_after       INTEGER NOT NULL,
    active          INTEGER NOT NULL,
    created_at      INTEGER NOT NULL
);

CREATE TABLE accounts (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL,                -- 'user', 'reviewer' or 'admin'
    disabled   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
    secret_id     TEXT PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts (id),
    sealed_secret BLOB NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);
CREATE INDEX api_keys_account ON api_keys (account_id);

-- Every serial the CA has signed or is about to sign. The row is written before signing, so a
-- serial is never used twice even when signing fails half-way.
CREATE TABLE serials (
    serial         TEXT PRIMARY KEY,         -- lower-case hex
    issuer_id      INTEGER NOT NULL REFERENCES issuers (id),
    certificate_id TEXT,
    created_at     INTEGER NOT NULL
);

CREATE TABLE certificates (
    id                 TEXT PRIMARY KEY,
    account_id         INTEGER REFERENCES accounts (id),
    product_id         INTEGER NOT NULL,
    status             INTEGER NOT NULL,
    status_message     TEXT NOT NULL DEFAULT '',
    source             TEXT NOT NULL,        -- 'issued' or 'upload'
    validation_method  TEXT NOT NULL,
    domain             TEXT NOT NULL,
    names              TEXT NOT NULL,        -- names separated by ','
    key_algorithm      TEXT NOT NULL,
    alias              TEXT NOT NULL DEFAULT '',
    project_id         INTEGER NOT NULL DEFAULT 0,
    serial             TEXT UNIQUE,
    issuer_id          INTEGER REFERENCES issuers (id),
    not_before         INTEGER,
    not_after          INTEGER,
    certificate_der    BLOB,
    csr_der            BLOB,
    sealed_private_key BLOB,
    renewed_from       TEXT,
    renewal_id         TEXT,
    reissued_from      TEXT,
    reissued_by        TEXT,
    deleted_at         INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX certificates_account ON certificates (account_id, created_at);
CREATE INDEX certificates_not_after ON certificates (not_after);

-- Append-only history of every state change, written in the same transaction as the change.
CREATE TABLE operation_log (
    id             INTEGER PRIMARY KEY,
    certificate_id TEXT,
    account_id     INTEGER,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    from_status    INTEGER,
    to_status      INTEGER,
    detail         TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL
);
CREATE INDEX operation_log_certificate ON operation_log (certificate_id, id);
CREATE INDEX operation_log_account ON operation_log (account_id, created_at);
