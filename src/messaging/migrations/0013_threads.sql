-- Threads (Discord's): a sub-channel of a channel, started from one of its messages (seq) or on its
-- own (seq NULL). Its messages, seqs and read markers are a channel's, under the thread's id. It
-- archives by hand (archived_ms) or after auto_archive_minutes without a message (last_ms, raised by
-- each message); a message in an archived thread brings it back. locked: only those who moderate
-- the parent write in it or bring it back.
CREATE TABLE msg_threads (
  id TEXT PRIMARY KEY,
  channel_id TEXT NOT NULL,
  seq BIGINT,
  name TEXT NOT NULL,
  creator TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  auto_archive_minutes BIGINT NOT NULL,
  archived_ms BIGINT,
  locked INTEGER NOT NULL DEFAULT 0,
  last_ms BIGINT NOT NULL
);
-- One thread per message (NULL seqs, threads started on their own, are distinct).
CREATE UNIQUE INDEX msg_threads_message ON msg_threads (channel_id, seq);
CREATE INDEX msg_threads_activity ON msg_threads (channel_id, last_ms);
