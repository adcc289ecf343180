"""``grpc_errgen.metrics``: the counts a scrape shows are what prometheus_client's own collectors would show for
the same calls (minus their ``*_created`` series), for the server and client sides."""

from __future__ import annotations

import sys
import threading

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from grpc_errgen.client_metrics import ClientMetrics
from grpc_errgen.context import CallScope
from grpc_errgen.metrics import (
    GO_CODE_NAMES,
    HANDLING_SECONDS_BUCKETS,
    GrpcMetrics,
)
from grpc_errgen.observe import Observer

METHOD = "/metrics.unit.v1.Things/GetThing"
LABELS = ("unary", "metrics.unit.v1.Things", "GetThing")
#: (code, seconds) of the calls each test replays: every bucket boundary, and beyond the last one.
CALLS = [
    (grpc.StatusCode.OK, 0.001),
    (grpc.StatusCode.OK, 0.005),  # exactly on a bound: counted in that bucket (le)
    (grpc.StatusCode.NOT_FOUND, 0.03),
    (grpc.StatusCode.CANCELLED, 0.7),
    (grpc.StatusCode.INTERNAL, 11.0),  # +Inf only
]


def exposition(registry: CollectorRegistry) -> list[str]:
    """The text exposition's sample lines, without ``*_created`` (which this module does not export)."""
    return sorted(
        line
        for line in generate_latest(registry).decode().splitlines()
        if line and "_created" not in line
    )


def reference_server(registry: CollectorRegistry) -> None:
    """The same calls through prometheus_client's own Counter and Histogram, named as go-grpc-prometheus."""
    labels = ("grpc_type", "grpc_service", "grpc_method")
    started = Counter(
        "grpc_server_started_total",
        "Total number of RPCs started on the server.",
        labels,
        registry=registry,
    )
    handled = Counter(
        "grpc_server_handled_total",
        "Total number of RPCs completed on the server, regardless of success or failure.",
        (*labels, "grpc_code"),
        registry=registry,
    )
    seconds = Histogram(
        "grpc_server_handling_seconds",
        "Histogram of response latency (seconds) of gRPC that had been application-level handled by the "
        "server.",
        labels,
        registry=registry,
        buckets=HANDLING_SECONDS_BUCKETS,
    )
    received = Counter(
        "grpc_server_msg_received_total",
        "Total number of RPC stream messages received on the server.",
        labels,
        registry=registry,
    )
    sent = Counter(
        "grpc_server_msg_sent_total",
        "Total number of gRPC stream messages sent by the server.",
        labels,
        registry=registry,
    )
    for code, took in CALLS:
        started.labels(*LABELS).inc()
        received.labels(*LABELS).inc()
        sent.labels(*LABELS).inc()
        handled.labels(*LABELS, GO_CODE_NAMES[code]).inc()
        seconds.labels(*LABELS).observe(took)


def test_server_exposition_is_prometheus_clients_own() -> None:
    ours, reference = CollectorRegistry(), CollectorRegistry()
    counts = GrpcMetrics.on(ours, "server").method(METHOD, "unary_unary")
    for code, took in CALLS:
        counts.start()
        counts.finish(code, took, received=1, sent=1)
    reference_server(reference)
    assert exposition(ours) == exposition(reference)


def test_client_exposition_has_the_three_client_metrics() -> None:
    registry = CollectorRegistry()
    observation = ClientMetrics.on(registry).start(METHOD, "unary_unary")
    observation.finish(grpc.StatusCode.UNAVAILABLE)
    observation.finish(grpc.StatusCode.OK)  # the first report wins
    text = exposition(registry)
    assert (
        'grpc_client_handled_total{grpc_code="Unavailable",grpc_method="GetThing",'
        'grpc_service="metrics.unit.v1.Things",grpc_type="unary"} 1.0'
    ) in text
    names = {line.split("{")[0] for line in text if not line.startswith("#")}
    assert names == {
        "grpc_client_started_total",
        "grpc_client_handled_total",
        "grpc_client_handling_seconds_bucket",
        "grpc_client_handling_seconds_count",
        "grpc_client_handling_seconds_sum",
    }


