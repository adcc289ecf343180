"""The server chain under hostile or careless input (issues 12, 13, 14): real ``grpc.server`` and
``grpc.aio.server`` on 127.0.0.1, grpcio clients, and a raw HTTP/2 client (``tests/h2client.py``) for what
grpcio's client refuses to send.

- methods no module covers fail closed; ``allow_unlisted`` lets named ones pass;
- ``x-request-id`` is taken only when it is 1-128 visible ASCII characters, echoed on errors (on OK only with
  ``echo_request_id``), and no client value can forge a log line;
- handler mistakes are logged and counted as what the client got; unparsable requests get a record too;
- ``authenticate`` may refuse with its own code; ``authenticate_request`` with mutual TLS.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
import grpc.aio
import pytest
from prometheus_client import CollectorRegistry

import grpc_errgen
from grpc_errgen import errors
from grpc_errgen.auth import AuthRequest, mtls_principal
from grpc_errgen.context import Principal
from tests import h2client
from tests.server_chain_service import Generated, build_service

UNARY = "/srvchain.v1.Chain/Unary"
SECURE = "/srvchain.v1.Chain/Secure"
FORGED = "\r\n2026-01-01 INFO grpc_errgen forged OK\x1b[2K"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    return build_service(tmp_path_factory.mktemp("hardening"))


@pytest.fixture
def records(
    caplog: pytest.LogCaptureFixture,
) -> Callable[[], list[logging.LogRecord]]:
    caplog.set_level(logging.DEBUG, logger="grpc_errgen")
    return lambda: [r for r in caplog.records if r.name == "grpc_errgen"]


def call_records(found: list[logging.LogRecord]) -> list[logging.LogRecord]:
    """The per-call records (those with the ``grpc_code`` field)."""
    return [r for r in found if hasattr(r, "grpc_code")]


def formatted(record: logging.LogRecord) -> str:
    return logging.Formatter("%(levelname)s %(message)s").format(record)


def wait_for(predicate: Callable[[], bool], rounds: int = 500) -> None:
    """Wait for something another thread does (bounded by a count of short sleeps, not a deadline)."""
    for _ in range(rounds):
        if predicate():
            return
        threading.Event().wait(0.01)
    raise AssertionError("never happened")


class SyncServicer:
    """``Req.mode`` picks the mistake; ``started`` is set when a client stream's first message arrived."""

    def __init__(self, generated: Generated) -> None:
        self.pb2 = generated.pb2
        self.started = threading.Event()

    def Unary(self, request: Any, context: grpc.ServicerContext) -> Any:
        mode = request.mode
        if mode == "none":
            return None
        if mode == "code-none":
            context.set_code(grpc.StatusCode.NOT_FOUND)
            context.set_details("not here")
            return None
        if mode == "code-raise":
            context.set_code(grpc.StatusCode.NOT_FOUND)
            raise Exception()
        if mode == "ok-raise":
            context.set_code(grpc.StatusCode.OK)
            raise Exception()
        if mode == "forge":
            raise RuntimeError(request.name)
        if mode == "key":
            raise KeyError("routine")
        principal = grpc_errgen.current_principal()
        if mode == "whoami":
            principal = grpc_errgen.require_principal()
        return self.pb2.Resp(
            text=request.name, principal=principal.subject if principal else ""
        )

    Secure = Unary

    def ServerStream(self, request: Any, context: Any) -> Iterator[Any]:
        yield self.pb2.Resp()

    def ClientStream(self, request_iterator: Iterator[Any], context: Any) -> Any:
        try:
            for _ in request_iterator:
                self.started.set()
        except (
            grpc.RpcError
        ):  # the client went away: a handler that raises something of its own then
            raise RuntimeError("client left" + FORGED) from None
        return self.pb2.Resp()

    def Bidi(self, request_iterator: Iterator[Any], context: Any) -> Iterator[Any]:
        for request in request_iterator:
            yield self.pb2.Resp(text=request.name)


