"""The whole system on free ports for a benchmark: Redis, the action server,
bridge processes and a Rasa server pulling the newest model from the first
bridge, as `make run` starts them (harness/servers.py starts each process).

Where it differs from `make run`: the flood caps meant for the public
internet (connections, new conversations and queue entries per address, and
new conversations and queue entries per 10 minutes overall) are lifted, since
every benchmark client comes from 127.0.0.1 and a benchmark opens tens of
thousands of conversations (the abuse drill measures the caps themselves); Redis keeps no append-only file (`make run`'s fsyncs it every
second); and the test servers' settings hold (harness/servers.py: an agent's
grace period of 2 s, one test skill group, trackers kept an hour). Everything
else is the shipped configuration unless a benchmark says otherwise. The
servers' logs go to TEST_LOG_DIR (.run/test-logs).
"""

from __future__ import annotations

import secrets
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional

from harness.servers import (
    TEST_ADDRESS_LIMITS, ActionServer, BridgeServer, ModelServer, RasaServer, RedisServer, add_agent,
    free_port, newest_model, publish_model, running_redis, started, started_bridge,
)

__all__ = ["BENCH_LIMITS", "Stack", "running_stack"]

BENCH_LIMITS = {**TEST_ADDRESS_LIMITS, "HANDOFF_MAX_CONNECTIONS_PER_IP": "1000000",
                "HANDOFF_MAX_NEW_CONVERSATIONS": "1000000", "HANDOFF_MAX_QUEUE_ENTRIES": "1000000",
                "HANDOFF_MAX_STAFF_CONNECTIONS_PER_IP": "1000000"}


@dataclass
class Stack:
    redis: RedisServer
    prefix: str  # the bridges' Redis key prefix
    teach_prefix: str  # the teaching loop's (models, inbox)
    model_token: str  # what Rasa presents to the bridge for the model
    bridges: List[BridgeServer] = field(default_factory=list)
    rasa: Optional[RasaServer] = None  # None when started without Rasa
    actions: Optional[ActionServer] = None  # None when started without Rasa

    @property
    def rasa_url(self) -> str:
        """Empty when started without Rasa."""
        return self.rasa.url if self.rasa else ""

    @property
    def action_server_url(self) -> str:
        """Empty when started without Rasa."""
        return self.actions.url if self.actions else ""

    def add_agent(self, name: str, *options: str) -> None:
        """An agent account (password AGENT_PASSWORD), e.g. add_agent("ann", "--max-chats", "500")."""
        add_agent(self.redis.url, self.prefix, name, *options)


@contextmanager
def running_stack(bridges: int = 1, rasa: bool = True, **bridge_env: str) -> Iterator[Stack]:
    """``bridges`` bridge processes sharing one Redis; with ``rasa``, the action
    server and a Rasa server serving the newest trained model."""
    prefix = f"bench{secrets.token_hex(3)}"
    teach_prefix = f"teach{prefix}"
    model_token = secrets.token_urlsafe(16)
    rasa_port = free_port()
    env: Dict[str, str] = {**BENCH_LIMITS, "MODEL_SERVER_TOKEN": model_token, "TEACH_KEY_PREFIX": teach_prefix,
                           **bridge_env}
    with ExitStack() as stack:
        redis = stack.enter_context(running_redis("bench-redis"))
        rasa_url = f"http://127.0.0.1:{rasa_port}"
        started_bridges = [stack.enter_context(started_bridge(redis.url, rasa_url, f"bench-bridge-{n}", prefix, **env))
                           for n in range(bridges)]
        running = Stack(redis, prefix, teach_prefix, model_token, started_bridges)
        if rasa:
            publish_model(redis.url, teach_prefix, newest_model())
            running.actions = stack.enter_context(started(ActionServer("bench-actions")))
            model_server = ModelServer(f"http://{started_bridges[0].address}/api/models/current", model_token,
                                       teach_prefix)
            running.rasa = stack.enter_context(started(RasaServer(model_server, redis.url, running.actions.url,
                                                                  "bench-rasa", port=rasa_port)))
        yield running
