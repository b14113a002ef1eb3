-- The community's system channel (Discord's): where messaging welcomes each new member with a
-- `member_joined` system message. Empty: none.
ALTER TABLE community_communities ADD COLUMN system_channel TEXT NOT NULL DEFAULT '';
