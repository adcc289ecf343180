"""Auth through the real sync chain (``grpc.server``, plain stubs): the fail-closed matrix on every arity,
scopes, the open method, ``current_principal()`` in sync and generator handlers, no mixing, no serialising.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest

import grpc_errgen
from grpc_errgen.auth import UNAUTHENTICATED_MESSAGE
from tests.auth_service import (
    LEAK,
    REACHED,
    REFUSED,
    SLOW_SECONDS,
    authenticate,
    bearer,
    sync_servicer,
    token,
    vault,
)

Metadata = tuple[tuple[str, str], ...]
KINDS = ("Get", "List", "Put", "Chat", "Admin")


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    interceptors = grpc_errgen.server_interceptors(
        vault().errgen, authenticate=authenticate, log=False
    )
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=12), interceptors=interceptors
    )
    vault().grpc.add_VaultServicer_to_server(sync_servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(None)


@pytest.fixture(scope="module")
def stub(target: str) -> Iterator[Any]:
    with grpc.insecure_channel(target) as channel:
        yield vault().grpc.VaultStub(channel)


def call(stub: Any, kind: str, metadata: Metadata, text: str) -> list[Any]:
    """One call of ``kind``; every response it returns (raises ``grpc.RpcError`` when the call fails)."""
    req = vault().pb2.Req
    if kind == "List":
        return list(stub.List(req(text=text), metadata=metadata))
    if kind == "Put":
        return [stub.Put(iter([req(text=text), req(text=text)]), metadata=metadata)]
    if kind == "Chat":
        return list(
            stub.Chat(iter([req(text=text), req(text=text)]), metadata=metadata)
        )
    return [getattr(stub, kind)(req(text=text), metadata=metadata)]


def refused(stub: Any, kind: str, metadata: Metadata) -> grpc.RpcError:
    text = f"refused-{uuid.uuid4()}"
    with pytest.raises(grpc.RpcError) as info:
        call(stub, kind, metadata, text)
    assert not any(
        text in seen for seen in REACHED
    ), "a refused call reached the handler"
    return info.value


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", sorted(REFUSED))
def test_unauthenticated_never_reaches_handler(stub: Any, kind: str, case: str) -> None:
    error: Any = refused(stub, kind, REFUSED[case])
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details() == UNAUTHENTICATED_MESSAGE
    assert LEAK not in repr(error.trailing_metadata())


@pytest.mark.parametrize(
    ("kind", "scope", "missing"),
    [
        ("Get", "", "x"),
        ("List", "y", "x"),
        ("Put", "admin", "x"),
        ("Chat", "", "x"),
        ("Admin", "x", "admin"),
        ("Admin", "admin", "x"),
        ("Admin", "", "admin x"),
    ],
)
def test_under_scoped_is_permission_denied(
    stub: Any, kind: str, scope: str, missing: str
) -> None:
    error: Any = refused(stub, kind, bearer(token(scope=scope)))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error.details() == f"missing scopes: {missing}"


@pytest.mark.parametrize("kind", KINDS)
def test_valid_token_reaches_handler_with_principal(stub: Any, kind: str) -> None:
    responses = call(stub, kind, bearer(token("alice", "x admin")), "ok")
    assert responses and all(
        r.subject == "alice" and list(r.scopes) == ["admin", "x"] for r in responses
    )


def test_open_method_in_auth_service(stub: Any) -> None:
    req = vault().pb2.Req
    assert stub.Health(req(text="h")).subject == ""
    for case, metadata in REFUSED.items():
        assert stub.Health(req(text=case), metadata=metadata).subject == "", case
    # A valid token still gives the principal, whatever its scopes.
    assert (
        stub.Health(req(text="h"), metadata=bearer(token("bob", ""))).subject == "bob"
    )


def test_principals_never_mix_across_concurrent_calls(stub: Any) -> None:
    def one(i: int) -> list[str]:
        kind = ("Get", "List", "Put", "Chat", "Health")[i % 5]
        subject = f"user{i}"
        return [
            r.subject for r in call(stub, kind, bearer(token(subject, "x")), f"mix-{i}")
        ]

    with futures.ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(one, range(40)))
    for i, subjects in enumerate(results):
        assert subjects and set(subjects) == {f"user{i}"}
    # And nothing leaks into a later anonymous call on the same threads.
    req = vault().pb2.Req
    assert {stub.Health(req(text="after")).subject for _ in range(12)} == {""}


def test_slow_authenticator_does_not_serialise_the_server(stub: Any) -> None:
    tokens = [token(f"slow{i}", "x") for i in range(6)]
    req = vault().pb2.Req
    started = time.perf_counter()
    with futures.ThreadPoolExecutor(max_workers=6) as pool:
        subjects = list(
            pool.map(
                lambda t: stub.Get(req(text="slow"), metadata=bearer(t)).subject, tokens
            )
        )
    elapsed = time.perf_counter() - started
    assert subjects == [f"slow{i}" for i in range(6)]
    assert (
        elapsed < 1.0
    ), f"6 calls with a {SLOW_SECONDS}s authenticator took {elapsed:.2f}s"


def test_chain_without_authenticate_refuses_to_start() -> None:
    with pytest.raises(ValueError, match="authenticate"):
        grpc_errgen.server_interceptors(vault().errgen, log=False)


def test_bearer_token_client_helper_end_to_end(target: str) -> None:
    interceptors = grpc_errgen.bearer_token(lambda: token("dave", "x admin"))
    with grpc.insecure_channel(target) as channel:
        stub = vault().grpc.VaultStub(grpc.intercept_channel(channel, *interceptors))
        for kind in KINDS:
            assert {r.subject for r in call(stub, kind, (), "helper")} == {"dave"}, kind
