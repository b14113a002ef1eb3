-- The display a community chose for a built-in role (owner, admin, moderator), as a custom role's:
-- whether any member's `@&role` mention notifies its holders (else only from holders of
-- mention_everyone), its colour (0xRRGGBB; 0: none), and whether clients list its holders apart.
-- No row: mentionable, no colour, not apart. Their names, ranks and permissions stay the model's.
CREATE TABLE community_builtin_roles (
  community_id TEXT NOT NULL,
  name TEXT NOT NULL,
  mentionable INTEGER NOT NULL,
  color INTEGER NOT NULL,
  hoist INTEGER NOT NULL,
  PRIMARY KEY (community_id, name)
);
