-- Timeouts: until until_ms (unix ms) the account reads but does not post, edit, react or pin in any
-- channel of the community (enforced by messaging through post rules). Kept apart from
-- community_members so that leaving and joining again does not end one; a lifted timeout is
-- deleted, an expired one stays until the next timeout of the account replaces it.
CREATE TABLE community_timeouts (
  community_id TEXT NOT NULL,
  account TEXT NOT NULL,
  until_ms BIGINT NOT NULL,
  PRIMARY KEY (community_id, account)
);
