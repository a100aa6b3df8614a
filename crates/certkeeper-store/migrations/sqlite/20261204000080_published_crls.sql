-- The latest signed CRL of every issuer and shard, so that every process serves the same CRL
-- and a restart keeps serving it without signing a new one.

-- Written in the same transaction that moves crl_state to this number, so `number` and `der`
-- always belong together. An update only replaces a row with a higher number.
CREATE TABLE published_crls (
    issuer_id           INTEGER NOT NULL REFERENCES issuers (id),
    shard               INTEGER NOT NULL,
    number              INTEGER NOT NULL,    -- cRLNumber of `der`
    this_update         INTEGER NOT NULL,    -- Unix seconds
    next_update         INTEGER NOT NULL,    -- Unix seconds
    entry_count         INTEGER NOT NULL,
    -- Highest revoked_certificates rowid committed before the entries were read: every
    -- revocation at or below it is listed, unless its certificate had expired.
    revocation_position INTEGER NOT NULL,
    der                 BLOB NOT NULL,
    PRIMARY KEY (issuer_id, shard)
);
