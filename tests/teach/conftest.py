"""A whole teaching stack on its own prefix: a copy of the project, a bridge that
serves the model and the content socket, a Rasa server pulling from it, and the
teaching worker writing into the copy."""

from __future__ import annotations

import json
import uuid
from typing import Any, Dict, Iterator

import pytest

from handoff_client import Agent
from harness.clients import login
from harness.servers import (
    add_agent, copy_project, free_port, publish_model, running_model_server, running_rasa, running_worker,
)
from harness.teach_stack import TeachStack


CONTENT_EDITOR = "carla"


@pytest.fixture(scope="module")
def teach_stack(tmp_path_factory, redis_url, model_path, action_server_url) -> Iterator[TeachStack]:
    prefix = f"teach{uuid.uuid4().hex[:6]}"
    project = copy_project(tmp_path_factory.mktemp("project"))
    publish_model(redis_url, prefix, model_path)
    rasa_port = free_port()
    rasa_url = f"http://127.0.0.1:{rasa_port}"
    with running_model_server(redis_url, prefix, rasa_url=rasa_url, name=f"bridge-{prefix}") as (bridge, server):
        add_agent(redis_url, f"hb{prefix}", CONTENT_EDITOR, "--roles", "content")
        add_agent(redis_url, f"hb{prefix}", "ann")
        with running_rasa(server, redis_url, action_server_url, name=f"rasa-{prefix}", port=rasa_port):
            with running_worker(redis_url, prefix, project, action_server_url, f"worker-{prefix}") as log:
                yield TeachStack(redis_url, prefix, project, bridge, rasa_url, server.token, log)


async def content_editor(stack: TeachStack, name: str = CONTENT_EDITOR) -> Agent:
    """A content editor's /ws/content socket, after the first pushes of every view."""
    token = login(stack.bridge, name).json()["token"]
    client = Agent(stack.bridge, token=token, endpoint="content")
    await client.open()
    for view in ("catalog", "inbox", "job", "models", "audit"):
        await client.expect(view)
    return client


async def request(client: Agent, kind: str, data: Dict[str, Any], timeout: float = 60.0) -> Dict[str, Any]:
    """Sends a request and returns its ack's data; fails with the error reply if there is one."""
    request_id = uuid.uuid4().hex
    await client.send(kind, data, id=request_id)
    reply = await client.next_matching(
        lambda envelope: envelope["id"] == request_id and envelope["type"] in ("ack", "error", kind),
        f"reply to {kind}", timeout)
    if reply["type"] == "error":
        raise AssertionError(f"{kind} failed: {json.dumps(reply['data'])}")
    return reply["data"]
