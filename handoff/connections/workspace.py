"""What agents' and supervisors' sockets share of the workspace: the label set, the canned responses,
and labelling a conversation (docs/bridge-protocol.md, "Labels, dispositions and canned responses").

Supervisors manage the label set and the canned responses (only their socket has those handlers);
agents label the conversations they serve, supervisors any. Every change is announced through Redis
(``{p}:workspace-events``), so every console on every bridge process gets the new set at once.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

from handoff.canned import canned_of, shortcut_of
from handoff.connections.base import Connection
from handoff.connections.fields import conversation_id_of
from handoff.exceptions import MalformedMessage
from handoff.labels import colour_of, label_id_of, name_of, workspace_channel
from handoff.protocol import Envelope

__all__ = ["Workspace"]


class Workspace:
    """The workspace's pushes and handlers for one staff socket; ``agent`` is '' for a supervisor
    (who may label any conversation)."""

    def __init__(self, connection: Connection, agent: str = "", labels_changed: Callable[[], None] = lambda: None) -> None:
        self.connection = connection
        self.bridge = connection.bridge
        self.agent = agent
        self.labels_changed = labels_changed

    async def start(self) -> None:
        """Listens for changes, then sends the label set (and, to a supervisor, the canned responses:
        an agent's socket sends them itself, in its order)."""
        await self.connection.watch(workspace_channel(self.bridge.settings.key_prefix), self._on_change)
        await self.send_labels()
        if not self.agent:
            await self.send_canned()

    async def _on_change(self, payload: Dict[str, Any]) -> None:
        if "labels" in payload:
            await self.send_labels()
            self.labels_changed()
        if "canned" in payload:
            await self.send_canned(changed=True)

    async def send_labels(self) -> None:
        await self.connection.send(Envelope("labels", None, {"items": await self.bridge.labels.items()}))

    async def send_canned(self, changed: bool = False) -> None:
        """``changed``: a supervisor changed them (on connect, the console waits for the conversations after it)."""
        data: Dict[str, Any] = {"items": await self.bridge.canned.items()}
        if changed:
            data["changed"] = True
        await self.connection.send(Envelope("canned", None, data))

    async def label_conversation(self, envelope: Envelope) -> None:
        conversation_id = conversation_id_of(envelope.data)
        label_id = label_id_of(envelope.data)
        on = envelope.data.get("on")
        if not isinstance(on, bool):
            raise MalformedMessage("'on' must be true (put the label on) or false (take it off)")
        labels = await self.bridge.labels.set_on(conversation_id, label_id, on, self.bridge.today()[0], self.agent)
        await self.connection.send(Envelope("ack", envelope.id, {"conversation_id": conversation_id, "labels": labels}))

    # ---- supervisors only ------------------------------------------------------

    async def label_save(self, envelope: Envelope) -> None:
        label_id: Optional[str] = label_id_of(envelope.data) if envelope.data.get("label_id") is not None else None
        saved = await self.bridge.labels.save(label_id, name_of(envelope.data), colour_of(envelope.data))
        await self.connection.send(Envelope("ack", envelope.id, {"label_id": saved}))

    async def label_delete(self, envelope: Envelope) -> None:
        label_id = label_id_of(envelope.data)
        await self.bridge.labels.delete(label_id)
        await self.connection.send(Envelope("ack", envelope.id, {"label_id": label_id}))

    async def canned_save(self, envelope: Envelope) -> None:
        response = canned_of(envelope.data, self.bridge.settings.max_text_characters)
        replaces = shortcut_of(envelope.data, "replaces") if envelope.data.get("replaces") is not None else None
        await self.bridge.canned.save(response, replaces)
        await self.connection.send(Envelope("ack", envelope.id, {"shortcut": response["shortcut"]}))

    async def canned_delete(self, envelope: Envelope) -> None:
        shortcut = shortcut_of(envelope.data)
        await self.bridge.canned.delete(shortcut)
        await self.connection.send(Envelope("ack", envelope.id, {"shortcut": shortcut}))
