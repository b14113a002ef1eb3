-- A member's nickname in the community (Discord's server nickname): shown instead of the address
-- where members are listed. Empty: none.
ALTER TABLE community_members ADD COLUMN nickname TEXT NOT NULL DEFAULT '';
