-- What a notification is about when its source can take it back: "message:<id>" for a mention or
-- a reply. A deleted message withdraws the notifications about it; an edited one refreshes their
-- preview. Empty for every other notification.
ALTER TABLE notify_notifications ADD COLUMN subject TEXT NOT NULL DEFAULT '';
CREATE INDEX notify_notifications_subject ON notify_notifications (subject) WHERE subject <> '';

-- Subjects withdrawn: a job expanded after the withdrawal creates nothing for them. Kept 30 days.
CREATE TABLE notify_withdrawn (
  subject TEXT PRIMARY KEY,
  created_ms BIGINT NOT NULL
);

-- Notifications withdrawn whose account's open sockets have yet to be told (the router sends one
-- `notification_removed` frame per account and batch, then deletes the rows).
CREATE TABLE notify_removals (
  notification_id TEXT PRIMARY KEY,
  account TEXT NOT NULL,
  created_ms BIGINT NOT NULL
);
CREATE INDEX notify_removals_order ON notify_removals (created_ms, notification_id);
