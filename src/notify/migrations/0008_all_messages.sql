-- Channels whose every message notifies the account (Discord's per-channel "All Messages"; in a
-- forum, every new post): a JSON list of channel ids in the settings, and one row per channel and
-- account, which a post in the channel looks up, in the order the accounts chose it.
ALTER TABLE notify_settings ADD COLUMN all_messages TEXT NOT NULL DEFAULT '[]';
CREATE TABLE notify_channel_followers (
  channel_id TEXT NOT NULL,
  account TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  PRIMARY KEY (channel_id, account)
);
CREATE INDEX notify_channel_followers_order ON notify_channel_followers (channel_id, created_ms, account);
CREATE INDEX notify_channel_followers_account ON notify_channel_followers (account);
