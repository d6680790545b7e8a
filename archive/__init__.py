"""The archive: conversations' history in PostgreSQL, written from the bridge's outbox in Redis.

The bridge appends every fact it stores (a message, a state change, labels) to ``{p}:outbox`` in the
same Lua step (handoff/store.py); ``python -m archive`` (archive/archiver.py) writes them to
PostgreSQL (schema: archive/migrations/, docs/data-model.md). It runs in the bridge's environment.
"""
