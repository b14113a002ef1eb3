-- The per-channel change counter: every edit, delete and reaction change raises the channel's
-- last_change by one (under the same row lock as the seq) and stamps the message with it, so that a
-- client that was away reads what changed after the last change it saw (GET .../changes).
-- 0: never changed.
ALTER TABLE msg_channels ADD COLUMN last_change BIGINT NOT NULL DEFAULT 0;
ALTER TABLE msg_messages ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX msg_messages_changes ON msg_messages (channel_id, change_seq);
