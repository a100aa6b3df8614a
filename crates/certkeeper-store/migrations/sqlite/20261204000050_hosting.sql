-- Certificates issued elsewhere and uploaded for hosting. The certificates row holds the leaf,
-- its names, validity and sealed key like any other certificate (source 'upload', no serial,
-- so serials of other CAs never collide with certkeeper's own); this table holds what only
-- uploads have.
CREATE TABLE uploaded_certificates (
    certificate_id      TEXT PRIMARY KEY REFERENCES certificates (id),
    account_id          INTEGER,
    certificate_type    TEXT NOT NULL,        -- 'SVR' or 'CA'
    leaf_sha256         TEXT NOT NULL,        -- lower-case hex SHA-256 of the leaf DER
    chain_der           BLOB NOT NULL,        -- intermediates, leaf's issuer first, DER one after another
    root_der            BLOB,                 -- the self-signed root the chain ends in, when known
    sealed_key_password BLOB,                 -- KeyPassword of the upload, sealed; keystore password
    trusted             INTEGER NOT NULL,     -- 1 when the chain leads to a Mozilla root or certkeeper's root
    report              TEXT NOT NULL DEFAULT '' -- what the chain builder changed and warned about, one fact a line
);
CREATE INDEX uploaded_certificates_fingerprint ON uploaded_certificates (account_id, leaf_sha256);

-- The CsrKeyPassword of an order whose key certkeeper generated, sealed: the password of its
-- IIS and Tomcat keystore downloads.
CREATE TABLE certificate_key_passwords (
    certificate_id  TEXT PRIMARY KEY REFERENCES certificates (id),
    sealed_password BLOB NOT NULL
);
