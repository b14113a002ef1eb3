-- The job messaging.thread_archive records when a thread archived by inactivity (archived_ms, as an
-- archive by hand), so that its subscribers are told; it finds those not archived yet by their
-- last activity. The threads already archived by inactivity are recorded here, told no one.
-- (PostgreSQL: 0020_thread_archive.pg.sql, the same with its clock.)
UPDATE msg_threads SET archived_ms = last_ms + auto_archive_minutes * 60000
  WHERE archived_ms IS NULL AND deleted_ms IS NULL
    AND last_ms <= CAST(strftime('%s', 'now') AS INTEGER) * 1000 - auto_archive_minutes * 60000;
CREATE INDEX msg_threads_unarchived ON msg_threads (last_ms) WHERE archived_ms IS NULL AND deleted_ms IS NULL;
