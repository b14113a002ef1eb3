-- Accounts whose mentions, replies and direct messages never notify this account (as a block on
-- Discord does for notifications): a JSON list of lowercase addresses.
ALTER TABLE notify_settings ADD COLUMN muted_accounts TEXT NOT NULL DEFAULT '[]';
