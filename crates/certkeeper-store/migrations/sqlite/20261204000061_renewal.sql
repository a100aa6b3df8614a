-- Automatic renewal. `auto_renew` is the owner's AutoRenewFlag (0 or 1); `term_ends_at` is the
-- end of a multi-year service term in Unix seconds, until which certkeeper issues consecutive
-- certificates. The renewal pass reads due candidates through the partial index.
ALTER TABLE certificates ADD COLUMN auto_renew INTEGER NOT NULL DEFAULT 0;
ALTER TABLE certificates ADD COLUMN term_ends_at INTEGER;
CREATE INDEX certificates_auto_renewal ON certificates (not_after)
    WHERE deleted_at IS NULL AND renewal_id IS NULL AND (auto_renew = 1 OR term_ends_at IS NOT NULL);
