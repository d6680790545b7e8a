"""The bridge's HTTP and websocket endpoints, each in its own module; ``handoff.app`` routes to them.

:mod:`~handoff.endpoints.health`, :mod:`~handoff.endpoints.login`, :mod:`~handoff.endpoints.model_server`,
:mod:`~handoff.endpoints.static` (the browser's files) and :mod:`~handoff.endpoints.websockets` on
the public port; :mod:`~handoff.endpoints.errors` gives every error its JSON shape; and
:mod:`~handoff.endpoints.admin` serves ``/metrics`` and ``/ready`` on the loopback-only admin port.
"""
