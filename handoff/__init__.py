"""The handoff bridge: owns every customer conversation and routes it to the
bot (Rasa) or to a human agent, over websockets, with all state in Redis.

Layers: :mod:`handoff.protocol` (the envelope) and :mod:`handoff.machine`
(the conversation state machine) are sans-I/O; :mod:`handoff.store` keeps
conversations, transcripts and the queue in Redis; :mod:`handoff.service`
carries out the machine's effects, with :mod:`handoff.requests` (callbacks
and messages left for agents) and :mod:`handoff.experience` (the dashboard's
abandoned waits and first responses); :mod:`handoff.app` is the Sanic app and
its route table, serving :mod:`handoff.endpoints` and each role's socket in
:mod:`handoff.connections`.
"""
