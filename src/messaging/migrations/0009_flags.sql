-- What a message was sent as, beyond its text: bit 1 (value 1) is silent (Discord's @silent: its
-- mentions and reply notified without a push). Messages written before were not silent.
ALTER TABLE msg_messages ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;
