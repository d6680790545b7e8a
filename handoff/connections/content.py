"""A content editor's socket (``/ws/content``): the Teach view (docs/teaching.md)."""

from __future__ import annotations

from typing import Any, Awaitable, Dict, Optional, Set

from teaching import commands as teach_commands
from teaching.errors import InvalidRequest, TeachError
from teaching.store import TeachStore
from handoff.coalesce import Coalesced
from handoff.connections.base import Connection, Handlers
from handoff.connections.fields import conversation_id_of
from handoff.exceptions import MalformedMessage, TeachingFailed
from handoff.protocol import Envelope
from handoff.service import Bridge

__all__ = ["ContentConnection", "TEACH_VIEWS"]


# What the Teach view shows; each is pushed again when the worker says it changed.
TEACH_VIEWS = ("catalog", "inbox", "job", "models", "audit")


def _teach_request(envelope: Envelope) -> Dict[str, Any]:
    """The request's fields, checked at the edge (the worker checks the meaning)."""
    try:
        return teach_commands.check(envelope.type, envelope.data)
    except InvalidRequest as error:
        raise MalformedMessage(str(error)) from None


class ContentConnection(Connection):
    """The content staff's Teach view: inbox, labelling, training, models and audit trail.

    Labelling and training go to the one teaching worker (teaching.worker.worker)
    through Redis and are acknowledged when it has carried them out; deploy and
    rollback are Redis operations any bridge process can do. Whatever changes,
    the worker or the store says so on one channel, and each open view is
    pushed the parts that changed.
    """

    COALESCE_SECONDS = 0.2

    def __init__(self, ws: Any, bridge: Bridge, teach: TeachStore, name: str) -> None:
        super().__init__(ws, bridge)
        self.teach = teach
        self.name = name
        self._changed: Set[str] = set()
        self._changes = Coalesced(self._push_changed, "pushing the Teach view", self.COALESCE_SECONDS)

    def handlers(self) -> Handlers:
        handlers: Handlers = {kind: self.command for kind in teach_commands.WORKER_COMMANDS}
        handlers.update({
            "conversation": self.conversation, "model": self.model, "deploy": self.deploy,
            "rollback": self.rollback, "audit": self.audit,
        })
        return handlers

    async def start(self) -> None:
        await self.watch(self.teach.events_channel, self._on_change)
        for view in TEACH_VIEWS:
            await self.push(view)

    async def push(self, view: str, request_id: Optional[str] = None) -> None:
        await self.send(Envelope(view, request_id, await self._view(view)))

    async def _view(self, view: str) -> Dict[str, Any]:
        if view == "catalog":
            return await self.teach.catalog()
        if view == "inbox":
            return await self.teach.groups()
        if view == "job":
            return {"job": await self.teach.job()}
        if view == "models":
            models = await self.teach.models()
            for model in models:  # the list carries each report's headline; "model" sends one in full
                model["report"] = _report_summary(model["report"])
            return {"current": await self.teach.current(), "history": await self.teach.deployment_history(),
                    "models": models}
        return {"entries": await self.teach.recent_audit(100)}

    async def _on_change(self, payload: Dict[str, Any]) -> None:
        view = payload.get("type")
        self._changed.update([view] if view in TEACH_VIEWS else TEACH_VIEWS)  # "resync": everything
        self._changes.poke()

    async def _push_changed(self) -> None:
        changed, self._changed = self._changed, set()
        for view in TEACH_VIEWS:
            if view in changed:
                await self.push(view)

    async def conversation(self, envelope: Envelope) -> None:
        review = await self.bridge.store.review(conversation_id_of(envelope.data))
        await self.send(Envelope("conversation", envelope.id, review))

    async def model(self, envelope: Envelope) -> None:
        model_id = _teach_request(envelope)["model_id"]
        await self.send(Envelope("model", envelope.id, await self._teaching(self.teach.model(model_id))))

    async def command(self, envelope: Envelope) -> None:
        """label, new_faq, new_intent, out_of_scope, skip and train: carried out by the worker."""
        data = _teach_request(envelope)
        result = await self._teaching(self.teach.command(envelope.type, data, self.name))
        await self.send(Envelope("ack", envelope.id, result))

    async def deploy(self, envelope: Envelope) -> None:
        request = _teach_request(envelope)
        await self._teaching(self.teach.deploy(request["model_id"], self.name, override=request.get("override", False),
                                               reason=request.get("reason", "")))
        await self.send(Envelope("ack", envelope.id, {"model_id": request["model_id"]}))

    async def rollback(self, envelope: Envelope) -> None:
        _teach_request(envelope)
        model_id = await self._teaching(self.teach.rollback(self.name))
        await self.send(Envelope("ack", envelope.id, {"model_id": model_id}))

    async def audit(self, envelope: Envelope) -> None:
        _teach_request(envelope)
        await self.push("audit", envelope.id)

    @staticmethod
    async def _teaching(request: Awaitable[Any]) -> Any:
        """The teaching loop's errors become the bridge's structured replies."""
        try:
            return await request
        except TeachError as error:
            raise TeachingFailed(str(error), code=error.code) from None

    async def close(self) -> None:
        self._changes.cancel()
        await super().close()


def _report_summary(report: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    if not report:
        return None
    corpus = report.get("stuck_corpus") or {}
    return {"current": report.get("current"), "candidate": report.get("candidate"), "verdict": report.get("verdict"),
            "reasons": report.get("reasons", []), "stuck_corpus_passed": corpus.get("passed")}
