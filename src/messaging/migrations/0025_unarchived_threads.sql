-- Starting a thread counts the channel's active threads (at most 1,000). The count walked every
-- thread the channel ever had, archived ones too (msg_threads_activity holds them all), inside the
-- write transaction. This index holds only the threads not archived and not deleted: the active
-- ones, and those whose inactivity ran out in the last minute, until the job
-- messaging.thread_archive records them. The active listings of a channel read it too.
CREATE INDEX msg_threads_unarchived_in ON msg_threads (channel_id, last_ms)
  WHERE archived_ms IS NULL AND deleted_ms IS NULL;
