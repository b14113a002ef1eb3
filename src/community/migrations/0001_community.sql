-- Portable to both dialects. Addresses are stored lowercase; gates as their canonical JSON.
CREATE TABLE community_communities (
  id TEXT PRIMARY KEY,
  slug TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  owner TEXT NOT NULL,
  gate TEXT,
  created_ms BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL
);

-- Members; the owner is one. Built-in member rights need no role row.
CREATE TABLE community_members (
  community_id TEXT NOT NULL,
  account TEXT NOT NULL,
  joined_ms BIGINT NOT NULL,
  PRIMARY KEY (community_id, account)
);
CREATE INDEX community_members_account ON community_members (account);

-- Members removed because their holdings stopped passing the community gate: they come back on
-- their own when the holdings pass again (a leave, kick or ban clears this).
CREATE TABLE community_lapsed (
  community_id TEXT NOT NULL,
  account TEXT NOT NULL,
  lapsed_ms BIGINT NOT NULL,
  PRIMARY KEY (community_id, account)
);

CREATE TABLE community_bans (
  community_id TEXT NOT NULL,
  account TEXT NOT NULL,
  banned_by TEXT NOT NULL,
  reason TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  PRIMARY KEY (community_id, account)
);

-- Custom roles (built-in ones are in the model). A gated role is granted while its gate passes.
CREATE TABLE community_roles (
  community_id TEXT NOT NULL,
  name TEXT NOT NULL,
  permissions BIGINT NOT NULL,
  gate TEXT,
  created_ms BIGINT NOT NULL,
  PRIMARY KEY (community_id, name)
);

-- Roles held: source 'manual' (assigned) or 'gate' (granted by the role's gate).
CREATE TABLE community_member_roles (
  community_id TEXT NOT NULL,
  account TEXT NOT NULL,
  role TEXT NOT NULL,
  source TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  PRIMARY KEY (community_id, account, role, source)
);
CREATE INDEX community_member_roles_role ON community_member_roles (community_id, role);

-- roles: comma-separated role names that may see the channel ('' = every member).
CREATE TABLE community_channels (
  id TEXT PRIMARY KEY,
  community_id TEXT NOT NULL,
  name TEXT NOT NULL,
  gate TEXT,
  roles TEXT NOT NULL,
  archived_ms BIGINT,
  created_ms BIGINT NOT NULL
);
CREATE INDEX community_channels_community ON community_channels (community_id);

-- Members whose holdings pass a gated channel's gate.
CREATE TABLE community_channel_access (
  channel_id TEXT NOT NULL,
  account TEXT NOT NULL,
  community_id TEXT NOT NULL,
  PRIMARY KEY (channel_id, account)
);
CREATE INDEX community_channel_access_account ON community_channel_access (account);

-- The contracts a community's gates (community, channel, role) read: chain events on them
-- queue the affected accounts for re-evaluation.
CREATE TABLE community_gate_contracts (
  community_id TEXT NOT NULL,
  chain_id BIGINT NOT NULL,
  contract TEXT NOT NULL,
  PRIMARY KEY (community_id, chain_id, contract)
);
CREATE INDEX community_gate_contracts_contract ON community_gate_contracts (chain_id, contract);

-- Accounts waiting for re-evaluation, worked through in batches by the re-evaluator from due_ms
-- on; version grows with every new reason, so work on an older version never drops a newer one.
CREATE TABLE community_reevaluations (
  community_id TEXT NOT NULL,
  account TEXT NOT NULL,
  due_ms BIGINT NOT NULL,
  version BIGINT NOT NULL,
  PRIMARY KEY (community_id, account)
);
CREATE INDEX community_reevaluations_due ON community_reevaluations (due_ms);
