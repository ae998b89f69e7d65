"""Prometheus metrics of one serving process (its own registry, so tests can run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        labels = ("endpoint", "version", "role")
        self.requests = Counter("serving_predictions", "Instances scored", labels, registry=self.registry)
        self.errors = Counter("serving_errors", "Requests answered with an error", ("endpoint", "status"),
                              registry=self.registry)
        self.latency = Histogram("serving_predict_seconds", "Time to encode and score one request's instances",
                                 labels, buckets=LATENCY_BUCKETS, registry=self.registry)
        self.load_seconds = Gauge("serving_model_load_seconds", "Seconds the version took to load",
                                  ("model", "version"), registry=self.registry)
        self.load_failures = Counter("serving_model_load_failures", "Versions that failed to load",
                                     ("endpoint",), registry=self.registry)
        self.log_queued = Counter("serving_prediction_log_queued", "Prediction log entries queued",
                                  registry=self.registry)
        self.log_written = Counter("serving_prediction_log_written", "Prediction log entries written to Redis",
                                   registry=self.registry)
        self.log_lost = Counter("serving_prediction_log_lost",
                                "Prediction log entries dropped (queue full or Redis down)", registry=self.registry)
        self.shadow_skipped = Counter("serving_shadow_skipped", "Shadow scorings skipped (queue full)",
                                      registry=self.registry)
        self.shadow_failures = Counter("serving_shadow_failures", "Shadow scorings that raised",
                                       registry=self.registry)
        self._children: dict[tuple, tuple] = {}

    def for_version(self, endpoint: str, version: int, role: str):
        """(requests counter, latency histogram) children, cached: ``labels()`` is slow."""
        key = (endpoint, version, role)
        found = self._children.get(key)
        if found is None:
            labels = (endpoint, str(version), role)
            found = self._children[key] = (self.requests.labels(*labels), self.latency.labels(*labels))
        return found

    def render(self) -> bytes:
        return generate_latest(self.registry)
