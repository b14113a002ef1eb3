-- A custom role's place in the hierarchy (Discord's role order): 1 to 79, below admins; who may act
-- on whom follows the highest rank held. Whether any member's `@&role` mention notifies its holders
-- (else only from holders of mention_everyone), and its colour (0xRRGGBB; 0: none).
ALTER TABLE community_roles ADD COLUMN rank INTEGER NOT NULL DEFAULT 20;
ALTER TABLE community_roles ADD COLUMN mentionable INTEGER NOT NULL DEFAULT 1;
ALTER TABLE community_roles ADD COLUMN color INTEGER NOT NULL DEFAULT 0;
