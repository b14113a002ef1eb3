-- Private threads (Discord's): read by their members who read the parent, and by those who
-- moderate the parent; invitable: whether members who do not moderate may add others.
ALTER TABLE msg_threads ADD COLUMN is_private INTEGER NOT NULL DEFAULT 0;
ALTER TABLE msg_threads ADD COLUMN invitable INTEGER NOT NULL DEFAULT 1;
