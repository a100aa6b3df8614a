-- Revoked certificates and the state of the CRLs published from them.

-- One row per revoked serial. The first revocation wins: a second one for the same serial keeps
-- the stored time and reason, because relying parties may already have seen them in a CRL or an
-- OCSP response. `shard` is the CRL partition of the serial, so a CRL is one index range scan.
CREATE TABLE revoked_certificates (
    serial         TEXT PRIMARY KEY,         -- lower-case hex, as in serials
    issuer_id      INTEGER NOT NULL REFERENCES issuers (id),
    shard          INTEGER NOT NULL,
    certificate_id TEXT,
    revoked_at     INTEGER NOT NULL,         -- Unix seconds
    reason_code    INTEGER NOT NULL,         -- RFC 5280 CRLReason, 0 = unspecified
    not_after      INTEGER NOT NULL,         -- the certificate's notAfter; the entry leaves CRLs after it
    created_at     INTEGER NOT NULL
);
CREATE INDEX revoked_certificates_shard ON revoked_certificates (issuer_id, shard, revoked_at);

-- Last CRL published per issuer and shard. The next CRL number is derived from this row, so
-- numbers keep increasing across restarts and backward clock steps.
CREATE TABLE crl_state (
    issuer_id        INTEGER NOT NULL REFERENCES issuers (id),
    shard            INTEGER NOT NULL,
    last_number      INTEGER NOT NULL,
    last_this_update INTEGER NOT NULL,       -- Unix seconds
    last_entry_count INTEGER NOT NULL,
    PRIMARY KEY (issuer_id, shard)
);
