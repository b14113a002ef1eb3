-- What a channel shows and who posts in it: a topic (shown under its name), a position (channels
-- are listed by it, then by creation), and the roles that may post messages in it (empty: every
-- member who reads it; an announcements channel names its team's roles). Readers who may not post
-- still react and vote.
ALTER TABLE community_channels ADD COLUMN topic TEXT NOT NULL DEFAULT '';
ALTER TABLE community_channels ADD COLUMN position BIGINT NOT NULL DEFAULT 0;
ALTER TABLE community_channels ADD COLUMN post_roles TEXT NOT NULL DEFAULT '';
