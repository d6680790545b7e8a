"""Rasa wiring for the support assistant: NLU components, the stuck-detection policy,
the Redis tracker store, the REST channel, evaluation helpers, and the one module
that reaches into Rasa's private API (rasa_compat)."""
