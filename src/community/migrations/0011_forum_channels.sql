-- Forum channels (Discord's): a channel's type, fixed at its creation ('text' or 'forum'); a
-- forum's tags (a JSON array of {"id", "name", "emoji", "moderated"}) and whether each post must
-- carry one.
ALTER TABLE community_channels ADD COLUMN type TEXT NOT NULL DEFAULT 'text';
ALTER TABLE community_channels ADD COLUMN available_tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE community_channels ADD COLUMN require_tag INTEGER NOT NULL DEFAULT 0;
