-- Communities whose `@&member` (everyone) mentions, and whose role mentions, never notify this
-- account (Discord's per-server "Suppress @everyone" and "Suppress all role @mentions"): JSON
-- lists of community ids. A mention by address still notifies.
ALTER TABLE notify_settings ADD COLUMN suppress_everyone TEXT NOT NULL DEFAULT '[]';
ALTER TABLE notify_settings ADD COLUMN suppress_roles TEXT NOT NULL DEFAULT '[]';