@contextlib.contextmanager
def sync_server(
    generated: Generated,
    *modules: Any,
    servicer: Any = None,
    handlers: tuple[grpc.GenericRpcHandler, ...] = (),
    credentials: grpc.ServerCredentials | None = None,
    **chain: Any,
) -> Iterator[tuple[int, Any]]:
    servicer = servicer or SyncServicer(generated)
    if modules and "authenticate_request" not in chain:
        chain.setdefault("authenticate", writer)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        interceptors=grpc_errgen.server_interceptors(*modules, **chain),
    )
    generated.pb2_grpc.add_ChainServicer_to_server(servicer, server)
    server.add_generic_rpc_handlers(handlers)
    if credentials is None:
        port = server.add_insecure_port("127.0.0.1:0")
    else:
        port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    try:
        yield port, servicer
    finally:
        server.stop(None)


def writer(token: str, method: str) -> Principal:
    """Every token is a writer (the tests here are about other things)."""
    return Principal(token, ["chain.write"])


def stub_on(generated: Generated, port: int) -> tuple[grpc.Channel, Any]:
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    return channel, generated.pb2_grpc.ChainStub(channel)


# ------------------------------------------------------------------ methods no module covers


def test_unlisted_methods_fail_closed_and_are_reported_once(
    generated: Generated, records: Callable[[], list[logging.LogRecord]]
) -> None:
    echo = grpc.method_handlers_generic_handler(
        "other.v1.Echo",
        {"Say": grpc.unary_unary_rpc_method_handler(lambda request, context: request)},
    )
    health = grpc.method_handlers_generic_handler(
        "grpc.health.v1.Health",
        {"Check": grpc.unary_unary_rpc_method_handler(lambda request, context: b"")},
    )
    # No module at all: the generated service is unlisted too.
    with sync_server(generated, handlers=(echo, health)) as (port, _):
        channel, stub = stub_on(generated, port)
        with channel:
            for _ in range(3):
                with pytest.raises(grpc.RpcError) as raised:
                    stub.Unary(generated.pb2.Req(mode="ok", name="abcd"), timeout=10)
                assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
                assert raised.value.details() == "no policy for this method"
            say: Any = channel.unary_unary("/other.v1.Echo/Say")
            with pytest.raises(grpc.RpcError) as raised:
                say(b"hi", timeout=10)
            assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
            check: Any = channel.unary_unary("/grpc.health.v1.Health/Check")
            assert check(b"", timeout=10) == b""  # allowed by default
    reports = [r for r in records() if r.levelno == logging.ERROR]
    assert len(reports) == 2  # once per method, however many calls
    [chain_report] = [r for r in reports if UNARY in r.getMessage()]
    assert "srvchain.v1.chain_errgen" in chain_report.getMessage()
    assert "allow_unlisted" in chain_report.getMessage()
    codes = [r.grpc_code for r in call_records(records())]  # type: ignore[attr-defined]
    assert codes.count("PERMISSION_DENIED") == 4 and codes.count("OK") == 1


def test_allow_unlisted_is_checked(generated: Generated) -> None:
    with pytest.raises(TypeError, match="bare str"):
        grpc_errgen.server_interceptors(allow_unlisted="other.v1.Echo")
    with pytest.raises(ValueError, match="not a service or method name"):
        grpc_errgen.server_interceptors(allow_unlisted=["/a/b/c"])
    with pytest.raises(ValueError, match="not both"):
        grpc_errgen.server_interceptors(
            authenticate=lambda t, m: None, authenticate_request=lambda r: None
        )


async def test_aio_unlisted_methods_fail_closed(generated: Generated) -> None:
    async def say(request: bytes, context: Any) -> bytes:
        return request

    echo = grpc.method_handlers_generic_handler(
        "other.v1.Echo", {"Say": grpc.unary_unary_rpc_method_handler(say)}
    )
    for allowed, expected in (
        ((), grpc.StatusCode.PERMISSION_DENIED),
        (("other.v1.Echo",), None),
    ):
        server = grpc.aio.server(
            interceptors=grpc_errgen.aio.server_interceptors(
                generated.errgen, authenticate=writer, allow_unlisted=allowed
            )
        )
        server.add_generic_rpc_handlers((echo,))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                call: Any = channel.unary_unary("/other.v1.Echo/Say")
                if expected is None:
                    assert await call(b"hi", timeout=10) == b"hi"
                else:
                    with pytest.raises(grpc.aio.AioRpcError) as raised:
                        await call(b"hi", timeout=10)
                    assert raised.value.code() == expected
                    assert raised.value.details() == "no policy for this method"
        finally:
            await server.stop(None)


