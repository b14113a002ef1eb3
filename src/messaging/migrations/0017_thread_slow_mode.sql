-- A thread's own slow mode (Discord's per-thread rate_limit_per_user), set by those who moderate its
-- channel: the longer of it and the parent's holds in the thread.
ALTER TABLE msg_threads ADD COLUMN slow_mode_seconds BIGINT NOT NULL DEFAULT 0;
