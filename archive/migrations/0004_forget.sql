-- Forgetting (docs/data-model.md "Forget this customer"): the conversations forgotten, kept only as a
-- digest (SHA-256 of the id, never the id itself), so that an archiver holding a batch it read before
-- the forget (or an outbox entry left behind) never writes them again.

CREATE TABLE forgotten_conversations (
    digest        bytea PRIMARY KEY,
    forgotten_at  timestamptz NOT NULL DEFAULT now()
);
