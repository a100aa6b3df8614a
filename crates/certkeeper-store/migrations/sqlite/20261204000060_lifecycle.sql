-- Reissue and renewal links. Revoking an original revokes every certificate reissued from it,
-- which the revocation transaction finds through `reissued_from`. An order that fails or is
-- cancelled releases the certificate that points at it through `reissued_by` or `renewal_id`.
CREATE INDEX certificates_reissued_from ON certificates (reissued_from) WHERE reissued_from IS NOT NULL;
CREATE INDEX certificates_reissued_by ON certificates (reissued_by) WHERE reissued_by IS NOT NULL;
CREATE INDEX certificates_renewal_id ON certificates (renewal_id) WHERE renewal_id IS NOT NULL;
