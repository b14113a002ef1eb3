-- What a channel gives its new threads, and a forum its readers (Discord's channel defaults): the
-- auto-archive time of a thread started without one; a forum's default order of posts ('activity'
-- or 'created') and the reaction its posts offer (empty: none).
ALTER TABLE community_channels ADD COLUMN default_auto_archive_minutes BIGINT NOT NULL DEFAULT 1440;
ALTER TABLE community_channels ADD COLUMN default_sort_order TEXT NOT NULL DEFAULT 'activity';
ALTER TABLE community_channels ADD COLUMN default_reaction_emoji TEXT NOT NULL DEFAULT '';
