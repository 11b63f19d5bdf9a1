"""Prometheus metrics of one service (own registry, so several services can live in one process)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from accord.runner import PassResult

if TYPE_CHECKING:
    from accord.service.core import Service


def api_calls(conn: Any) -> int:
    """Requests a connector has sent: HubSpot/Salesforce ``api_calls``, memory apps ``calls``."""
    n = getattr(conn, "api_calls", None)
    if isinstance(n, int):
        return n
    calls = getattr(conn, "calls", None)
    return int(sum(calls.values())) if isinstance(calls, dict) else 0


class _Live(Collector):
    def __init__(self, service: Service) -> None:
        self.service = service

    def collect(self) -> Iterator[Any]:
        calls = CounterMetricFamily("accord_api_calls", "API requests sent per app (retries included)", labels=["app"])
        for name, conn in sorted(self.service.session.connectors.items()):
            calls.add_metric([name], api_calls(conn))
        yield calls
        records = GaugeMetricFamily("accord_records", "Records in the sync index by status", labels=["sync", "status"])
        for name in self.service.slots:
            for status, n in sorted(self.service.store.counts(name).items()):
                records.add_metric([name, status], n)
        yield records


class Metrics:
    def __init__(self, service: Service) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.synced = Counter("accord_records_synced", "Records written (created, updated, archived) per sync and side",
                              ["sync", "side"], registry=r)
        self.failed = Counter("accord_records_failed", "Record writes the app rejected, per sync and side",
                              ["sync", "side"], registry=r)
        self.passes = Counter("accord_passes", "Finished passes per sync and kind", ["sync", "kind"], registry=r)
        self.pass_errors = Counter("accord_pass_errors", "Passes that raised an error", ["sync"], registry=r)
        self.skipped = Counter("accord_jobs_skipped", "Scheduled passes skipped because the previous one was running",
                               ["sync", "kind"], registry=r)
        self.pass_seconds = Histogram("accord_pass_duration_seconds", "Pass durations", ["sync", "kind"], registry=r,
                                      buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 1800, 7200, float("inf")))
        self.queue_depth = Gauge("accord_webhook_queue_depth", "Record ids queued by webhooks, not yet synced", registry=r)
        self.webhooks = Counter("accord_webhook_requests", "Webhook requests by app and outcome", ["app", "outcome"],
                                registry=r)
        self.webhook_events = Counter("accord_webhook_events", "Webhook events by app and fate", ["app", "fate"],
                                      registry=r)
        r.register(_Live(service))

    def observe(self, result: PassResult) -> None:
        k = result.counters
        self.passes.labels(result.sync, result.kind).inc()
        for side in ("left", "right"):
            self.synced.labels(result.sync, side).inc(k.created[side] + k.updated[side] + k.archived[side])
            self.failed.labels(result.sync, side).inc(k.failed[side])

    def render(self) -> bytes:
        return generate_latest(self.registry)
