-- The job messaging.thread_archive looks for the threads whose inactivity ran out: it now reads
-- them by the time it runs out (last_ms + auto_archive_minutes), and the index on that time holds
-- only the threads it may archive (not archived, not deleted, not pinned). The index on last_ms it
-- replaces made each run walk every unarchived thread whose last message was older than the
-- shortest auto-archive time (a week's threads, and every pinned post), to find none due.
DROP INDEX msg_threads_unarchived;
CREATE INDEX msg_threads_archive_due ON msg_threads ((last_ms + auto_archive_minutes * 60000))
  WHERE archived_ms IS NULL AND deleted_ms IS NULL AND pinned = 0;
