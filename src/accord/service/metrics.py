"""Prometheus metrics of one service (own registry, so several services can live in one process).

The live values are read through two callables, not from the service object itself: the
service (accord.service.core) owns its Metrics, so this module must not know that class.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from accord.connectors.base import Connector
from accord.runner import PassResult

Connectors = Callable[[], Mapping[str, Connector]]  # the service's open connectors by app
RecordCounts = Callable[[], Iterable[tuple[str, Mapping[str, int]]]]  # (sync, records by status) per sync


class _Live(Collector):
    def __init__(self, connectors: Connectors, record_counts: RecordCounts) -> None:
        self.connectors = connectors
        self.record_counts = record_counts

    def collect(self) -> Iterator[Any]:
        calls = CounterMetricFamily("accord_api_calls", "API requests sent per app (retries included)", labels=["app"])
        for name, conn in sorted(self.connectors().items()):
            calls.add_metric([name], conn.counters().api_calls)
        yield calls
        records = GaugeMetricFamily("accord_records", "Records in the sync index by status", labels=["sync", "status"])
        for name, counts in self.record_counts():
            for status, n in sorted(counts.items()):
                records.add_metric([name, status], n)
        yield records


class Metrics:
    def __init__(self, connectors: Connectors, record_counts: RecordCounts) -> None:
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
        r.register(_Live(connectors, record_counts))

    def observe(self, result: PassResult) -> None:
        k = result.counters
        self.passes.labels(result.sync, result.kind).inc()
        for side in ("left", "right"):
            self.synced.labels(result.sync, side).inc(k.created[side] + k.updated[side] + k.archived[side])
            self.failed.labels(result.sync, side).inc(k.failed[side])

    def render(self) -> bytes:
        return generate_latest(self.registry)
