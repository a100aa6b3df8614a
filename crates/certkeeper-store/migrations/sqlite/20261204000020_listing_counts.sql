-- Counters and indexes that keep DescribeCertificates independent of the account's size.

-- Number of live (not deleted) certificates per account and status, kept by the triggers below.
-- A listing filtered by nothing but account and status reads its TotalCount from here. The sum
-- over an account's rows replaces the per-account table of the earlier migration, so an insert
-- updates one counter row instead of two.
CREATE TABLE account_status_counts (
    account_id INTEGER NOT NULL,
    status     INTEGER NOT NULL,
    total      INTEGER NOT NULL,
    PRIMARY KEY (account_id, status)
) WITHOUT ROWID;

INSERT INTO account_status_counts (account_id, status, total)
    SELECT account_id, status, count(*) FROM certificates
    WHERE account_id IS NOT NULL AND deleted_at IS NULL
    GROUP BY account_id, status;

DROP TRIGGER certificates_count_insert;
DROP TRIGGER certificates_count_delete;
DROP TRIGGER certificates_count_update_old;
DROP TRIGGER certificates_count_update_new;
DROP TABLE account_certificate_counts;

CREATE TRIGGER certificates_status_count_insert AFTER INSERT ON certificates
WHEN NEW.account_id IS NOT NULL AND NEW.deleted_at IS NULL
BEGIN
    INSERT INTO account_status_counts (account_id, status, total) VALUES (NEW.account_id, NEW.status, 1)
        ON CONFLICT (account_id, status) DO UPDATE SET total = total + 1;
END;

CREATE TRIGGER certificates_status_count_delete AFTER DELETE ON certificates
WHEN OLD.account_id IS NOT NULL AND OLD.deleted_at IS NULL
BEGIN
    UPDATE account_status_counts SET total = total - 1 WHERE account_id = OLD.account_id AND status = OLD.status;
END;

CREATE TRIGGER certificates_status_count_update_old AFTER UPDATE OF account_id, status, deleted_at ON certificates
WHEN OLD.account_id IS NOT NULL AND OLD.deleted_at IS NULL
BEGIN
    UPDATE account_status_counts SET total = total - 1 WHERE account_id = OLD.account_id AND status = OLD.status;
END;

CREATE TRIGGER certificates_status_count_update_new AFTER UPDATE OF account_id, status, deleted_at ON certificates
WHEN NEW.account_id IS NOT NULL AND NEW.deleted_at IS NULL
BEGIN
    INSERT INTO account_status_counts (account_id, status, total) VALUES (NEW.account_id, NEW.status, 1)
        ON CONFLICT (account_id, status) DO UPDATE SET total = total + 1;
END;

-- A listing of one status, newest first, reads this index in order and stops after one page.
-- It replaces the (account_id, status) index, which served only counts.
DROP INDEX certificates_account_status;
CREATE INDEX certificates_account_status_listing
    ON certificates (account_id, status, created_at DESC, id DESC) WHERE deleted_at IS NULL;

-- Every query by account also filters on deleted_at IS NULL and uses the partial indexes, so this
-- index only cost time on each insert.
DROP INDEX certificates_account;
