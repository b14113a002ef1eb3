-- The audit log: what members with moderation rights did in the community (kicks, bans, timeouts,
-- roles, channels and settings, and other members' messages deleted or pinned), newest id last.
-- Kept for CommunitySettings::audit_retention (the job community.audit_prune deletes older entries).
CREATE TABLE community_audit_log (
  id BIGSERIAL PRIMARY KEY,
  community_id TEXT NOT NULL,
  action TEXT NOT NULL,
  actor TEXT NOT NULL,
  target TEXT,
  channel_id TEXT,
  reason TEXT,
  details TEXT NOT NULL,
  created_ms BIGINT NOT NULL
);
CREATE INDEX community_audit_log_community ON community_audit_log (community_id, id);
CREATE INDEX community_audit_log_actor ON community_audit_log (community_id, actor, id);
CREATE INDEX community_audit_log_created ON community_audit_log (created_ms);
