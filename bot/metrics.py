"""Prometheus metrics at GET /metrics: events counted as they happen, the rest read from the store."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily


class Metrics:
    def __init__(self, store) -> None:
        self.registry = CollectorRegistry()
        self.gateway_seconds = Histogram(
            "mms_gateway_call_seconds",
            "Cellcast calls: time to the answer, by call kind (send or read)",
            ["kind"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.gateway_errors = Counter(
            "mms_gateway_errors_total",
            "Cellcast calls that did not succeed, by kind of error",
            ["kind"],
            registry=self.registry,
        )
        self.slack_errors = Counter(
            "mms_slack_api_errors_total",
            "Slack Web API calls refused or failed, by method and error",
            ["method", "error"],
            registry=self.registry,
        )
        self.reports_delivered = Counter(
            "mms_reports_delivered_total", "Reports Slack accepted, by kind", ["kind"], registry=self.registry
        )
        self.sync_rounds = Counter(
            "mms_sync_rounds_total",
            "Rounds of the Cellcast sync this process finished (opt-outs, replies, reports)",
            registry=self.registry,
        )
        self.registry.register(_StoreCollector(store))

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _StoreCollector:
    """Counts that live in the database (so they are right across restarts and processes)."""

    def __init__(self, store) -> None:
        self._store = store

    def collect(self):
        """From the sends' own counters, kept as batches finish: no scan of the per-number rows."""
        counts = self._store.state_counts()
        for name, help_text, label, values in (
            ("mms_sends", "Sends recorded, by state", "state", counts["sends"]),
            ("mms_batches", "Batches recorded, by state", "state", counts["batches"]),
            ("mms_numbers", "Numbers of sends not yet purged, by outcome", "outcome", counts["numbers"]),
        ):
            family = GaugeMetricFamily(name, help_text, labels=[label])
            for value, n in values.items():
                family.add_metric([value], n)
            yield family
        yield GaugeMetricFamily(
            "mms_reports_due", "Reports waiting for Slack to accept them", value=self._store.reports_due()
        )
        yield GaugeMetricFamily(
            "mms_suppressed_numbers", "Numbers on the suppression list", value=self._store.suppression_count()
        )