def test_server_and_client_share_a_registry_and_register_once() -> None:
    registry = CollectorRegistry()
    assert GrpcMetrics.on(registry, "server") is GrpcMetrics.on(registry, "server")
    assert GrpcMetrics.on(registry, "client") is not GrpcMetrics.on(registry, "server")
    ClientMetrics.on(registry).start(METHOD, "unary_unary").finish(grpc.StatusCode.OK)
    observer = Observer(log=False, metrics=registry)
    observer.start(observer.method(METHOD, "unary_unary"), "", CallScope()).finish(
        grpc.StatusCode.OK, None
    )
    names = {line.split("{")[0] for line in exposition(registry)}
    assert "grpc_server_started_total" in names
    assert "grpc_client_started_total" in names


def test_stream_messages_count_as_they_pass_unary_ones_with_the_outcome() -> None:
    registry = CollectorRegistry()
    observer = Observer(log=False, metrics=registry)
    labels = {
        "grpc_type": "bidi_stream",
        "grpc_service": "metrics.unit.v1.Things",
        "grpc_method": "GetThing",
    }
    stream = observer.start(observer.method(METHOD, "stream_stream"), "", CallScope())
    stream.received()
    stream.sent()
    stream.sent()
    # A scrape while the stream lasts sees its messages so far.
    assert registry.get_sample_value("grpc_server_msg_received_total", labels) == 1
    assert registry.get_sample_value("grpc_server_msg_sent_total", labels) == 2
    stream.finish(grpc.StatusCode.OK, None)
    assert registry.get_sample_value("grpc_server_msg_sent_total", labels) == 2

    unary_labels = {**labels, "grpc_type": "unary"}
    unary = observer.start(observer.method(METHOD, "unary_unary"), "", CallScope())
    unary.received()
    unary.sent()
    assert registry.get_sample_value("grpc_server_msg_sent_total", unary_labels) == 0
    unary.finish(grpc.StatusCode.OK, None)
    assert (
        registry.get_sample_value("grpc_server_msg_received_total", unary_labels) == 1
    )
    assert registry.get_sample_value("grpc_server_msg_sent_total", unary_labels) == 1


def test_a_scrape_during_calls_is_consistent_and_the_totals_exact() -> None:
    """Each method's counts are read under its lock: in every scrape, no call is handled before it started and
    the histogram counts exactly the handled calls; when the threads are done, nothing was lost.
    """
    registry = CollectorRegistry()
    counts = GrpcMetrics.on(registry, "server").method(METHOD, "unary_unary")
    labels = dict(zip(("grpc_type", "grpc_service", "grpc_method"), LABELS))
    done = threading.Event()
    seen: list[tuple[float, float, float]] = []

    def calls() -> None:
        for _ in range(2000):
            counts.start()
            counts.finish(grpc.StatusCode.OK, 0.001, received=1, sent=1)

    def scrapes() -> None:
        wanted = (
            "grpc_server_started_total",
            "grpc_server_handled_total",
            "grpc_server_handling_seconds_count",
        )
        while not done.is_set():
            values = {
                sample.name: sample.value
                for family in registry.collect()
                for sample in family.samples
                if sample.name in wanted
            }
            if len(values) == len(wanted):
                seen.append(tuple(values[name] for name in wanted))  # type: ignore[arg-type]

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        scraper = threading.Thread(target=scrapes)
        scraper.start()
        workers = [threading.Thread(target=calls) for _ in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        done.set()
        scraper.join()
    finally:
        sys.setswitchinterval(interval)
    assert seen, "the scraper never saw the method"
    assert all(started >= handled == histogram for started, handled, histogram in seen)
    assert registry.get_sample_value("grpc_server_started_total", labels) == 8000
    assert (
        registry.get_sample_value(
            "grpc_server_handled_total", {**labels, "grpc_code": "OK"}
        )
        == 8000
    )
    assert registry.get_sample_value("grpc_server_msg_sent_total", labels) == 8000
