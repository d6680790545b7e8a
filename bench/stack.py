"""The whole system on free ports for a benchmark: Redis, the action server,
bridge processes and a Rasa server pulling the newest model from the first
bridge, as `make run` starts them (tests/servers.py starts each process).

Limits meant for the public internet (connections per address) are lifted,
since every benchmark client comes from 127.0.0.1; everything else is the
shipped configuration unless a benchmark says otherwise.
"""

from __future__ import annotations

import secrets
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional

from tests.servers import (
    AGENT_PASSWORD, BridgeServer, ModelServer, RedisServer, add_agent, free_port, newest_model, publish_model,
    running_action_server, running_rasa, running_redis, started_bridge,
)

__all__ = ["Stack", "running_stack", "AGENT_PASSWORD"]

BENCH_LIMITS = {"HANDOFF_MAX_CONNECTIONS_PER_IP": "1000000"}


@dataclass
class Stack:
    redis: RedisServer
    prefix: str  # the bridges' Redis key prefix
    rasa_url: str  # empty when started without Rasa
    action_server_url: str  # empty when started without Rasa
    bridges: List[BridgeServer] = field(default_factory=list)

    def add_agent(self, name: str, *options: str) -> None:
        """An agent account (password AGENT_PASSWORD), e.g. add_agent("ann", "--max-chats", "500")."""
        add_agent(self.redis.url, self.prefix, name, *options)


@contextmanager
def running_stack(bridges: int = 1, rasa: bool = True, redis_data_dir: Optional[Path] = None,
                  **bridge_env: str) -> Iterator[Stack]:
    """``bridges`` bridge processes sharing one Redis; with ``rasa``, the action
    server and a Rasa server serving the newest trained model."""
    prefix = f"bench{secrets.token_hex(3)}"
    teach_prefix = f"teach{prefix}"
    model_token = secrets.token_urlsafe(16)
    rasa_port = free_port()
    env: Dict[str, str] = {**BENCH_LIMITS, "MODEL_SERVER_TOKEN": model_token, "TEACH_KEY_PREFIX": teach_prefix,
                           **bridge_env}
    with ExitStack() as stack:
        redis = stack.enter_context(running_redis("bench-redis", redis_data_dir))
        rasa_url = f"http://127.0.0.1:{rasa_port}"
        started = [stack.enter_context(started_bridge(redis.url, rasa_url, f"bench-bridge-{n}", prefix, **env))
                   for n in range(bridges)]
        action_server = ""
        if rasa:
            publish_model(redis.url, teach_prefix, newest_model())
            action_server = stack.enter_context(running_action_server("bench-actions"))
            model_server = ModelServer(f"http://{started[0].address}/api/models/current", model_token, teach_prefix)
            stack.enter_context(running_rasa(model_server, redis.url, action_server, "bench-rasa", port=rasa_port))
        yield Stack(redis, prefix, rasa_url if rasa else "", action_server, started)
