"""A supervisor's socket (``/ws/supervisor``): the live dashboard (handoff.dashboard, handoff.agent_figures),
reports over a date range from the archive (handoff.reports), assigning a waiting conversation or a request
(a callback or message left: handoff.request_assignment) to an agent, managing the labels and canned responses
(handoff.connections.workspace), and forgetting a customer (handoff.forget)."""

from __future__ import annotations

from datetime import date
from typing import Any, Dict, Mapping, Optional, Tuple

from handoff.assignment import requested_mode
from handoff.coalesce import Coalesced, Periodic
from handoff.connections.base import Connection, Handlers
from handoff.connections.fields import conversation_id_of
from handoff.exceptions import MalformedMessage
from handoff.forget import Forgetter, Stores
from handoff.identity import CONTACT_ID, MAX_ID
from handoff.connections.workspace import Workspace
from handoff.connections.search import SearchHandlers
from handoff.search import Scope
from handoff.protocol import Envelope
from handoff.report_reader import read_figures
from handoff.reports import build_report, requested_range
from handoff.requests import request_id_of
from handoff.routing import ALL_GROUPS
from handoff.service import Bridge

__all__ = ["SupervisorConnection", "forget_target"]


def forget_target(data: Mapping[str, Any]) -> Tuple[str, str]:
    """(contact id, conversation id) of a supervisor's ``forget``: exactly one of them, checked at the edge."""
    contact_id, conversation_id = data.get("contact_id"), data.get("conversation_id")
    if (contact_id is None) == (conversation_id is None):
        raise MalformedMessage("give either 'contact_id' or 'conversation_id'")
    if contact_id is not None:
        if not isinstance(contact_id, str) or not CONTACT_ID.fullmatch(contact_id):
            raise MalformedMessage(f"'contact_id' must be 1-{MAX_ID} letters, digits or . _ : @ + -")
        return contact_id, ""
    return "", conversation_id_of(dict(data))


class SupervisorConnection(SearchHandlers, Connection):
    """The live dashboard: pushed when the day's counters or the queue change."""

    REFRESH_SECONDS = 15.0  # waits grow even when nothing happens
    COALESCE_SECONDS = 0.5  # a burst of changes becomes one push

    def __init__(self, ws: Any, bridge: Bridge, login: str) -> None:
        super().__init__(ws, bridge)
        self.login = login  # who assigns (a request's ``assigned_by``) and who forgets, as audited
        # After a change every supervisor's socket of the process shares one reading (Bridge.dashboard).
        self._changes = Coalesced(lambda: self.push(shared=True), "pushing the dashboard", self.COALESCE_SECONDS)
        self._refresher = Periodic(self._refresh, self.REFRESH_SECONDS, "refreshing the dashboard")
        self.workspace = Workspace(self, labels_changed=self._changes.poke)  # the dashboard names the labels

    def handlers(self) -> Handlers:
        workspace = self.workspace
        return {"dashboard": self.dashboard, "label_save": workspace.label_save, "label_delete": workspace.label_delete,
                "label_conversation": workspace.label_conversation, "canned_save": workspace.canned_save,
                "canned_delete": workspace.canned_delete, "assignment_mode": self.assignment_mode, "assign": self.assign, "report": self.report,
                "forget": self.forget,
                "requests": self.requests, "assign_request": self.assign_request, **self.search_handlers()}

    async def start(self) -> None:
        await self.watch(self.bridge.store.stats_channel, self._on_change)
        await self.watch(self.bridge.store.queue_channel, self._on_change)
        await self.push()
        await self.send_requests()
        await self.workspace.start()
        self._refresher.start()

    async def search_scope(self) -> Scope:
        """A supervisor searches every conversation."""
        return Scope("", (), everything=True)

    async def send_requests(self, request_id: Optional[str] = None) -> None:
        """Every group's requests, as agents' lists show them, to assign the open ones."""
        await self.send(Envelope("requests", request_id, {"items": await self.bridge.requests.items([ALL_GROUPS])}))

    async def requests(self, envelope: Envelope) -> None:
        await self.send_requests(envelope.id)

    async def assign_request(self, envelope: Envelope) -> None:
        """A request to the agent chosen (one of its group, online or not: the request waits for them)."""
        agent = envelope.data.get("agent")
        if not isinstance(agent, str) or not 0 < len(agent) <= 64:
            raise MalformedMessage("'agent' must be an agent's name")
        request = await self.bridge.request_assignments.assign(
            request_id_of(envelope.data), agent, self.login, await self.bridge.agents.profile(agent))
        await self.send(Envelope("ack", envelope.id, {"request_id": request["id"], "assigned_to": request["assigned_to"]}))

    async def push(self, request_id: Optional[str] = None, shared: bool = False) -> None:
        await self.send(Envelope("dashboard", request_id, await self.bridge.dashboard(shared)))

    async def assignment_mode(self, envelope: Envelope) -> None:
        """A skill group's chats claimed by hand (manual) or offered to agents in turn (automatic)."""
        group, mode = requested_mode(envelope.data)
        await self.bridge.assignment.set_mode(group, mode)
        self.bridge.assign_due.set()  # offers follow at once (or are withdrawn)
        await self.send(Envelope("ack", envelope.id, {"group": group, "mode": mode.value}))

    async def assign(self, envelope: Envelope) -> None:
        """A conversation from the waiting list to the agent chosen (Bridge.assign_to says why not)."""
        conversation_id, agent = conversation_id_of(envelope.data), envelope.data.get("agent")
        if not isinstance(agent, str) or not 0 < len(agent) <= 64:
            raise MalformedMessage("'agent' must be an agent's name")
        await self.bridge.assign_to(agent, conversation_id, by=self.login)
        await self.send(Envelope("ack", envelope.id, {"conversation_id": conversation_id, "agent": agent}))

    async def report(self, envelope: Envelope) -> None:
        """The figures of the days ``from`` to ``to`` (the business's dates, HANDOFF_TIMEZONE) from the archive."""
        settings = self.bridge.settings
        span = requested_range(envelope.data, date.fromisoformat(self.bridge.today()[0]), settings.report_max_days)
        tallies, times, groups = await read_figures(self.bridge.archive_reader, span, settings.timezone,
                                                    settings.report_timeout_ms)
        names = {name: profile["display_name"] for name, profile in (await self.bridge.agents.profiles()).items()
                 if "agent" in profile["roles"]}
        await self.send(Envelope("report", envelope.id,
                                 build_report(span, settings.timezone, tallies, times, groups, names)))

    async def forget(self, envelope: Envelope) -> None:
        """A customer (``contact_id``) or an anonymous conversation forgotten in every store, audited with this
        supervisor's name; the console asks them to confirm first."""
        contact_id, conversation_id = forget_target(envelope.data)
        reader = self.bridge.archive_reader
        counts = await Forgetter(self.bridge.store.redis, Stores.from_settings(self.bridge.settings),
                                 reader.writing if reader is not None else None).forget(
            self.login, contact_id, conversation_id)
        await self.send(Envelope("forgotten", envelope.id, {"counts": counts}))

    async def dashboard(self, envelope: Envelope) -> None:
        await self.push(envelope.id)

    async def _on_change(self, payload: Dict[str, Any]) -> None:
        self._changes.poke()
        if "request" in payload or payload.get("message") == "resync":  # left, assigned, answered or done
            await self.send_requests()

    async def _refresh(self) -> bool:
        await self.push()
        return True  # for as long as the socket is open

    async def close(self) -> None:
        self._changes.cancel()
        self._refresher.stop()
        await super().close()
