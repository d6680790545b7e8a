-- The archive's first schema: conversations with their transcripts, handoffs, state changes, ratings,
-- labels and contacts (docs/data-model.md). Every table has a unique key taken from the live store
-- (conversation id, Redis stream id, the conversation's version), so every write is an upsert and an
-- outbox entry archived twice leaves one row.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Customers a site signed in (issue 17 "Customers who are known"): the site's own customer id.
CREATE TABLE contacts (
    id          text PRIMARY KEY,
    name        text,
    email       text,
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL
);

-- The label set (names may change; conversations keep label ids).
CREATE TABLE labels (
    id      text PRIMARY KEY,
    name    text NOT NULL,
    colour  text NOT NULL DEFAULT ''
);

CREATE TABLE conversations (
    id                 text PRIMARY KEY,
    contact_id         text REFERENCES contacts (id) ON DELETE SET NULL,
    skill_group        text NOT NULL DEFAULT 'general',
    started_at         timestamptz NOT NULL,
    last_message_at    timestamptz,
    -- The newest state committed (the live hash's "version": later versions win, whatever the order
    -- several archivers commit in); -1 before the first state change (a chat only with the bot).
    version            integer NOT NULL DEFAULT -1,
    state              text NOT NULL DEFAULT 'bot',
    agent              text,
    ended_at           timestamptz,              -- the last close
    handoff_reason     text,                     -- the last handoff's
    first_queued_at    timestamptz,
    first_claimed_at   timestamptz,
    first_response_at  timestamptz,              -- the first agent's message
    handling_ms        bigint NOT NULL DEFAULT 0, -- claim to close, hand back, transfer, summed
    label_ids          text[] NOT NULL DEFAULT '{}',
    labels_position    bigint NOT NULL DEFAULT 0, -- the outbox entry that set label_ids (newest wins)
    disposition        text,
    closing_note       text,
    rating             smallint,
    rating_comment     text
);
CREATE INDEX conversations_started ON conversations (started_at);
CREATE INDEX conversations_contact ON conversations (contact_id, started_at);
CREATE INDEX conversations_agent ON conversations (agent, started_at);
CREATE INDEX conversations_disposition ON conversations (disposition, started_at);
CREATE INDEX conversations_labels ON conversations USING gin (label_ids);

-- The transcript: one row per message, keyed by its Redis stream id (agents' notes, notices and
-- attachments' metadata among them; a file's bytes stay in Redis).
CREATE TABLE messages (
    conversation_id  text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    id               text NOT NULL,     -- the Redis stream id, "{ms}-{n}"
    position         bigint NOT NULL,   -- the stream id as one number, for ordering: ms * 1,000,000 + n
    sent_at          timestamptz NOT NULL,
    sender           text NOT NULL,     -- customer, bot, agent, system, note
    author           text,              -- the agent, for agents' messages and notes
    text             text NOT NULL,
    data             jsonb NOT NULL DEFAULT '{}',
    -- Words in any language the widget supports: the 'simple' configuration (no stemming, no stop
    -- words) and, for parts of words, a trigram index.
    words            tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED,
    PRIMARY KEY (conversation_id, id)
);
CREATE INDEX messages_order ON messages (conversation_id, position);
CREATE INDEX messages_sent ON messages (sent_at);
CREATE INDEX messages_words ON messages USING gin (words);
CREATE INDEX messages_trigrams ON messages USING gin (text gin_trgm_ops);

-- Every state change committed, keyed by the version it made.
CREATE TABLE state_changes (
    conversation_id  text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    version          integer NOT NULL,
    at               timestamptz NOT NULL,
    from_state       text NOT NULL,
    to_state         text NOT NULL,
    agent            text,
    skill_group      text NOT NULL,
    wait_ms          bigint,   -- a claim: from first queued in this handoff to claimed
    handled_ms       bigint,   -- an agent's part ending: from claimed to now
    PRIMARY KEY (conversation_id, version)
);
CREATE INDEX state_changes_at ON state_changes (at);

-- The bot's handoffs to people, with the payload the agents saw (docs/handoff-payload.md).
CREATE TABLE handoffs (
    conversation_id  text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    version          integer NOT NULL,
    at               timestamptz NOT NULL,
    reason           text,
    skill_group      text NOT NULL,
    payload          jsonb NOT NULL,
    PRIMARY KEY (conversation_id, version)
);
CREATE INDEX handoffs_at ON handoffs (at);

-- Customers' ratings, one per close rated.
CREATE TABLE ratings (
    conversation_id  text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    version          integer NOT NULL,
    at               timestamptz NOT NULL,
    agent            text,
    score            smallint NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment          text NOT NULL DEFAULT '',
    PRIMARY KEY (conversation_id, version)
);
CREATE INDEX ratings_at ON ratings (at);

-- Outbox entries the archiver could not read, kept whole (never dropped) for a person to look at.
CREATE TABLE rejected_facts (
    outbox_id  text PRIMARY KEY,
    fields     jsonb NOT NULL,
    error      text NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
