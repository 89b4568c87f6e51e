"""Prometheus metrics of one server process (served as text at ``/metrics``).

Each app has its own ``CollectorRegistry`` (no process-global state, so tests can build
many apps). What is counted:

- ``crisiscast_webhooks_total{result}``: accepted, duplicate, draft, rejected_401, _413, _415, _422
- ``crisiscast_dispatches_total{source,outcome}``: started, delivered, failed, error
- ``crisiscast_deliveries_total{channel,outcome}``: delivered, failed, cancelled, skipped, in_doubt
- ``crisiscast_retries_total{channel}``: attempts beyond the first
- ``crisiscast_dispatch_duration_seconds{channel}``: per-channel time to finish a dispatch
- ``crisiscast_intake_seconds{kind}``: webhook received → plan persisted (202 sent)
- ``crisiscast_provider_callbacks_total{channel, result}``: a channel's provider callbacks
  (SMS delivery receipts: recorded, duplicate, unknown_sid, rejected)
- ``crisiscast_inflight_dispatches``: dispatches running in the background now
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from crisiscast.delivery import DispatchReport

__all__ = ["CONTENT_TYPE_LATEST", "ServerMetrics"]

_LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0)
_DISPATCH_BUCKETS_S = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class ServerMetrics:
    """The counters, gauges and histograms of one server."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.webhooks = Counter("crisiscast_webhooks", "Webhook requests by result.", ["result"], registry=r)
        self.dispatches = Counter(
            "crisiscast_dispatches", "Dispatches by source and outcome.", ["source", "outcome"], registry=r
        )
        self.deliveries = Counter(
            "crisiscast_deliveries",
            "Deliveries by channel and final outcome.",
            ["channel", "outcome"],
            registry=r,
        )
        self.retries = Counter(
            "crisiscast_retries", "Attempts beyond the first, by channel.", ["channel"], registry=r
        )
        self.dispatch_duration = Histogram(
            "crisiscast_dispatch_duration_seconds",
            "Time for one channel to finish a dispatch.",
            ["channel"],
            buckets=_DISPATCH_BUCKETS_S,
            registry=r,
        )
        self.intake_latency = Histogram(
            "crisiscast_intake_seconds",
            "Webhook received to answer (plan persisted).",
            ["kind"],
            buckets=_LATENCY_BUCKETS_S,
            registry=r,
        )
        self.provider_callbacks = Counter(
            "crisiscast_provider_callbacks",
            "Provider callbacks (delivery receipts …) by channel and result.",
            ["channel", "result"],
            registry=r,
        )
        self.inflight = Gauge("crisiscast_inflight_dispatches", "Dispatches running now.", registry=r)

    def record_report(self, report: DispatchReport, *, source: str) -> None:
        """Count one finished dispatch from its report."""
        self.dispatches.labels(source=source, outcome="delivered" if report.ok else "failed").inc()
        for name, channel in report.channels.items():
            counts = {
                "delivered": channel.delivered,
                "failed": len(channel.failed),
                "cancelled": channel.cancelled,
                "skipped": channel.skipped,
                "in_doubt": channel.in_doubt,
            }
            for outcome, n in counts.items():
                if n:
                    self.deliveries.labels(channel=name, outcome=outcome).inc(n)
            sent = channel.planned - channel.skipped - channel.cancelled
            extra = channel.attempts - max(sent, 0)
            if extra > 0:
                self.retries.labels(channel=name).inc(extra)
            self.dispatch_duration.labels(channel=name).observe(channel.duration_s)

    def render(self) -> bytes:
        return generate_latest(self.registry)
