-- A forum's pinned post (Discord's): at most one per forum, shown first, and never archived by
-- inactivity while pinned.
ALTER TABLE msg_threads ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
