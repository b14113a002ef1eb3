-- Forwarded messages (Discord's forwards): a message may carry a snapshot of the message it forwards,
-- as JSON {"channel_id", "seq", "author", "body", "created_ms"}, taken when it was forwarded and
-- kept as it was then. It goes with the message when that becomes a tombstone.
ALTER TABLE msg_messages ADD COLUMN forward TEXT;
