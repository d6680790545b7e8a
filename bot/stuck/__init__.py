"""Loop and stuck detection: decide when the bot should hand over to a person.

The detection is sans-I/O: :mod:`bot.stuck.conversation` turns Rasa events
into plain :class:`Turn` records, :mod:`bot.stuck.detector` checks them
against the configured triggers and returns a :class:`Verdict` (which
trigger fired and the evidence). :mod:`bot.stuck.policy` is the thin Rasa
policy that runs it on every customer message.
"""

from bot.stuck.conversation import Conversation, Earlier, Turn, conversation_since_last_handoff
from bot.stuck.detector import TRIGGERS, DetectorConfig, StuckDetector, Verdict

__all__ = ["TRIGGERS", "Conversation", "DetectorConfig", "Earlier", "StuckDetector", "Turn", "Verdict",
           "conversation_since_last_handoff"]
