-- A forum numbers its posts with its own seq (the forum holds no message of its own), so that its
-- read marker, unread count and "mark read" count new posts as a channel's count new messages.
-- NULL for every other thread, and for posts started before this version (read, as it were).
ALTER TABLE msg_threads ADD COLUMN post_seq BIGINT;
CREATE INDEX msg_threads_forum_posts ON msg_threads (channel_id, post_seq) WHERE post_seq IS NOT NULL;
