-- A custom role's place in the hierarchy (Discord's role order): 1 to 79, below admins; who may act
-- on whom follows the highest rank held. Whether any member's `@&role` mention notifies its holders
-- (else only from holders of mention_everyone), its colour (0xRRGGBB; 0: none), and whether clients
-- list its holders apart from other members (Discord's "display role members separately").
ALTER TABLE community_roles ADD COLUMN rank INTEGER NOT NULL DEFAULT 20;
ALTER TABLE community_roles ADD COLUMN mentionable INTEGER NOT NULL DEFAULT 1;
ALTER TABLE community_roles ADD COLUMN color INTEGER NOT NULL DEFAULT 0;
ALTER TABLE community_roles ADD COLUMN hoist INTEGER NOT NULL DEFAULT 0;
