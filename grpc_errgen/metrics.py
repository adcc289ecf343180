"""go-grpc-prometheus' metrics, for the server chain (``observe.py``) and the client interceptors.

The names, labels, ``grpc_code`` spellings (``OK``, ``NotFound``, ``Canceled``...) and histogram buckets are
go-grpc-prometheus', so its Grafana dashboards work unchanged:

- server: ``grpc_server_started_total``, ``grpc_server_handled_total`` (+ ``grpc_code``),
  ``grpc_server_handling_seconds`` (histogram), ``grpc_server_msg_received_total``, ``grpc_server_msg_sent_total``;
- client: ``grpc_client_started_total``, ``grpc_client_handled_total``, ``grpc_client_handling_seconds``.

**How they are kept.** Each is a ``prometheus_client`` custom collector (``registry.register``, the library's
documented extension point), not a set of ``Counter``/``Histogram`` objects: a call counts into plain integers
of its method under one lock (a few hundred nanoseconds per call, against several microseconds for the
library's children, each with its own lock and checks), and the registry reads them when it is scraped. What a
scrape sees is the same: counters, and a histogram with cumulative buckets, ``_count`` and ``_sum``. There are
no ``*_created`` series (Go's client has none either), and ``prometheus_client``'s multiprocess mode
(``PROMETHEUS_MULTIPROC_DIR``) does not see these metrics: one registry per process.

A registry gets one collector per side, made the first time it is passed (``GrpcMetrics.on``), so several
servers or channels, sync and aio, may share a registry.
"""

from __future__ import annotations

import bisect
import threading
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final, Literal

import grpc

from grpc_errgen.policy import RpcKind

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

Side = Literal["server", "client"]

#: ``grpc_type`` label values, as go-grpc-prometheus spells them.
GRPC_TYPES: Final[dict[str, str]] = {
    "unary_unary": "unary",
    "unary_stream": "server_stream",
    "stream_unary": "client_stream",
    "stream_stream": "bidi_stream",
}

#: ``grpc_code`` label values: Go's ``codes.Code.String()`` (``NOT_FOUND`` -> ``NotFound``, ``CANCELLED`` -> ``Canceled``).
GO_CODE_NAMES: Final[dict[grpc.StatusCode, str]] = {
    code: (
        "Canceled"
        if code is grpc.StatusCode.CANCELLED
        else "".join(part.title() for part in code.name.split("_"))
    )
    for code in grpc.StatusCode
}
GO_CODE_NAMES[grpc.StatusCode.OK] = "OK"

#: go-grpc-prometheus' default ``grpc_*_handling_seconds`` buckets (Prometheus ``DefBuckets``).
HANDLING_SECONDS_BUCKETS: Final = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

#: The help text of each metric, per side, as go-grpc-prometheus words it.
_HELP: Final[dict[Side, dict[str, str]]] = {
    "server": {
        "started": "Total number of RPCs started on the server.",
        "handled": "Total number of RPCs completed on the server, regardless of success or failure.",
        "handling_seconds": "Histogram of response latency (seconds) of gRPC that had been application-level "
        "handled by the server.",
        "msg_received": "Total number of RPC stream messages received on the server.",
        "msg_sent": "Total number of gRPC stream messages sent by the server.",
    },
    "client": {
        "started": "Total number of RPCs started on the client.",
        "handled": "Total number of RPCs completed by the client, regardless of success or failure.",
        "handling_seconds": "Histogram of response latency (seconds) of the gRPC until it is finished by the "
        "application.",
    },
}

_LABELS: Final = ("grpc_type", "grpc_service", "grpc_method")


