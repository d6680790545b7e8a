"""``/metrics``: the bridge's numbers in Prometheus' text format, written by prometheus-client.

The numbers live in Redis (shared by every bridge process) and in one process's
counters; they are read when Prometheus asks, so each scrape builds its metric
families from one snapshot instead of keeping gauges up to date on every change.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, Mapping, Optional

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE_LATEST", "exposition"]


# What this process holds for its sockets; none of it may outlive them (handoff.collector).
KEPT = {
    "connection_objects": "Sockets' objects in this process's memory: open ones, and closed ones not yet freed.",
    "hub_channels": "Pub/sub channels this process listens on for its sockets.",
    "customer_conversations": "Conversations with a customer socket open in this process.",
}


class _Snapshot(Collector):
    def __init__(self, now: Mapping[str, Any], handoffs: Mapping[bytes, bytes], events: Mapping[str, int],
                 open_connections: int, requeues: int, abandoned: Mapping[str, int],
                 redis_memory: Mapping[str, int], kept: Mapping[str, int],
                 closing: Mapping[str, Mapping[str, int]], outbox: Mapping[str, int]) -> None:
        self.now, self.handoffs, self.events, self.open_connections = now, handoffs, events, open_connections
        self.requeues, self.abandoned, self.redis_memory, self.kept = requeues, abandoned, redis_memory, kept
        self.closing, self.outbox = closing, outbox

    def collect(self) -> Iterable[Any]:
        if self.outbox:
            # Grows while no archiver writes (PostgreSQL down, archivers stopped); at the cap the oldest go.
            yield GaugeMetricFamily("handoff_outbox_length", "Entries in the archive's outbox not yet trimmed "
                                    "(archived ones are trimmed within seconds).", value=self.outbox["length"])
            yield GaugeMetricFamily("handoff_outbox_max_length", "The outbox's cap (HANDOFF_OUTBOX_MAX_LENGTH).",
                                    value=self.outbox["cap"])
        yield GaugeMetricFamily("handoff_queue_length", "Conversations waiting for an agent.",
                                value=self.now["queue_length"])
        yield GaugeMetricFamily("handoff_queue_oldest_wait_seconds", "How long the oldest queued customer has waited.",
                                value=self.now["oldest_wait_seconds"])
        handoffs = CounterMetricFamily(
            "handoff_handoffs", "Conversations handed to a person, by reason (all processes).", labels=["reason"])
        for reason, handed_over in sorted(self.handoffs.items()):
            handoffs.add_metric([reason.decode()], int(handed_over))
        yield handoffs
        yield CounterMetricFamily(
            "handoff_requeues", "Conversations back in the queue (transferred to a group, agent lost); not handoffs.",
            value=self.requeues)
        abandoned = CounterMetricFamily(
            "handoff_abandoned", "Stays in the queue that ended without an agent, by way (left_request, left_queue, expired, gone).",
            labels=["way"])
        for way, count in sorted(self.abandoned.items()):
            abandoned.add_metric([way], count)
        yield abandoned
        # The dashboard's dispositions and labels, all days (handoff.labels.closing_totals).
        dispositions = CounterMetricFamily(
            "handoff_dispositions", "Conversations agents closed, by the disposition they chose (all processes).",
            labels=["disposition"])
        for disposition, count in sorted(self.closing.get("dispositions", {}).items()):
            dispositions.add_metric([disposition], count)
        yield dispositions
        labelled = CounterMetricFamily(
            "handoff_labels_applied", "Labels put on conversations, by label (those still in the set).", labels=["label"])
        for label, count in sorted(self.closing.get("labels", {}).items()):
            labelled.add_metric([label], count)
        yield labelled
        yield GaugeMetricFamily("handoff_conversations_with_agents", "Conversations an agent is serving now.",
                                value=self.now["conversations_with_agents"])
        events = CounterMetricFamily("handoff_process_events",
                                     "Messages relayed, errors, connections in this process.", labels=["event"])
        for event, count in sorted(self.events.items()):
            events.add_metric([event], count)
        yield events
        yield GaugeMetricFamily("handoff_open_connections", "Open websockets in this process.",
                                value=self.open_connections)
        for name, description in KEPT.items():
            if name in self.kept:
                yield GaugeMetricFamily(f"handoff_{name}", description, value=self.kept[name])
        if self.redis_memory:
            # Alert well before used reaches the limit: at the limit Redis refuses writes (noeviction).
            yield GaugeMetricFamily("handoff_redis_used_memory_bytes", "Memory Redis uses (INFO used_memory).",
                                    value=self.redis_memory["used"])
            yield GaugeMetricFamily("handoff_redis_max_memory_bytes", "Redis's memory limit (maxmemory; 0: none).",
                                    value=self.redis_memory["limit"])


def exposition(now: Dict[str, Any], handoffs: Mapping[bytes, bytes], events: Mapping[str, int],
               open_connections: int, requeues: int, abandoned: Mapping[str, int],
               redis_memory: Optional[Mapping[str, int]] = None, kept: Optional[Mapping[str, int]] = None,
               closing: Optional[Mapping[str, Mapping[str, int]]] = None,
               outbox: Optional[Mapping[str, int]] = None) -> bytes:
    """``now`` is :meth:`handoff.service.Bridge.right_now`; ``handoffs`` the Redis hash of handoffs by
    reason; ``events`` this process's counters; ``requeues`` and ``abandoned`` (by way) from
    :meth:`handoff.experience.Experience.totals`; ``redis_memory`` from handoff.presence.redis_memory;
    ``kept`` what this process holds for its sockets, by the names of KEPT; ``closing`` the conversations
    closed by disposition and the labels put on them (handoff.labels.closing_totals); ``outbox`` the archive's
    outbox's length and cap (None: no archive)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(now, handoffs, events, open_connections, requeues, abandoned, redis_memory or {},
                                kept or {}, closing or {}, outbox or {}))
    return generate_latest(registry)
