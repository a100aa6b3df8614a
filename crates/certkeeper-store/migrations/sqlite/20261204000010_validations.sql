-- Domain validations: one row per domain of an order (purpose 'issue') or of a revocation
-- request (purpose 'revoke'). Pending rows are rechecked by the scheduler until they pass or
-- their token expires, and survive restarts.
CREATE TABLE validations (
    id             INTEGER PRIMARY KEY,
    certificate_id TEXT NOT NULL REFERENCES certificates (id),
    purpose        TEXT NOT NULL,            -- 'issue' or 'revoke'
    domain         TEXT NOT NULL,
    method         TEXT NOT NULL,            -- 'DNS', 'DNS_AUTO' or 'FILE'
    verify_type    TEXT NOT NULL,            -- 'TXT' or 'FILE'
    record_key     TEXT NOT NULL,            -- record name or file name
    sub_domain     TEXT NOT NULL,
    token          TEXT NOT NULL,
    path           TEXT NOT NULL,
    -- DNS_AUTO: delete the record once the certificate is issued.
    remove_after_issue INTEGER NOT NULL DEFAULT 0,
    state          TEXT NOT NULL,            -- 'pending', 'valid', 'invalid' or 'expired'
    attempts       INTEGER NOT NULL DEFAULT 0,
    next_check_at  INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    local_check    INTEGER NOT NULL DEFAULT 0,
    check_values   TEXT NOT NULL DEFAULT '',  -- values found, separated by newlines
    reason         TEXT NOT NULL DEFAULT '',
    checked_at     INTEGER,
    created_at     INTEGER NOT NULL
);
CREATE INDEX validations_due ON validations (state, next_check_at);
CREATE INDEX validations_certificate ON validations (certificate_id, purpose);
