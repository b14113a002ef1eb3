-- Channel categories (Discord's): a channel of type 'category' groups others; a text channel or a
-- forum names the category it is in ('' for none).
ALTER TABLE community_channels ADD COLUMN parent_id TEXT NOT NULL DEFAULT '';
