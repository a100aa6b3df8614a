-- Organisations, their administrators (managers), and the data submitted for paid orders.

-- An organisation recorded by an account. The EV columns stay empty for OV-only profiles.
CREATE TABLE companies (
    id                   INTEGER PRIMARY KEY,
    account_id           INTEGER NOT NULL REFERENCES accounts (id),
    name                 TEXT NOT NULL,
    country              TEXT NOT NULL,      -- ISO 3166-1 alpha-2
    province             TEXT NOT NULL,
    city                 TEXT NOT NULL,
    address              TEXT NOT NULL DEFAULT '',
    phone                TEXT NOT NULL DEFAULT '',
    business_category    TEXT NOT NULL DEFAULT '',
    jurisdiction_country TEXT NOT NULL DEFAULT '',
    registration_number  TEXT NOT NULL DEFAULT '',
    created_at           INTEGER NOT NULL
);
CREATE INDEX companies_account ON companies (account_id, id);

-- An administrator of an organisation. A reviewer verifies the administrator together with
-- the organisation; the verification is reused by later orders until `expires_at`.
CREATE TABLE managers (
    id           INTEGER PRIMARY KEY,
    company_id   INTEGER NOT NULL REFERENCES companies (id),
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    first_name   TEXT NOT NULL,
    last_name    TEXT NOT NULL,
    position     TEXT NOT NULL,
    department   TEXT NOT NULL DEFAULT '',
    phone        TEXT NOT NULL,
    email        TEXT NOT NULL,
    status       TEXT NOT NULL,              -- 'audit', 'ok' or 'invalid'
    status_info  TEXT NOT NULL DEFAULT '',   -- the reviewer's reason for 'invalid'
    decided_by   TEXT,
    submitted_at INTEGER NOT NULL,
    verified_at  INTEGER,
    expires_at   INTEGER,
    deleted_at   INTEGER,
    created_at   INTEGER NOT NULL
);
CREATE INDEX managers_company ON managers (company_id, id);
CREATE INDEX managers_status ON managers (status, id) WHERE deleted_at IS NULL;

-- The data submitted for a paid order, as the API's SubmittedData shows it.
CREATE TABLE order_submissions (
    certificate_id     TEXT PRIMARY KEY REFERENCES certificates (id),
    manager_id         INTEGER REFERENCES managers (id),
    csr_type           TEXT NOT NULL,        -- 'online' or 'parse'
    data               TEXT NOT NULL,        -- JSON object of the submitted fields
    letter             BLOB,                 -- confirmation letter
    letter_type        TEXT,                 -- 'jpg', 'png' or 'pdf'
    letter_uploaded_at INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX order_submissions_manager ON order_submissions (manager_id);
