"""Rasa wiring for the support assistant: NLU components and (later) policies."""
