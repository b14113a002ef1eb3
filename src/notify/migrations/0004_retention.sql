-- notify.purge deletes old rows a batch at a time (short transactions, so delivery never waits
-- long behind it); each batch finds its rows through one of these, not a scan of the table.
CREATE INDEX notify_attempts_age ON notify_attempts (created_ms);
CREATE INDEX notify_notifications_age ON notify_notifications (created_ms);
CREATE INDEX notify_notifications_read_age ON notify_notifications (read_ms) WHERE read_ms IS NOT NULL;
CREATE INDEX notify_withdrawn_age ON notify_withdrawn (created_ms);
