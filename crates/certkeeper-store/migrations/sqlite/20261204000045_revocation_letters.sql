-- Letters and application forms that owners send for revocation requests, and the time
-- reviewers were last reminded of a pending review.

-- One letter per review. A confirmation letter may be replaced while its review is pending;
-- an application form is stored once.
CREATE TABLE revocation_letters (
    review_id      INTEGER PRIMARY KEY REFERENCES reviews (id),
    certificate_id TEXT NOT NULL REFERENCES certificates (id),
    kind           TEXT NOT NULL,            -- 'confirmation-letter' or 'application-form'
    content_type   TEXT NOT NULL,            -- 'image/jpeg', 'image/png', 'image/gif', 'application/pdf'
    content        BLOB NOT NULL,
    sha256         TEXT NOT NULL,            -- lower-case hex of the content
    uploaded_by    TEXT NOT NULL,
    uploaded_at    INTEGER NOT NULL          -- Unix seconds
);
CREATE INDEX revocation_letters_certificate ON revocation_letters (certificate_id);

ALTER TABLE reviews ADD COLUMN reminded_at INTEGER;
