"""A Python client of the handoff bridge's websocket protocol (docs/bridge-protocol.md).

The envelopes (:mod:`handoff_client.envelope`), one transport
(:mod:`handoff_client.transport`: request ids and acks, reconnection with
backoff, resume from ``last_seen``) and one class per
side (:mod:`handoff_client.roles`: :class:`Customer`, :class:`Agent`, the latter
also for the supervisor's and content editors' sockets). The tests, the fault
drills, the benchmarks' load generator and the terminal client
(``python -m handoff_client``) all speak through it.
"""

from handoff_client.envelope import RETRYABLE, Envelope, Request, encode, login_protocols, message_order
from handoff_client.roles import Agent, Customer, LoginRefused, log_in
from handoff_client.transport import NotReceived, Transport

__all__ = ["Agent", "Customer", "Envelope", "LoginRefused", "NotReceived", "RETRYABLE", "Request", "Transport",
           "encode", "log_in", "login_protocols", "message_order"]