class GrpcMetrics:
    """One side's metrics on one registry: a ``prometheus_client`` collector over per-method counts."""

    _by_registry: weakref.WeakKeyDictionary[
        CollectorRegistry, dict[Side, GrpcMetrics]
    ] = weakref.WeakKeyDictionary()
    _registering = threading.Lock()

    def __init__(self, side: Side) -> None:
        self.side: Final = side
        self._methods: dict[tuple[str, RpcKind], MethodMetrics] = {}
        self._lock = threading.Lock()

    @classmethod
    def on(cls, registry: CollectorRegistry, side: Side) -> GrpcMetrics:
        """The ``side`` metrics on ``registry``, registered the first time and reused after."""
        _import_prometheus_client()
        with cls._registering:
            sides = cls._by_registry.setdefault(registry, {})
            found = sides.get(side)
            if found is None:
                found = cls(side)
                registry.register(found)
                sides[side] = found
            return found

    def method(self, full_method: str, kind: RpcKind) -> MethodMetrics:
        """The counts of ``full_method`` (``/pkg.Service/Method``, already printable) called as ``kind``."""
        found = self._methods.get((full_method, kind))
        if found is None:
            with self._lock:
                found = self._methods.get((full_method, kind))
                if found is None:
                    service, _, name = full_method.lstrip("/").rpartition("/")
                    found = MethodMetrics((GRPC_TYPES[kind], service, name))
                    self._methods[(full_method, kind)] = found
        return found

    def describe(self) -> Iterator[Any]:
        """The metric families without samples: what the registry checks names against."""
        return iter(self._families())

    def collect(self) -> Iterator[Any]:
        """The metric families with every method's counts, as of now."""
        from prometheus_client.utils import floatToGoString

        families = self._families()
        started, handled, seconds = families[:3]
        bounds = [*map(floatToGoString, HANDLING_SECONDS_BUCKETS), "+Inf"]
        with self._lock:
            methods = list(self._methods.values())
        for method in methods:
            snapshot = method.snapshot()
            labels = list(method.labels)
            started.add_metric(labels, snapshot.started)
            for code, count in snapshot.handled.items():
                handled.add_metric([*labels, GO_CODE_NAMES[code]], count)
            cumulative, buckets = 0, []
            for bound, count in zip(bounds, snapshot.bucket_counts, strict=True):
                cumulative += count
                buckets.append((bound, cumulative))
            seconds.add_metric(labels, buckets, snapshot.seconds_sum)
            if self.side == "server":
                families[3].add_metric(labels, snapshot.received)
                families[4].add_metric(labels, snapshot.sent)
        return iter(families)

    def _families(self) -> list[Any]:
        from prometheus_client.metrics_core import (
            CounterMetricFamily,
            HistogramMetricFamily,
        )

        prefix, help_text = f"grpc_{self.side}_", _HELP[self.side]
        families: list[Any] = [
            CounterMetricFamily(
                f"{prefix}started_total", help_text["started"], labels=_LABELS
            ),
            CounterMetricFamily(
                f"{prefix}handled_total",
                help_text["handled"],
                labels=(*_LABELS, "grpc_code"),
            ),
            HistogramMetricFamily(
                f"{prefix}handling_seconds",
                help_text["handling_seconds"],
                labels=_LABELS,
            ),
        ]
        if self.side == "server":
            families += [
                CounterMetricFamily(
                    f"{prefix}msg_received_total",
                    help_text["msg_received"],
                    labels=_LABELS,
                ),
                CounterMetricFamily(
                    f"{prefix}msg_sent_total", help_text["msg_sent"], labels=_LABELS
                ),
            ]
        return families


class MethodMetrics:
    """The counts of one method (and kind): what a call adds to, under one lock."""

    __slots__ = (
        "_lock",
        "bucket_counts",
        "handled",
        "labels",
        "received",
        "seconds_sum",
        "sent",
        "started",
    )

    def __init__(self, labels: tuple[str, str, str]) -> None:
        self.labels: Final = labels
        self._lock = threading.Lock()
        self.started = 0
        self.received = 0
        self.sent = 0
        self.handled: dict[grpc.StatusCode, int] = {}
        #: Calls per bucket, not cumulative: one per bound of ``HANDLING_SECONDS_BUCKETS``, then +Inf.
        self.bucket_counts = [0] * (len(HANDLING_SECONDS_BUCKETS) + 1)
        self.seconds_sum = 0.0

    def start(self) -> None:
        with self._lock:
            self.started += 1

    def receive(self) -> None:
        with self._lock:
            self.received += 1

    def send(self) -> None:
        with self._lock:
            self.sent += 1

    def finish(
        self, code: grpc.StatusCode, seconds: float, received: int = 0, sent: int = 0
    ) -> None:
        """One call ended with ``code`` after ``seconds``, with ``received`` and ``sent`` messages not yet
        counted (those of its unary sides)."""
        bucket = bisect.bisect_left(HANDLING_SECONDS_BUCKETS, seconds)
        with self._lock:
            self.received += received
            self.sent += sent
            self.handled[code] = self.handled.get(code, 0) + 1
            self.bucket_counts[bucket] += 1
            self.seconds_sum += seconds

    def snapshot(self) -> MethodMetrics:
        """A consistent copy of the counts (for a scrape)."""
        copy = MethodMetrics(self.labels)
        with self._lock:
            copy.started, copy.received, copy.sent = (
                self.started,
                self.received,
                self.sent,
            )
            copy.handled = dict(self.handled)
            copy.bucket_counts = list(self.bucket_counts)
            copy.seconds_sum = self.seconds_sum
        return copy


def _import_prometheus_client() -> Any:
    try:
        import prometheus_client
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "metrics= needs prometheus_client: install the extra with `pip install grpc-errgen[prometheus]`"
        ) from exc
    return prometheus_client
