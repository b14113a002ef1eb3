-- Portable to both dialects: BIGINT has integer affinity on SQLite; times are Unix milliseconds.
-- The notification center: one row per notification of an account. The list is newest first by
-- (created_ms, id); the partial index keeps the exact unread count cheap.
CREATE TABLE notify_notifications (
  id TEXT PRIMARY KEY,
  account TEXT NOT NULL,
  kind TEXT NOT NULL,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  data TEXT NOT NULL,
  community_id TEXT NOT NULL,
  channel_id TEXT NOT NULL,
  dedup_key TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  read_ms BIGINT
);
CREATE INDEX notify_notifications_list ON notify_notifications (account, created_ms, id);
CREATE INDEX notify_notifications_unread ON notify_notifications (account) WHERE read_ms IS NULL;
CREATE UNIQUE INDEX notify_notifications_dedup ON notify_notifications (account, dedup_key);

-- Per-account settings. Lists are JSON arrays of ids; quiet hours are minutes after local
-- midnight in time_zone (an IANA name), NULL when off.
CREATE TABLE notify_settings (
  account TEXT PRIMARY KEY,
  muted_channels TEXT NOT NULL,
  muted_communities TEXT NOT NULL,
  muted_kinds TEXT NOT NULL,
  dm_previews BIGINT NOT NULL,
  addm_opt_out BIGINT NOT NULL,
  quiet_start_min BIGINT,
  quiet_end_min BIGINT,
  time_zone TEXT NOT NULL,
  updated_ms BIGINT NOT NULL
);

-- Audience expansion jobs: a notify.requested for a community (or a long list) is expanded here
-- in batches by the router's worker, never inside the bus consumer. cursor is the last member
-- expanded.
CREATE TABLE notify_jobs (
  id TEXT PRIMARY KEY,
  payload TEXT NOT NULL,
  cursor TEXT NOT NULL,
  expanded BIGINT NOT NULL,
  done BIGINT NOT NULL,
  created_ms BIGINT NOT NULL
);
CREATE INDEX notify_jobs_pending ON notify_jobs (done, created_ms);

-- Deliveries waiting for the router: one per (notification, account). lease_ms lets a crashed
-- worker's claim expire.
CREATE TABLE notify_deliveries (
  notification_id TEXT PRIMARY KEY,
  account TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  lease_ms BIGINT NOT NULL,
  push BIGINT NOT NULL
);
CREATE INDEX notify_deliveries_due ON notify_deliveries (lease_ms, created_ms);

-- Every delivery attempt per device: the channel (socket, fcm, webpush, webhook), its outcome
-- (delivered, token_invalid, rejected, failed, gone, skipped), retries and the provider's code.
CREATE TABLE notify_attempts (
  notification_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  channel TEXT NOT NULL,
  outcome TEXT NOT NULL,
  retries BIGINT NOT NULL,
  status BIGINT NOT NULL,
  detail TEXT NOT NULL,
  created_ms BIGINT NOT NULL
);
CREATE INDEX notify_attempts_notification ON notify_attempts (notification_id);
CREATE INDEX notify_attempts_device ON notify_attempts (device_id, created_ms);
