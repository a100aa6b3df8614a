-- Owner revocation requests and the manual reviews that decide some of them.

-- The pending or last revocation request of a certificate: the reason code and text that the
-- final revocation records. A new request replaces the row of an earlier one that failed.
CREATE TABLE revocation_requests (
    certificate_id TEXT PRIMARY KEY REFERENCES certificates (id),
    policy         TEXT NOT NULL,            -- 'domain-validation' or 'review-only'
    reason_code    INTEGER NOT NULL,         -- RFC 5280 CRLReason
    reason         TEXT NOT NULL,
    requested_by   TEXT NOT NULL,
    created_at     INTEGER NOT NULL          -- Unix seconds
);

-- Requests that wait for a reviewer (role 'reviewer' or 'admin').
CREATE TABLE reviews (
    id              INTEGER PRIMARY KEY,
    certificate_id  TEXT NOT NULL REFERENCES certificates (id),
    kind            TEXT NOT NULL,           -- 'revoke'
    state           TEXT NOT NULL,           -- 'pending', 'approved' or 'rejected'
    reason          TEXT NOT NULL,           -- the requester's reason
    reason_code     INTEGER NOT NULL DEFAULT 0,
    decision_reason TEXT NOT NULL DEFAULT '', -- the reviewer's reason for a rejection
    decided_by      TEXT,
    decided_at      INTEGER,
    created_at      INTEGER NOT NULL
);
CREATE INDEX reviews_state ON reviews (state, id);
CREATE INDEX reviews_certificate ON reviews (certificate_id, id);
