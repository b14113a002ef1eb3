-- AutoMod rules: what a community refuses in its members' messages. `config` is the rule as JSON
-- (community::render_automod_rule); `revision` grows with each change, so a node's compiled copy of
-- a rule is reused until the rule changes.
CREATE TABLE community_automod_rules (
  id TEXT PRIMARY KEY,
  community_id TEXT NOT NULL,
  config TEXT NOT NULL,
  revision BIGINT NOT NULL,
  created_by TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL
);
CREATE INDEX community_automod_rules_community ON community_automod_rules (community_id, created_ms);
