"""The auth decision without a server: token parsing, fail-closed rules, scopes, the refuse-to-start check."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from grpc_errgen import errors
from grpc_errgen.auth import (
    UNAUTHENTICATED_MESSAGE,
    authorize,
    authorize_async,
    bearer_token_from,
    check_authenticator,
)
from grpc_errgen.context import Principal
from grpc_errgen.policy import MethodPolicy

SECRET_TEXT = "db-password-hunter2"

AUTH = MethodPolicy(
    "/authunit.S/Guarded",
    "authunit.S",
    "Guarded",
    "unary_unary",
    auth_required=True,
    scopes=frozenset({"read", "x"}),
)
OPEN = MethodPolicy("/authunit.S/Open", "authunit.S", "Open", "unary_unary")

ALICE = Principal("alice", frozenset({"read", "x", "extra"}), {"sub": "alice"})
BOB = Principal("bob", frozenset({"read"}))


def authenticate(token: str, method: str) -> Principal | None:
    """Known tokens: ``alice`` (all scopes), ``bob`` (``read`` only), ``boom`` raises, ``odd`` returns a str."""
    if token == "boom":
        raise RuntimeError(f"backend down: {SECRET_TEXT}")
    if token == "odd":
        return "alice"  # type: ignore[return-value]
    return {"alice": ALICE, "bob": BOB}.get(token)


def bearer(value: str) -> list[tuple[str, str | bytes]]:
    return [("x-other", "1"), ("authorization", value)]


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        (bearer("Bearer abc.def"), "abc.def"),
        (bearer("bearer abc"), "abc"),
        (bearer("BEARER   abc  "), "abc"),
        ([("Authorization", b"Bearer abc")], "abc"),
        (bearer("Basic abc"), None),
        (bearer("Bearer"), None),
        (bearer("Bearer "), None),
        (bearer("abc"), None),
        (bearer("Bearer a b"), None),
        (bearer("Token abc"), None),
        ([("authorization", b"Bearer \xff")], None),
        ([("authorization", "Bearer a"), ("authorization", "Bearer b")], None),
        ([], None),
        (None, None),
    ],
)
def test_bearer_token_from(
    metadata: list[tuple[str, str | bytes]] | None, expected: str | None
) -> None:
    assert bearer_token_from(metadata) == expected


def test_valid_token_with_scopes_gives_principal() -> None:
    assert authorize(AUTH, bearer("Bearer alice"), authenticate) is ALICE


@pytest.mark.parametrize(
    "metadata",
    [
        [],
        bearer("Basic alice"),
        bearer("alice"),
        bearer("Bearer nobody"),
        bearer("Bearer odd"),
        bearer("Bearer"),
    ],
    ids=["missing", "wrong-scheme", "no-scheme", "unknown", "not-a-principal", "empty"],
)
def test_required_refuses_without_principal(
    metadata: list[tuple[str, str | bytes]],
) -> None:
    with pytest.raises(errors.Unauthenticated) as info:
        authorize(AUTH, metadata, authenticate)
    assert info.value.code().name == "UNAUTHENTICATED"
    assert info.value.details() == UNAUTHENTICATED_MESSAGE


def test_exploding_authenticate_is_logged_not_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with (
        caplog.at_level(logging.DEBUG, logger="grpc_errgen"),
        pytest.raises(errors.Unauthenticated) as info,
    ):
        authorize(AUTH, bearer("Bearer boom"), authenticate)
    assert info.value.details() == UNAUTHENTICATED_MESSAGE
    assert SECRET_TEXT not in str(info.value)
    assert SECRET_TEXT in caplog.text
    assert "/authunit.S/Guarded" in caplog.text


def test_missing_scopes_are_named() -> None:
    with pytest.raises(errors.PermissionDenied) as info:
        authorize(AUTH, bearer("Bearer bob"), authenticate)
    assert info.value.details() == "missing scopes: x"


def test_no_authenticate_on_required_method_fails_closed() -> None:
    with pytest.raises(errors.Unauthenticated):
        authorize(AUTH, bearer("Bearer alice"), None)


@pytest.mark.parametrize("policy", [OPEN, None], ids=["no-auth", "unknown-method"])
def test_optional_auth_gives_principal_or_none(policy: MethodPolicy | None) -> None:
    seen: list[str] = []

    def recording(token: str, method: str) -> Principal | None:
        seen.append(method)
        return authenticate(token, method)

    assert (
        authorize(policy, bearer("Bearer alice"), recording, method="/authunit.S/Else")
        is ALICE
    )
    # Scopes only matter where auth is required: bob passes an open method.
    assert (
        authorize(policy, bearer("Bearer bob"), recording, method="/authunit.S/Else")
        is BOB
    )
    for bad in ("Bearer nobody", "Bearer boom", "Bearer odd", "Basic alice"):
        assert (
            authorize(policy, bearer(bad), recording, method="/authunit.S/Else") is None
        )
    assert authorize(policy, [], recording) is None
    assert authorize(policy, bearer("Bearer alice"), None) is None
    assert set(seen) == {"/authunit.S/Open" if policy else "/authunit.S/Else"}


async def async_authenticate(token: str, method: str) -> Principal | None:
    return authenticate(token, method)


@pytest.mark.parametrize(
    "fn", [async_authenticate, authenticate], ids=["coroutine", "plain"]
)
async def test_authorize_async_same_decisions(fn: object) -> None:
    assert await authorize_async(AUTH, bearer("Bearer alice"), fn) is ALICE  # type: ignore[arg-type]
    for bad in ("Bearer nobody", "Bearer boom", "Bearer odd", "Basic alice"):
        with pytest.raises(errors.Unauthenticated):
            await authorize_async(AUTH, bearer(bad), fn)  # type: ignore[arg-type]
    with pytest.raises(errors.PermissionDenied, match="missing scopes: x"):
        await authorize_async(AUTH, bearer("Bearer bob"), fn)  # type: ignore[arg-type]
    assert await authorize_async(OPEN, bearer("Bearer boom"), fn) is None  # type: ignore[arg-type]
    assert await authorize_async(None, bearer("Bearer bob"), fn) is BOB  # type: ignore[arg-type]


def test_check_authenticator_refuses_to_start() -> None:
    methods = {AUTH.full_method: AUTH, OPEN.full_method: OPEN}
    with pytest.raises(ValueError, match=r"/authunit\.S/Guarded") as info:
        check_authenticator(methods, None)
    assert "/authunit.S/Open" not in str(info.value)
    check_authenticator(methods, authenticate)
    check_authenticator({OPEN.full_method: OPEN}, None)
    with pytest.raises(TypeError):
        check_authenticator(methods, "not callable")


def test_principal_scopes_take_any_iterable_of_strings() -> None:
    # No type: ignore: the annotation accepts any iterable (mypy --strict runs on the tests' callers too).
    assert Principal("carol", ["a", "b", "a"]).scopes == frozenset({"a", "b"})
    assert Principal("carol", {"a"}).scopes == frozenset({"a"})
    assert Principal("carol", (s for s in ("a", "b"))).scopes == frozenset({"a", "b"})
    assert Principal("carol").scopes == frozenset()
    assert Principal("carol", ["a"], {"tenant": "t"}).claims == {"tenant": "t"}


def test_principal_refuses_a_bare_str_and_non_strings() -> None:
    with pytest.raises(TypeError, match="not a bare str"):
        Principal("carol", "admin")
    with pytest.raises(TypeError, match="not a bare bytes"):
        Principal("carol", b"admin")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be strings, not int"):
        Principal("carol", [1])  # type: ignore[list-item]


TYPED_USE = """
from prometheus_client import CollectorRegistry

