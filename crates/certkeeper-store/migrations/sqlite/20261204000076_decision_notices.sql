-- When the `review.decided` notification of a review was enqueued. Decisions without it are
-- notified at the next check, however old they are.
ALTER TABLE reviews ADD COLUMN decision_notified_at INTEGER;

-- Decisions made more than a day before this migration were either notified already or fell
-- outside the one-day window of earlier versions; they are not notified again. Newer ones are
-- checked again, and the de-duplication key of their notification job keeps them single.
UPDATE reviews SET decision_notified_at = decided_at
WHERE decided_at IS NOT NULL AND decided_at < CAST(strftime('%s', 'now') AS INTEGER) - 86400;

CREATE INDEX reviews_decisions_to_notify ON reviews (id)
WHERE decided_at IS NOT NULL AND decision_notified_at IS NULL;
