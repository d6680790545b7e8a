"""Search on the staff sockets (docs/bridge-protocol.md "Search"): ``search`` finds archived conversations,
``search_open`` opens one whole, read-only (handoff.archive_search, handoff.search): one the reader may not
open (another skill group's, or ``via`` a conversation neither of the same customer nor following it) is ``not_found``, as one not
archived is, so that ids cannot be probed.

A mixin of the agent's and the supervisor's connections; each says whose conversations its reader may
search (:meth:`search_scope`). Searches have their own, slower rate limit (each is a database query).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Optional

from handoff.archive_reader import Row
from handoff.archive_search import ArchiveSearch
from handoff.connections.base import Connection, Handlers, TokenBucket
from handoff.connections.fields import conversation_id_of
from handoff.exceptions import ArchiveUnavailable, ConversationNotFound, MalformedMessage, RateLimited
from handoff.protocol import Envelope
from handoff.search import Scope, search_request

__all__ = ["SearchHandlers"]


class SearchHandlers(Connection):
    _search_bucket: Optional[TokenBucket] = None

    def search_handlers(self) -> Handlers:
        return {"search": self.search, "search_open": self.search_open}

    async def search_scope(self) -> Scope:
        """Whose conversations this socket's reader may search and open."""
        raise NotImplementedError

    def _searcher(self, envelope: Envelope) -> ArchiveSearch:
        if self._search_bucket is None:
            self._search_bucket = TokenBucket(self.bridge.settings.search_per_second, self.bridge.settings.search_burst)
        if not self._search_bucket.take():
            raise RateLimited("too many searches; wait a moment", envelope.id)
        if self.bridge.archive is None:
            raise ArchiveUnavailable("search needs the archive: this bridge has no DATABASE_URL", code="archive_off")
        return self.bridge.archive

    async def search(self, envelope: Envelope) -> None:
        request = search_request(envelope.data)
        searcher = self._searcher(envelope)
        names = await self._display_names()
        if request.agent:  # staff know colleagues by the name customers see: either finds them
            request = dataclasses.replace(request, agent=login_named(request.agent, names))
        found = await searcher.search(request, await self.search_scope())
        for result in found["results"]:
            result["agent_name"] = names.get(result["agent"] or "", result["agent"] or "")
            for line in result["lines"]:
                line["author_name"] = names.get(line["author"] or "", line["author"] or "")
        self.bridge.metrics["searches"] += 1
        await self.send(Envelope("search_results", envelope.id, found))

    async def search_open(self, envelope: Envelope) -> None:
        """A conversation found (or, ``via`` a conversation the agent may read, another of its contact's or the
        closed one it follows)."""
        conversation_id = conversation_id_of(envelope.data)
        via: Any = envelope.data.get("via")
        searcher = self._searcher(envelope)
        if via is None:
            row = await searcher.in_scope(conversation_id, await self.search_scope())
        else:
            row = await self._through_related(searcher, conversation_id, via)
        opened = await searcher.opened(row)
        names = await self._display_names()
        opened["agent_name"] = names.get(opened["agent"] or "", opened["agent"] or "")
        for message in opened["messages"]:
            message["author_name"] = names.get(message["author"] or "", message["author"] or "")
        await self.send(Envelope("search_conversation", envelope.id, opened))

    async def _display_names(self) -> Dict[str, str]:
        """Each account's login name -> the name customers and colleagues see."""
        return {name: profile["display_name"] for name, profile in (await self.bridge.agents.profiles()).items()}

    async def _through_related(self, searcher: ArchiveSearch, conversation_id: str, via: Any) -> Row:
        """Another conversation of ``via``'s contact, or the closed one ``via`` follows (handoff.earlier), for
        whoever may read ``via``."""
        if not isinstance(via, str) or not 0 < len(via) <= 64:
            raise MalformedMessage("'via' must be the id of a conversation of the same customer")
        scope = await self.search_scope()
        if not scope.everything:
            await self.bridge.notes.require_reader(scope.agent, via)
        contact = await self.bridge.contacts.contact_of(via)
        row = await searcher.in_scope(conversation_id, Scope(scope.agent, (), everything=True))
        same_contact = contact is not None and row["contact_id"] == contact
        if not same_contact and await self.bridge.earlier.followed(via) != conversation_id:
            # Answered as one not archived: no id is probed.
            raise ConversationNotFound(f"no conversation {conversation_id} in the archive")
        return row


def login_named(typed: str, display_names: Dict[str, str]) -> str:
    """The login an agent filter means: a login as typed, else the account whose display name it is (any
    case), else the one account whose display name begins with it ("Amy" for "Amy Pond"); else the text
    itself (an agent removed since, known only by login in the archive)."""
    if typed in display_names:
        return typed
    wanted = typed.casefold()
    exact = [login for login, shown in display_names.items() if shown.casefold() == wanted]
    begun = [login for login, shown in display_names.items() if shown.casefold().startswith(wanted)]
    return exact[0] if exact else begun[0] if len(begun) == 1 else typed
