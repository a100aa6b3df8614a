-- Indexes and counters for the API's certificate listing, and the CSR records of the CSR actions.

-- DescribeCertificates pages through one account's live certificates, newest first or by expiry.
CREATE INDEX certificates_account_listing
    ON certificates (account_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX certificates_account_expiry
    ON certificates (account_id, not_after, id) WHERE deleted_at IS NULL;
CREATE INDEX certificates_account_status
    ON certificates (account_id, status) WHERE deleted_at IS NULL;

-- Number of live (not deleted) certificates per account, kept by the triggers below so that an
-- unfiltered listing does not count every row of a large account.
CREATE TABLE account_certificate_counts (
    account_id INTEGER PRIMARY KEY,
    total      INTEGER NOT NULL
);

INSERT INTO account_certificate_counts (account_id, total)
    SELECT account_id, count(*) FROM certificates
    WHERE account_id IS NOT NULL AND deleted_at IS NULL
    GROUP BY account_id;

CREATE TRIGGER certificates_count_insert AFTER INSERT ON certificates
WHEN NEW.account_id IS NOT NULL AND NEW.deleted_at IS NULL
BEGIN
    INSERT INTO account_certificate_counts (account_id, total) VALUES (NEW.account_id, 1)
        ON CONFLICT (account_id) DO UPDATE SET total = total + 1;
END;

CREATE TRIGGER certificates_count_delete AFTER DELETE ON certificates
WHEN OLD.account_id IS NOT NULL AND OLD.deleted_at IS NULL
BEGIN
    UPDATE account_certificate_counts SET total = total - 1 WHERE account_id = OLD.account_id;
END;

CREATE TRIGGER certificates_count_update_old AFTER UPDATE OF account_id, deleted_at ON certificates
WHEN OLD.account_id IS NOT NULL AND OLD.deleted_at IS NULL
BEGIN
    UPDATE account_certificate_counts SET total = total - 1 WHERE account_id = OLD.account_id;
END;

CREATE TRIGGER certificates_count_update_new AFTER UPDATE OF account_id, deleted_at ON certificates
WHEN NEW.account_id IS NOT NULL AND NEW.deleted_at IS NULL
BEGIN
    INSERT INTO account_certificate_counts (account_id, total) VALUES (NEW.account_id, 1)
        ON CONFLICT (account_id) DO UPDATE SET total = total + 1;
END;

-- CSRs made or recorded with CreateCSR. `status` is 0 while the record is a draft and 1 once the
-- key and CSR were generated, after which the record no longer changes.
CREATE TABLE csrs (
    id                  INTEGER PRIMARY KEY,
    account_id          INTEGER NOT NULL REFERENCES accounts (id),
    domain              TEXT NOT NULL,
    organization        TEXT NOT NULL,
    department          TEXT NOT NULL,
    email               TEXT NOT NULL,
    province            TEXT NOT NULL,
    city                TEXT NOT NULL,
    country             TEXT NOT NULL,
    encrypt_algo        TEXT NOT NULL,
    key_parameter       TEXT NOT NULL,
    remark              TEXT NOT NULL DEFAULT '',
    status              INTEGER NOT NULL,
    csr_pem             TEXT,
    sealed_private_key  BLOB,
    sealed_key_password BLOB,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX csrs_account ON csrs (account_id, id);
