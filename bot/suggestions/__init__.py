"""Suggested replies for agents: the bot's FAQ answers ranked by the NLU, and replies agents gave
before to similar customer messages (docs/architecture.md, "Suggested replies")."""
