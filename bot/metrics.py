"""What operators measure, as Prometheus metrics on a registry the caller owns (never the global one, so
two bots or two tests in one process never share counters), plus each loop's last round for /healthz.

The sender (bot/delivery.py) counts messages; the runtime observes timer lateness and handled updates;
bot/ops.py serves it all.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# a reply or cue should reach the user within a second or two; past a minute it is history
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.updates = Counter(
            "stretchbot_updates_handled", "Inputs (messages, buttons) handled", ["platform"], registry=self.registry
        )
        self.sent = Counter(
            "stretchbot_messages_sent", "Outgoing messages delivered", ["platform", "kind"], registry=self.registry
        )
        self.failed = Counter(
            "stretchbot_message_failures",
            "Failed send attempts, by what happened",
            ["platform", "error"],
            registry=self.registry,
        )  # error: retry | maybe_sent | gone | bug
        self.dead_lettered = Counter(
            "stretchbot_messages_dead_lettered", "Messages given up on", ["platform"], registry=self.registry
        )
        self.coalesced = Counter(
            "stretchbot_messages_coalesced",
            "Queued messages dropped by flood control",
            ["platform"],
            registry=self.registry,
        )
        self.outbox_depth = Gauge("stretchbot_outbox_depth", "Outgoing messages not yet sent", registry=self.registry)
        self.outbox_oldest = Gauge(
            "stretchbot_outbox_oldest_seconds", "Age of the oldest unsent message", registry=self.registry
        )
        self.dead_letters = Gauge("stretchbot_dead_letters", "Messages kept in dead_letters", registry=self.registry)
        self.send_seconds = Histogram(
            "stretchbot_send_seconds",
            "Duration of one platform send call",
            ["platform"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.delivery_seconds = Histogram(
            "stretchbot_delivery_seconds",
            "From the commit of a message to its send",
            ["platform"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.timer_lateness = Histogram(
            "stretchbot_timer_lateness_seconds",
            "How late a timer fired after its due",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.last_round = Gauge(
            "stretchbot_loop_last_round_timestamp_seconds",
            "Wall-clock time of each background loop's last round",
            ["loop"],
            registry=self.registry,
        )
        self._beats: dict[str, float] = {}  # loop -> time.monotonic() of its last round

    def beat(self, loop: str) -> None:
        """A background loop ("sender", "scheduler") finished a round: it is alive."""
        self._beats[loop] = time.monotonic()
        self.last_round.labels(loop).set(time.time())

    def round_ages(self) -> dict[str, float]:
        """Seconds since each loop's last round."""
        now = time.monotonic()
        return {loop: round(now - at, 3) for loop, at in sorted(self._beats.items())}

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