def test_import_grpc_errgen_brings_aio() -> None:
    import subprocess
    import sys

    code = "import grpc_errgen; print(grpc_errgen.aio.server_interceptors.__module__)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "grpc_errgen.aio.server"


# ------------------------------------------------------------------ x-request-id and log lines


@pytest.mark.parametrize(
    "sent",
    [
        b"abc\r\nINFO forged",
        b"\x1b[31mred",
        "caf\u00e9".encode(),
        b"has space",
        b"",
        b"x" * 129,
    ],
    ids=["crlf", "esc", "non-ascii", "space", "empty", "too-long"],
)
def test_bad_request_ids_are_replaced_and_said(
    generated: Generated,
    records: Callable[[], list[logging.LogRecord]],
    sent: bytes,
) -> None:
    body = generated.pb2.Req(
        mode="ok", name="x"
    ).SerializeToString()  # invalid: min_len 3
    with sync_server(generated, generated.errgen) as (port, _):
        reply = h2client.call(port, UNARY.encode(), body, [(b"x-request-id", sent)])
    assert reply.status == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    echoed = reply.metadata["x-request-id"]
    assert echoed != sent.decode("latin-1") and len(echoed) == 36  # a new uuid4
    [record] = call_records(records())
    assert record.request_id == echoed  # type: ignore[attr-defined]
    text = formatted(record)
    assert "replaced the client's x-request-id" in text
    assert not any(char in text for char in "\r\n\x1b")


def test_good_request_ids_are_kept_and_echoed_on_errors_only(
    generated: Generated,
) -> None:
    rid = "!~" + "a" * 126  # 128 visible ASCII characters
    with sync_server(generated, generated.errgen) as (port, _):
        channel, stub = stub_on(generated, port)
        with channel:
            _, call = stub.Unary.with_call(
                generated.pb2.Req(mode="ok", name="good"),
                metadata=(("x-request-id", rid),),
                timeout=10,
            )
            assert "x-request-id" not in dict(call.trailing_metadata() or ())
            with pytest.raises(grpc.RpcError) as raised:
                stub.Unary(
                    generated.pb2.Req(mode="key", name="good"),
                    metadata=(("x-request-id", rid),),
                    timeout=10,
                )
            assert dict(raised.value.trailing_metadata())["x-request-id"] == rid
    with sync_server(generated, generated.errgen, echo_request_id=True) as (port, _):
        channel, stub = stub_on(generated, port)
        with channel:
            _, call = stub.Unary.with_call(
                generated.pb2.Req(mode="ok", name="good"),
                metadata=(("x-request-id", rid),),
                timeout=10,
            )
            assert dict(call.trailing_metadata())["x-request-id"] == rid


def test_client_text_cannot_forge_log_lines(
    generated: Generated, records: Callable[[], list[logging.LogRecord]]
) -> None:
    # The exception text (in the traceback) and an unlisted method's name come from the client.
    anything = grpc.method_handlers_generic_handler(
        "other.v1.Any",
        {"Do\r\nINFO forged": grpc.unary_unary_rpc_method_handler(lambda r, c: r)},
    )
    with sync_server(generated, generated.errgen, handlers=(anything,)) as (port, _):
        channel, stub = stub_on(generated, port)
        with channel:
            with pytest.raises(grpc.RpcError) as raised:
                stub.Unary(generated.pb2.Req(mode="forge", name=FORGED), timeout=10)
            assert raised.value.code() == grpc.StatusCode.INTERNAL
        h2client.call(port, b"/other.v1.Any/Do\r\nINFO forged", b"")
    found = records()
    assert any(r.levelno == logging.ERROR and r.exc_info for r in found)
    for record in found:
        text = formatted(record)
        assert "\r" not in text and "\x1b" not in text
        # Lines of a traceback are the server's own; none is the forged one.
        assert not any(line.startswith("2026-01-01") for line in text.splitlines())
        assert not any(line.startswith("INFO forged") for line in text.splitlines())


