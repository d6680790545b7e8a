"""Custom actions of the support assistant, grouped by concern.

``rasa run actions`` imports this package; every module listed here registers
its actions with rasa_sdk.
"""

from actions import callback, handoff  # noqa: F401  (registers the actions)
