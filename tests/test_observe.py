"""The Observer on its own: the log record and the metrics one call produces (the chain's use is in
``test_observe_server.py``)."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time

import grpc
import pytest
from prometheus_client import CollectorRegistry

from grpc_errgen.context import CallScope
from grpc_errgen.metrics import HANDLING_SECONDS_BUCKETS
from grpc_errgen.observe import LOG_FIELDS, Observer

METHOD = "/observe.unit.v1.Things/GetThing"
LABELS = {
    "grpc_type": "unary",
    "grpc_service": "observe.unit.v1.Things",
    "grpc_method": "GetThing",
}


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def one_call(
    observer: Observer, code: grpc.StatusCode, error: BaseException | None = None
) -> None:
    call = observer.start(
        observer.method(METHOD, "unary_unary"),
        "ipv4:127.0.0.1:5555",
        CallScope(request_id="req-1"),
    )
    call.received()
    call.sent()
    call.finish(code, error)


def test_enabled_only_when_there_is_something_to_do() -> None:
    assert not Observer(log=False, metrics=None).enabled
    assert Observer(log=True, metrics=None).enabled
    assert Observer(log=False, metrics=CollectorRegistry()).enabled


def test_counts_a_call_with_go_grpc_prometheus_names_and_labels() -> None:
    registry = CollectorRegistry()
    observer = Observer(log=False, metrics=registry)
    one_call(observer, grpc.StatusCode.OK)
    one_call(observer, grpc.StatusCode.NOT_FOUND)
    one_call(observer, grpc.StatusCode.CANCELLED)

    assert sample(registry, "grpc_server_started_total", **LABELS) == 3
    assert sample(registry, "grpc_server_handled_total", **LABELS, grpc_code="OK") == 1
    assert (
        sample(registry, "grpc_server_handled_total", **LABELS, grpc_code="NotFound")
        == 1
    )
    assert (
        sample(registry, "grpc_server_handled_total", **LABELS, grpc_code="Canceled")
        == 1
    )
    assert sample(registry, "grpc_server_msg_received_total", **LABELS) == 3
    assert sample(registry, "grpc_server_msg_sent_total", **LABELS) == 3
    assert sample(registry, "grpc_server_handling_seconds_count", **LABELS) == 3


def test_grpc_type_per_kind() -> None:
    registry = CollectorRegistry()
    observer = Observer(log=False, metrics=registry)
    expected = {
        "unary_unary": "unary",
        "unary_stream": "server_stream",
        "stream_unary": "client_stream",
        "stream_stream": "bidi_stream",
    }
    for kind in expected:
        observer.start(observer.method(METHOD, kind), "p", CallScope(request_id="r")).finish(grpc.StatusCode.OK, None)  # type: ignore[arg-type]
    for grpc_type in expected.values():
        labels = {**LABELS, "grpc_type": grpc_type}
        assert sample(registry, "grpc_server_started_total", **labels) == 1
        assert (
            sample(registry, "grpc_server_handled_total", **labels, grpc_code="OK") == 1
        )


def test_histogram_uses_go_default_buckets_and_measures_the_call() -> None:
    registry = CollectorRegistry()
    observer = Observer(log=False, metrics=registry)
    call = observer.start(
        observer.method(METHOD, "unary_unary"), "p", CallScope(request_id="r")
    )
    time.sleep(0.03)
    call.finish(grpc.StatusCode.OK, None)

    buckets = [
        sample(registry, "grpc_server_handling_seconds_bucket", **LABELS, le=str(bound))
        for bound in HANDLING_SECONDS_BUCKETS
    ]
    assert HANDLING_SECONDS_BUCKETS == (
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
    assert buckets[:3] == [0, 0, 0]  # 30 ms is above the 25 ms bucket
    assert (
        sample(registry, "grpc_server_handling_seconds_bucket", **LABELS, le="+Inf")
        == 1
    )
    assert sample(registry, "grpc_server_handling_seconds_sum", **LABELS) >= 0.03


def test_two_observers_share_one_registry() -> None:
    registry = CollectorRegistry()
    first = Observer(log=False, metrics=registry)
    second = Observer(
        log=True, metrics=registry
    )  # would raise "Duplicated timeseries" if it registered again
    one_call(first, grpc.StatusCode.OK)
    one_call(second, grpc.StatusCode.OK)
    assert sample(registry, "grpc_server_handled_total", **LABELS, grpc_code="OK") == 2


def test_registries_are_independent() -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    one_call(Observer(log=False, metrics=first), grpc.StatusCode.OK)
    assert sample(first, "grpc_server_started_total", **LABELS) == 1
    assert sample(second, "grpc_server_started_total", **LABELS) == 0


def test_counts_are_exact_across_threads() -> None:
    registry = CollectorRegistry()
    observer = Observer(log=False, metrics=registry)

    def calls() -> None:
        for _ in range(200):
            one_call(observer, grpc.StatusCode.OK)

    threads = [threading.Thread(target=calls) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (
        sample(registry, "grpc_server_handled_total", **LABELS, grpc_code="OK") == 800
    )
    assert sample(registry, "grpc_server_msg_received_total", **LABELS) == 800


def test_one_record_per_call_with_extras(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="grpc_errgen")
    one_call(Observer(log=True, metrics=None), grpc.StatusCode.NOT_FOUND)

    [record] = caplog.records
    assert record.name == "grpc_errgen"
    assert record.levelno == logging.INFO
    fields = {field: getattr(record, field) for field in LOG_FIELDS}
    duration_ms = fields.pop("duration_ms")
    assert isinstance(duration_ms, float) and duration_ms >= 0
    assert fields == {
        "grpc_service": "observe.unit.v1.Things",
        "grpc_method": "GetThing",
        "grpc_full_method": METHOD,
        "grpc_type": "unary",
        "grpc_code": "NOT_FOUND",
        "peer": "ipv4:127.0.0.1:5555",
        "request_id": "req-1",
        "note": "",
    }
    message = record.getMessage()
    for text in (
        METHOD,
        "NOT_FOUND",
        "ms",
        "ipv4:127.0.0.1:5555",
        "req-1",
    ):
        assert text in message


@pytest.mark.parametrize(
    ("code", "level"),
    [
        (grpc.StatusCode.OK, logging.INFO),
        (grpc.StatusCode.INVALID_ARGUMENT, logging.INFO),
        (grpc.StatusCode.UNAUTHENTICATED, logging.INFO),
        (grpc.StatusCode.PERMISSION_DENIED, logging.INFO),
        (grpc.StatusCode.FAILED_PRECONDITION, logging.INFO),
        (grpc.StatusCode.UNKNOWN, logging.WARNING),
        (grpc.StatusCode.DEADLINE_EXCEEDED, logging.WARNING),
        (grpc.StatusCode.UNIMPLEMENTED, logging.WARNING),
        (grpc.StatusCode.INTERNAL, logging.WARNING),
        (grpc.StatusCode.UNAVAILABLE, logging.WARNING),
        (grpc.StatusCode.DATA_LOSS, logging.WARNING),
    ],
)
def test_level_follows_the_code(
    caplog: pytest.LogCaptureFixture, code: grpc.StatusCode, level: int
) -> None:
    caplog.set_level(logging.INFO, logger="grpc_errgen")
    one_call(Observer(log=True, metrics=None), code)
    [record] = caplog.records
    assert record.levelno == level
    assert record.exc_info is None


def test_internal_from_an_exception_is_an_error_with_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="grpc_errgen")
    try:
        raise KeyError("boom")
    except KeyError as exc:
        error = exc
    one_call(Observer(log=True, metrics=None), grpc.StatusCode.INTERNAL, error)
    [record] = caplog.records
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None and record.exc_info[1] is error
    assert "KeyError" in caplog.text and "raise KeyError" in caplog.text


def test_no_record_when_logging_is_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="grpc_errgen")
    one_call(Observer(log=False, metrics=CollectorRegistry()), grpc.StatusCode.INTERNAL)
    assert caplog.records == []


def test_json_formatter_sees_the_extras() -> None:
    class JsonFormatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return json.dumps({field: getattr(record, field) for field in LOG_FIELDS})

    lines: list[str] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = ListHandler()
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("grpc_errgen")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        one_call(Observer(log=True, metrics=None), grpc.StatusCode.OK)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    [line] = lines
    fields = json.loads(line)
    assert (
        fields["grpc_code"] == "OK"
        and fields["request_id"] == "req-1"
        and fields["grpc_method"] == "GetThing"
    )


def test_missing_prometheus_client_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(ImportError, match=r"grpc-errgen\[prometheus\]"):
        Observer(log=False, metrics=CollectorRegistry())
