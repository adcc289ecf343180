"""go-grpc-prometheus' client metrics for the client interceptors (``client_interceptors(..., metrics=registry)``).

``grpc_client_started_total`` and ``grpc_client_handled_total`` (counters) and ``grpc_client_handling_seconds``
(histogram, Prometheus' default buckets), labelled ``grpc_type``, ``grpc_service``, ``grpc_method`` (and
``grpc_code``, spelled as Go does: ``OK``, ``NotFound``, ``Canceled``) as go-grpc-prometheus labels them, so
its dashboards work unchanged. A call the interceptor refuses before sending (pre-send validation, open
circuit) counts as started and handled with the code it raised. Collectors are made once per registry, so
several channels (sync and aio) may share one.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

import grpc

from grpc_errgen.observe import (
    GO_CODE_NAMES,
    GRPC_TYPES,
    HANDLING_SECONDS_BUCKETS,
    _import_prometheus_client,
)
from grpc_errgen.policy import RpcKind

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry


class ClientMetrics:
    """The three client collectors on one registry (use ``ClientMetrics.on(registry)``)."""

    _by_registry: weakref.WeakKeyDictionary[CollectorRegistry, ClientMetrics] = (
        weakref.WeakKeyDictionary()
    )
    _lock = threading.Lock()

    def __init__(self, registry: CollectorRegistry) -> None:
        prometheus_client = _import_prometheus_client()
        labels = ("grpc_type", "grpc_service", "grpc_method")
        self.started = prometheus_client.Counter(
            "grpc_client_started_total",
            "Total number of RPCs started on the client.",
            labels,
            registry=registry,
        )
        self.handled = prometheus_client.Counter(
            "grpc_client_handled_total",
            "Total number of RPCs completed by the client, regardless of success or failure.",
            (*labels, "grpc_code"),
            registry=registry,
        )
        self.handling_seconds = prometheus_client.Histogram(
            "grpc_client_handling_seconds",
            "Histogram of response latency (seconds) of the gRPC until it is finished by the application.",
            labels,
            registry=registry,
            buckets=HANDLING_SECONDS_BUCKETS,
        )
        self._methods: dict[tuple[str, RpcKind], _Method] = {}

    @classmethod
    def on(cls, registry: CollectorRegistry) -> ClientMetrics:
        """The collectors on ``registry``, registered the first time it is seen and reused after."""
        with cls._lock:
            found = cls._by_registry.get(registry)
            if found is None:
                found = cls._by_registry[registry] = cls(registry)
            return found

    def start(self, method: str, kind: RpcKind) -> ClientObservation:
        """Count one call of ``method`` (``/pkg.Service/Method``) as started; finish it with its code."""
        found = self._methods.get((method, kind))
        if found is None:
            found = self._methods[(method, kind)] = _Method(self, method, kind)
        found.started.inc()
        return ClientObservation(found)


class _Method:
    """The labelled children of one method and kind, looked up once."""

    __slots__ = ("handled", "handling_seconds", "labels", "metrics", "started")

    def __init__(self, metrics: ClientMetrics, method: str, kind: RpcKind) -> None:
        service, _, name = method.lstrip("/").rpartition("/")
        self.metrics = metrics
        self.labels = (GRPC_TYPES[kind], service, name)
        self.started: Any = metrics.started.labels(*self.labels)
        self.handling_seconds: Any = metrics.handling_seconds.labels(*self.labels)
        self.handled: dict[grpc.StatusCode, Any] = {}

    def handled_child(self, code: grpc.StatusCode) -> Any:
        child = self.handled.get(code)
        if child is None:
            child = self.handled[code] = self.metrics.handled.labels(
                *self.labels, GO_CODE_NAMES[code]
            )
        return child


class ClientObservation:
    """One call's metrics: ``finish(code)`` records how it ended (the first report wins)."""

    __slots__ = ("_done", "_method", "_started")

    def __init__(self, method: _Method) -> None:
        self._method = method
        self._started = time.perf_counter()
        self._done = False

    def finish(self, code: grpc.StatusCode | None) -> None:
        if self._done:
            return
        self._done = True
        self._method.handled_child(code or grpc.StatusCode.UNKNOWN).inc()
        self._method.handling_seconds.observe(time.perf_counter() - self._started)


__all__ = ["ClientMetrics", "ClientObservation"]
