-- A thread deleted by a moderator: gone for everyone at once (deleted_ms set, its start message
-- freed: seq NULL), its messages tombstoned in batches after. The row stays so that the reports of
-- its messages remain in the community's queue.
ALTER TABLE msg_threads ADD COLUMN deleted_ms BIGINT;
