-- Slow mode: a member may post in the channel once every slow_mode_seconds (0: off); members who
-- may manage messages are exempt. Enforced by messaging when a message is posted.
ALTER TABLE community_channels ADD COLUMN slow_mode_seconds BIGINT NOT NULL DEFAULT 0;
