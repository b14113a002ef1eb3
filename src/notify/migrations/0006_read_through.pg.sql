-- Reading a channel reads its notifications. A mention, reply or thread notification names the
-- message it is about by seq (in channel_id); when the account's read marker in that channel
-- reaches the seq, the notification is marked read. NULL for every other notification.
ALTER TABLE notify_notifications ADD COLUMN seq BIGINT;
-- Unread message notifications made before this migration carry their seq in data (as a string).
UPDATE notify_notifications SET seq = CAST(CAST(data AS jsonb) ->> 'seq' AS BIGINT)
  WHERE read_ms IS NULL AND kind IN ('mention', 'reply', 'thread') AND subject LIKE 'message:%'
    AND data LIKE '{%' AND (CAST(data AS jsonb) ->> 'seq') ~ '^[0-9]{1,18}$';
CREATE INDEX notify_notifications_unread_seq ON notify_notifications (account, channel_id, seq)
  WHERE read_ms IS NULL AND seq IS NOT NULL;

-- How far each account has read each channel, as messaging last said: a notification expanded
-- after its account read past its message is made read and not delivered. Only the race between
-- reading and expanding needs it: rows go a day after their last update (notify.purge).
CREATE TABLE notify_read_through (
  account TEXT NOT NULL,
  channel_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL,
  PRIMARY KEY (account, channel_id)
);
CREATE INDEX notify_read_through_age ON notify_read_through (updated_ms);

-- Notifications marked read whose account's open sockets have yet to be told (the router sends
-- one `notifications_read` frame per account and batch, then deletes the rows). notification_id
-- '*' stands for all of the account's notifications.
CREATE TABLE notify_reads (
  account TEXT NOT NULL,
  notification_id TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  PRIMARY KEY (account, notification_id)
);
CREATE INDEX notify_reads_order ON notify_reads (created_ms, account, notification_id);
