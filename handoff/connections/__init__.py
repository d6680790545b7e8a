"""One websocket connection per role, each with its table of message handlers.

:mod:`~handoff.connections.base` has what they share (parsing, limits, in-order delivery, the
serving loop); :mod:`~handoff.connections.customer`, :mod:`~handoff.connections.agent`,
:mod:`~handoff.connections.supervisor` and :mod:`~handoff.connections.content` each serve one role.
"""

from handoff.connections.agent import AgentConnection
from handoff.connections.base import Connection
from handoff.connections.content import ContentConnection
from handoff.connections.customer import CustomerConnection
from handoff.connections.supervisor import SupervisorConnection

__all__ = ["AgentConnection", "Connection", "ContentConnection", "CustomerConnection", "SupervisorConnection"]