class AnyMethod(grpc.GenericRpcHandler):
    """A generic handler that serves every method name (as a proxy's would): bytes in, bytes out."""

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any]:
        return grpc.unary_unary_rpc_method_handler(lambda request, context: request)


def test_names_sent_to_a_generic_handler_cannot_grow_the_tables(
    generated: Generated,
    records: Callable[[], list[logging.LogRecord]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past the limit of methods no module covers, further names share one label set and one table entry
    (the real name goes in the record's note): what clients send cannot grow memory or metric labels.
    """
    monkeypatch.setattr(grpc_errgen.chain, "MAX_REPORTED_UNLISTED", 3)
    registry = CollectorRegistry()
    names = [f"/proxied.v1.Backend/Method{index}" for index in range(6)]
    with (
        sync_server(
            generated, generated.errgen, handlers=(AnyMethod(),), metrics=registry
        ) as (port, _),
        grpc.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        for name in names:
            with pytest.raises(grpc.RpcError) as raised:
                call: Any = channel.unary_unary(name)
                call(b"", timeout=10)
            assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    handled = {
        (sample.labels["grpc_service"], sample.labels["grpc_method"]): sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name == "grpc_server_handled_total"
    }
    assert handled == {
        ("proxied.v1.Backend", "Method0"): 1,
        ("proxied.v1.Backend", "Method1"): 1,
        ("proxied.v1.Backend", "Method2"): 1,
        ("(unlisted)", "(other)"): 3,
    }
    logged = call_records(records())
    assert [record.grpc_full_method for record in logged] == names[:3] + [  # type: ignore[attr-defined]
        grpc_errgen.chain.OTHER_UNLISTED
    ] * 3
    assert [record.note for record in logged[3:]] == [  # type: ignore[attr-defined]
        f"method {name}" for name in names[3:]
    ]


# ------------------------------------------------------------------ handler mistakes


MISTAKES = {
    # mode: (code the client gets, details)
    "none": (grpc.StatusCode.INTERNAL, "internal error"),
    "code-none": (grpc.StatusCode.NOT_FOUND, "not here"),
    "code-raise": (grpc.StatusCode.INTERNAL, "internal error"),
    "ok-raise": (grpc.StatusCode.INTERNAL, "internal error"),
}


@pytest.mark.parametrize("mode", sorted(MISTAKES))
def test_handler_mistakes_are_logged_and_counted_as_sent(
    generated: Generated,
    records: Callable[[], list[logging.LogRecord]],
    mode: str,
) -> None:
    registry = CollectorRegistry()
    with sync_server(generated, generated.errgen, metrics=registry) as (port, _):
        channel, stub = stub_on(generated, port)
        with channel, pytest.raises(grpc.RpcError) as raised:
            stub.Unary(generated.pb2.Req(mode=mode, name="good"), timeout=10)
    code, details = MISTAKES[mode]
    assert (raised.value.code(), raised.value.details()) == (code, details)
    [record] = call_records(records())
    assert record.grpc_code == code.name  # type: ignore[attr-defined]
    labels = {
        "grpc_type": "unary",
        "grpc_service": "srvchain.v1.Chain",
        "grpc_method": "Unary",
    }
    go_code = "".join(part.title() for part in code.name.split("_"))
    assert (
        registry.get_sample_value(
            "grpc_server_handled_total", {**labels, "grpc_code": go_code}
        )
        == 1
    )


def test_cancelled_client_stream_is_logged_cancelled_without_traceback(
    generated: Generated,
    records: Callable[[], list[logging.LogRecord]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with sync_server(generated, generated.errgen) as (port, servicer):
        channel, stub = stub_on(generated, port)
        with channel:
            gate = threading.Event()

            def requests() -> Iterator[Any]:
                yield generated.pb2.Req(mode="ok", name="good")
                gate.wait(10)

            future = stub.ClientStream.future(requests(), timeout=10)
            assert servicer.started.wait(10)
            future.cancel()
            gate.set()
            wait_for(lambda: bool(call_records(records())))
    [record] = call_records(records())
    assert record.grpc_code == "CANCELLED"  # type: ignore[attr-defined]
    assert not record.exc_info
    assert not [r for r in records() if r.levelno >= logging.ERROR]
    # Nor does grpcio log the exception (with the client's raw text) on its own logger.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_unparsable_requests_get_a_record_and_a_clear_status(
    generated: Generated, records: Callable[[], list[logging.LogRecord]]
) -> None:
    registry = CollectorRegistry()
    with (
        sync_server(generated, generated.errgen, metrics=registry) as (port, _),
        grpc.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        raw: Any = channel.unary_unary(UNARY)  # bytes go out as they are
        with pytest.raises(grpc.RpcError) as raised:
            raw(
                b"\xff\xff\xff\xff",
                metadata=(("x-request-id", "rid-garbage"),),
                timeout=10,
            )
        bidi: Any = channel.stream_stream("/srvchain.v1.Chain/Bidi")
        with pytest.raises(grpc.RpcError) as streamed:
            list(bidi(iter([b"\x0a\x02ok\x1a\x04good", b"\xff\xff"]), timeout=10))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details() == "request message could not be parsed"
    assert streamed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    codes = sorted((r.grpc_method, r.grpc_code) for r in call_records(records()))  # type: ignore[attr-defined]
    assert codes == [("Bidi", "INVALID_ARGUMENT"), ("Unary", "INVALID_ARGUMENT")]
    [unary] = [r for r in call_records(records()) if r.grpc_method == "Unary"]  # type: ignore[attr-defined]
    assert unary.request_id == "rid-garbage"  # type: ignore[attr-defined]
    assert "DecodeError" in unary.getMessage()
    assert (
        registry.get_sample_value(
            "grpc_server_handled_total",
            {
                "grpc_type": "unary",
                "grpc_service": "srvchain.v1.Chain",
                "grpc_method": "Unary",
                "grpc_code": "InvalidArgument",
            },
        )
        == 1
    )


def test_mapped_exception_adds_no_record_of_its_own(
    generated: Generated, records: Callable[[], list[logging.LogRecord]]
) -> None:
    with sync_server(generated, generated.errgen) as (port, _):
        channel, stub = stub_on(generated, port)
        with channel, pytest.raises(grpc.RpcError) as raised:
            stub.Unary(generated.pb2.Req(mode="key", name="good"), timeout=10)
    assert raised.value.code() == grpc.StatusCode.ABORTED
    [record] = records()
    assert "builtins.KeyError mapped to ABORTED" in record.getMessage()


def test_a_swallowed_refusal_stops_the_responses_that_follow(
    generated: Generated,
) -> None:
    pb2 = generated.pb2

    class Swallowing(SyncServicer):
        def Bidi(self, request_iterator: Iterator[Any], context: Any) -> Iterator[Any]:
            try:
                for request in request_iterator:
                    yield pb2.Resp(text=request.name)
            except grpc_errgen.ValidationError:
                pass  # the handler goes on as if the bad request had not come
            yield pb2.Resp(text="after the refusal")

    requests = [pb2.Req(mode="ok", name="good"), pb2.Req(mode="ok", name="x")]
    with sync_server(generated, generated.errgen, servicer=Swallowing(generated)) as (
        port,
        _,
    ):
        channel, stub = stub_on(generated, port)
        with channel:
            call = stub.Bidi(iter(requests), timeout=10)
            received = []
            with pytest.raises(grpc.RpcError) as raised:
                for response in call:
                    received.append(response.text)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert received == ["good"]


async def test_aio_a_swallowed_refusal_stops_the_writes_that_follow(
    generated: Generated,
) -> None:
    pb2 = generated.pb2

    class Swallowing(generated.pb2_grpc.ChainServicer):  # type: ignore[misc,name-defined]
        async def Bidi(
            self, request_iterator: AsyncIterator[Any], context: Any
        ) -> None:
            try:
                async for request in request_iterator:
                    await context.write(pb2.Resp(text=request.name))
            except grpc_errgen.ValidationError:
                pass  # the handler goes on as if the bad request had not come
            with contextlib.suppress(grpc_errgen.ValidationError):
                await context.write(pb2.Resp(text="after the refusal"))

    server = grpc.aio.server(
        interceptors=grpc_errgen.aio.server_interceptors(
            generated.errgen, authenticate=writer
        )
    )
    generated.pb2_grpc.add_ChainServicer_to_server(Swallowing(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = generated.pb2_grpc.ChainStub(channel)
            call = stub.Bidi(timeout=10)
            await call.write(pb2.Req(mode="ok", name="good"))
            first = await call.read()
            await call.write(pb2.Req(mode="ok", name="x"))
            await call.done_writing()
            rest = []
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                while (response := await call.read()) is not grpc.aio.EOF:
                    rest.append(response.text)
    finally:
        await server.stop(None)
    assert first.text == "good" and rest == []
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


# ------------------------------------------------------------------ auth


def refuse_with(exc: Exception) -> Callable[[str, str], Principal | None]:
    def authenticate(token: str, method: str) -> Principal | None:
        raise exc

    return authenticate


@pytest.mark.parametrize(
    ("raised", "code", "details", "logged"),
    [
        (
            errors.Unavailable("identity provider down"),
            grpc.StatusCode.UNAVAILABLE,
            "identity provider down",
            "authenticate raised Unavailable",
        ),
        (
            ValueError("token garbage"),
            grpc.StatusCode.UNAUTHENTICATED,
            "missing or invalid credentials",
            "authenticate raised ValueError: token garbage",
        ),
    ],
)
def test_authenticate_may_refuse_with_its_own_code(
    generated: Generated,
    records: Callable[[], list[logging.LogRecord]],
    raised: Exception,
    code: grpc.StatusCode,
    details: str,
    logged: str,
) -> None:
    with sync_server(generated, generated.errgen, authenticate=refuse_with(raised)) as (
        port,
        _,
    ):
        channel, stub = stub_on(generated, port)
        with channel, pytest.raises(grpc.RpcError) as error:
            stub.Secure(
                generated.pb2.Req(mode="ok", name="good"),
                metadata=(("authorization", "Bearer t"), ("x-request-id", "rid-auth")),
                timeout=10,
            )
    assert (error.value.code(), error.value.details()) == (code, details)
    [refusal] = [r for r in records() if not hasattr(r, "grpc_code")]
    assert logged in refusal.getMessage()
    assert "NoneType" not in refusal.getMessage()
    assert "request_id=rid-auth" in refusal.getMessage()


def test_authenticate_request_sees_the_whole_call(generated: Generated) -> None:
    seen: list[AuthRequest] = []

    def authenticate_request(request: AuthRequest) -> Principal | None:
        seen.append(request)
        key = request.metadata.get("x-api-key")
        return Principal("svc-" + str(key), scopes=["chain.write"]) if key else None

    with sync_server(
        generated, generated.errgen, authenticate_request=authenticate_request
    ) as (port, _):
        channel, stub = stub_on(generated, port)
        with channel:
            reply = stub.Secure(
                generated.pb2.Req(mode="whoami", name="good"),
                metadata=(("x-api-key", "k1"), ("authorization", "Bearer tok")),
                timeout=10,
            )
            assert reply.principal == "svc-k1"
            with pytest.raises(grpc.RpcError) as raised:
                stub.Secure(generated.pb2.Req(mode="whoami", name="good"), timeout=10)
            assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
            # Open rpc: no principal, and require_principal() refuses.
            with pytest.raises(grpc.RpcError) as raised:
                stub.Unary(generated.pb2.Req(mode="whoami", name="good"), timeout=10)
            assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    first = seen[0]
    assert first.method == SECURE
    assert first.token == "tok"
    assert first.peer.startswith("ipv4:127.0.0.1:")
    assert dict(first.peer_identities) == {}
    with pytest.raises(TypeError):
        first.metadata["x"] = "y"  # type: ignore[index]


async def test_aio_authenticate_request_and_refusal_codes(
    generated: Generated, records: Callable[[], list[logging.LogRecord]]
) -> None:
    async def authenticate_request(request: AuthRequest) -> Principal | None:
        if request.metadata.get("x-api-key") == "down":
            raise errors.Unavailable("identity provider down")
        if request.metadata.get("x-api-key") == "boom":
            raise RuntimeError("bug")
        return Principal("svc", ["chain.write"]) if request.token == "ok" else None

    class Servicer(generated.pb2_grpc.ChainServicer):  # type: ignore[misc,name-defined]
        async def Secure(self, request: Any, context: Any) -> Any:
            return generated.pb2.Resp(principal=grpc_errgen.require_principal().subject)

    server = grpc.aio.server(
        interceptors=grpc_errgen.aio.server_interceptors(
            generated.errgen, authenticate_request=authenticate_request
        )
    )
    generated.pb2_grpc.add_ChainServicer_to_server(Servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = generated.pb2_grpc.ChainStub(channel)
            request = generated.pb2.Req(name="good")
            ok = await stub.Secure(request, metadata=(("authorization", "Bearer ok"),))
            assert ok.principal == "svc"
            for key, code in (
                ("down", grpc.StatusCode.UNAVAILABLE),
                ("boom", grpc.StatusCode.UNAUTHENTICATED),
                ("none", grpc.StatusCode.UNAUTHENTICATED),
            ):
                with pytest.raises(grpc.aio.AioRpcError) as raised:
                    await stub.Secure(
                        request,
                        metadata=(("x-api-key", key), ("x-request-id", f"rid-{key}")),
                    )
                assert raised.value.code() == code
                assert dict(raised.value.trailing_metadata())["x-request-id"] == (
                    f"rid-{key}"
                )
    finally:
        await server.stop(None)
    refusals = [r.getMessage() for r in records() if not hasattr(r, "grpc_code")]
    assert any(
        "authenticate_request raised RuntimeError: bug" in text
        and "request_id=rid-boom" in text
        for text in refusals
    ), refusals
    assert any(
        "refused with UNAVAILABLE" in text and "request_id=rid-down" in text
        for text in refusals
    ), refusals


# ------------------------------------------------------------------ mutual TLS


def _certificates() -> dict[str, bytes]:
    """A CA, a server certificate for localhost and a client certificate (CN client-7, a SPIFFE URI)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def pem_key(key: Any) -> bytes:
        return key.private_bytes(  # type: ignore[no-any-return]
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("test-ca"))
        .issuer_name(name("test-ca"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )

    def issue(common: str, alternatives: list[x509.GeneralName]) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(common))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        return pem_key(key), cert.public_bytes(serialization.Encoding.PEM)

    server_key, server_cert = issue("localhost", [x509.DNSName("localhost")])
    client_key, client_cert = issue(
        "client-7", [x509.UniformResourceIdentifier("spiffe://shop.example/client-7")]
    )
    return {
        "ca": ca.public_bytes(serialization.Encoding.PEM),
        "server_key": server_key,
        "server_cert": server_cert,
        "client_key": client_key,
        "client_cert": client_cert,
    }


def test_mutual_tls_principal(generated: Generated) -> None:
    certs = _certificates()
    credentials = grpc.ssl_server_credentials(
        [(certs["server_key"], certs["server_cert"])],
        root_certificates=certs["ca"],
        require_client_auth=True,
    )
    seen: list[AuthRequest] = []

    def authenticate_request(request: AuthRequest) -> Principal | None:
        seen.append(request)
        found = mtls_principal(request)
        return (
            Principal(found.subject, ["chain.write"], found.claims) if found else None
        )

    with sync_server(
        generated,
        generated.errgen,
        credentials=credentials,
        authenticate_request=authenticate_request,
    ) as (port, _):
        channel = grpc.secure_channel(
            f"127.0.0.1:{port}",
            grpc.ssl_channel_credentials(
                root_certificates=certs["ca"],
                private_key=certs["client_key"],
                certificate_chain=certs["client_cert"],
            ),
            options=(("grpc.ssl_target_name_override", "localhost"),),
        )
        with channel:
            stub = generated.pb2_grpc.ChainStub(channel)
            reply = stub.Secure(
                generated.pb2.Req(mode="whoami", name="good"), timeout=10
            )
    assert reply.principal == "client-7"
    identities = dict(seen[0].peer_identities)
    assert identities == {
        "x509_common_name": ("client-7",),
        "x509_subject_alternative_name": ("spiffe://shop.example/client-7",),
    }
    assert mtls_principal(AuthRequest.of("/a.B/C", (), "ipv4:1", {})) is None


# ------------------------------------------------------------------ aio handler mistakes


async def test_aio_handler_mistakes_and_cancelled_stream(
    generated: Generated, records: Callable[[], list[logging.LogRecord]]
) -> None:
    started = asyncio.Event()

    class Servicer(generated.pb2_grpc.ChainServicer):  # type: ignore[misc,name-defined]
        async def Unary(self, request: Any, context: Any) -> Any:
            if request.mode == "none":
                return None
            if request.mode == "ok-raise":
                context.set_code(grpc.StatusCode.OK)
                raise Exception()
            if request.mode == "abort-ok":  # grpc.aio alone would hang the call
                await context.abort(grpc.StatusCode.OK, "fine?")
            return generated.pb2.Resp()

        async def ClientStream(
            self, request_iterator: AsyncIterator[Any], context: Any
        ) -> Any:
            async for _ in request_iterator:
                started.set()
            # grpc.aio ends a cancelled client stream's reads as if it had been closed and cancels this task
            # only later, from its poller thread: a handler that returned at once could be recorded OK (the
            # chain waits one loop iteration, which catches most; docs/runtime.md). Awaiting something here,
            # as real handlers do, makes the cancellation certain to arrive first.
            await asyncio.Event().wait()
            return generated.pb2.Resp()

    server = grpc.aio.server(
        interceptors=grpc_errgen.aio.server_interceptors(
            generated.errgen, authenticate=writer
        )
    )
    generated.pb2_grpc.add_ChainServicer_to_server(Servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = generated.pb2_grpc.ChainStub(channel)
            for mode in ("none", "ok-raise", "abort-ok"):
                with pytest.raises(grpc.aio.AioRpcError) as raised:
                    await stub.Unary(
                        generated.pb2.Req(mode=mode, name="good"), timeout=10
                    )
                assert raised.value.code() == grpc.StatusCode.INTERNAL
            garbage: Any = channel.unary_unary(UNARY)
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await garbage(b"\xff\xff\xff", timeout=10)
            assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            gate = asyncio.Event()

            async def requests() -> AsyncIterator[Any]:
                yield generated.pb2.Req(mode="ok", name="good")
                await gate.wait()

            call = stub.ClientStream(requests(), timeout=10)
            await asyncio.wait_for(started.wait(), 10)
            call.cancel()
            gate.set()
            for _ in range(500):
                if len(call_records(records())) == 5:
                    break
                await asyncio.sleep(0.01)
    finally:
        await server.stop(None)
    codes = [r.grpc_code for r in call_records(records())]  # type: ignore[attr-defined]
    assert codes == [
        "INTERNAL",
        "INTERNAL",
        "INTERNAL",
        "INVALID_ARGUMENT",
        "CANCELLED",
    ]


async def test_aio_exception_after_the_client_left_is_cancelled_quietly(
    generated: Generated,
    records: Callable[[], list[logging.LogRecord]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Servicer(generated.pb2_grpc.ChainServicer):  # type: ignore[misc,name-defined]
        async def Bidi(
            self, request_iterator: AsyncIterator[Any], context: Any
        ) -> AsyncIterator[Any]:
            try:
                async for _ in request_iterator:
                    yield generated.pb2.Resp()
                await asyncio.Event().wait()  # ends only when grpc.aio cancels the task: no race
            except asyncio.CancelledError:
                raise RuntimeError("client left" + FORGED) from None

    server = grpc.aio.server(
        interceptors=grpc_errgen.aio.server_interceptors(
            generated.errgen, authenticate=writer
        )
    )

    def this_call() -> list[logging.LogRecord]:
        """The record of the call below (never one another call left behind, logged from another thread)."""
        return [
            r
            for r in call_records(records())
            if r.request_id == "client-left"  # type: ignore[attr-defined]
        ]

    generated.pb2_grpc.add_ChainServicer_to_server(Servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = generated.pb2_grpc.ChainStub(channel)
            gate = asyncio.Event()

            async def requests() -> AsyncIterator[Any]:
                yield generated.pb2.Req(mode="ok", name="good")
                await gate.wait()

            call = stub.Bidi(
                requests(), timeout=10, metadata=(("x-request-id", "client-left"),)
            )
            await call.read()
            call.cancel()
            gate.set()
            for _ in range(500):
                if this_call():
                    break
                await asyncio.sleep(0.01)
    finally:
        await server.stop(None)
    [record] = this_call()
    assert record.grpc_code == "CANCELLED"  # type: ignore[attr-defined]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
