"""go-grpc-prometheus' client metrics for the client interceptors (``client_interceptors(..., metrics=registry)``).

``grpc_client_started_total`` and ``grpc_client_handled_total`` (counters) and ``grpc_client_handling_seconds``
(histogram, Prometheus' default buckets), labelled ``grpc_type``, ``grpc_service``, ``grpc_method`` (and
``grpc_code``, spelled as Go does: ``OK``, ``NotFound``, ``Canceled``) as go-grpc-prometheus labels them, so
its dashboards work unchanged. A call the interceptor refuses before sending (pre-send validation, open
circuit) counts as started and handled with the code it raised. The counts are kept as the server's are
(``metrics.py``), one collector per registry, so several channels (sync and aio) may share one.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import grpc

from grpc_errgen.metrics import GrpcMetrics, MethodMetrics
from grpc_errgen.policy import RpcKind

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry


class ClientMetrics:
    """The client metrics on one registry (use ``ClientMetrics.on(registry)``)."""

    def __init__(self, metrics: GrpcMetrics) -> None:
        self._metrics = metrics

    @classmethod
    def on(cls, registry: CollectorRegistry) -> ClientMetrics:
        """The client metrics on ``registry``, registered the first time it is seen and reused after."""
        return cls(GrpcMetrics.on(registry, "client"))

    def start(self, method: str, kind: RpcKind) -> ClientObservation:
        """Count one call of ``method`` (``/pkg.Service/Method``) as started; finish it with its code."""
        counts = self._metrics.method(method, kind)
        counts.start()
        return ClientObservation(counts)


class ClientObservation:
    """One call's metrics: ``finish(code)`` records how it ended (the first report wins)."""

    __slots__ = ("_counts", "_done", "_started")

    def __init__(self, counts: MethodMetrics) -> None:
        self._counts = counts
        self._started = time.perf_counter()
        self._done = False

    def finish(self, code: grpc.StatusCode | None) -> None:
        if self._done:
            return
        self._done = True
        self._counts.finish(
            code or grpc.StatusCode.UNKNOWN, time.perf_counter() - self._started
        )


__all__ = ["ClientMetrics", "ClientObservation"]
