-- The day's figures the live dashboard counts (archive/day_facts.py), for reports over any range
-- (handoff/reports.py): one row per counter an outbox entry added to, one per time it recorded.
-- Keyed by the outbox entry, so an entry archived twice leaves one row. ``day`` is the business's
-- date (HANDOFF_TIMEZONE) the bridge counted it on, as the dashboard's day is.

CREATE TABLE day_tallies (
    outbox_id  text NOT NULL,
    day        date NOT NULL,
    name       text NOT NULL,     -- the counter: "conversations", "reason:{reason}", "agent:{name}:taken", …
    amount     bigint NOT NULL,
    PRIMARY KEY (outbox_id, name)
);
CREATE INDEX day_tallies_day ON day_tallies (day);

CREATE TABLE day_samples (
    outbox_id  text PRIMARY KEY,
    day        date NOT NULL,
    series     text NOT NULL,     -- waits, abandoned, first-response, agent-first-response, agent-handling
    agent      text,              -- the agent of an agent's series
    ms         bigint NOT NULL
);
CREATE INDEX day_samples_day ON day_samples (day, series);