import grpc_errgen
from grpc_errgen.auth import AuthRequest, mtls_principal


def principals() -> list[grpc_errgen.Principal]:
    return [
        grpc_errgen.Principal("a", ["x", "y"]),
        grpc_errgen.Principal("b", {"x"}),
        grpc_errgen.Principal("c", (s for s in "xy"), {"k": 1}),
    ]


def subject() -> str:
    return grpc_errgen.require_principal().subject  # not Optional


def authenticate_request(request: AuthRequest) -> grpc_errgen.Principal | None:
    return mtls_principal(request)


chain = grpc_errgen.server_interceptors(
    metrics=CollectorRegistry(), authenticate_request=authenticate_request
)
aio_chain = grpc_errgen.aio.server_interceptors(metrics=CollectorRegistry())
"""


def test_public_api_types_check_strictly(tmp_path: Path) -> None:
    """Scopes take any iterable, ``metrics`` is a registry (not Any), ``require_principal`` is not Optional."""
    good = tmp_path / "good.py"
    good.write_text(TYPED_USE)
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import grpc_errgen\n"
        "grpc_errgen.server_interceptors(metrics=42)\n"
        "x: None = grpc_errgen.require_principal()\n"
    )
    command = [sys.executable, "-m", "mypy", "--strict", "--no-incremental"]
    passed = subprocess.run([*command, str(good)], capture_output=True, text=True)
    assert passed.returncode == 0, passed.stdout
    failed = subprocess.run([*command, str(bad)], capture_output=True, text=True)
    assert failed.returncode == 1
    assert failed.stdout.count("error:") == 2, failed.stdout


def test_authenticate_refusing_with_its_own_code() -> None:
    def down(token: str, method: str) -> Principal | None:
        raise errors.Unavailable("identity provider down")

    with pytest.raises(errors.Unavailable, match="identity provider down"):
        authorize(AUTH, bearer("Bearer t"), down)
    # On an rpc without auth, a refusal of any kind means no principal, never an error.
    assert authorize(OPEN, bearer("Bearer t"), down) is None
    # Anything else stays UNAUTHENTICATED with the fixed message.
    with pytest.raises(errors.Unauthenticated) as info:
        authorize(AUTH, bearer("Bearer boom"), authenticate)
    assert SECRET_TEXT not in info.value.details()
