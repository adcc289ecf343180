"""Auth: bearer tokens in, principals out, scopes checked; JWT verification; the client's token helper.

The server chain (``server.py``, ``aio/server.py``) calls ``authorize`` / ``authorize_async`` inside the
wrapped handler of every call, with the method's policy from the generated tables:

- the token is the ``<token>`` of an ``authorization: Bearer <token>`` header (scheme case-insensitive);
  any other value, or more than one ``authorization`` header, counts as no token;
- on a method with ``auth_required``, no token, an ``authenticate`` that returns None (or anything but a
  ``Principal``) or raises, all end the call with UNAUTHENTICATED and one fixed message (the exception's text
  goes to the ``grpc_errgen`` log only); a principal without every required scope ends it with
  PERMISSION_DENIED naming the missing scopes;
- on a method without auth, or one the tables do not know (policy None), a valid token still gives the
  principal and anything else gives None, never an error.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeAlias

import grpc

from grpc_errgen import errors
from grpc_errgen.client import CallDetails
from grpc_errgen.context import Principal
from grpc_errgen.policy import MethodPolicy

logger = logging.getLogger("grpc_errgen")

#: ``authenticate(token, full_method_name)``: the caller's principal, or None (or raise) to refuse the token.
Authenticator: TypeAlias = Callable[[str, str], Principal | None]
#: The ``grpc.aio`` form: a coroutine function with the same arguments.
AsyncAuthenticator: TypeAlias = Callable[[str, str], Awaitable[Principal | None]]

#: The one message every UNAUTHENTICATED refusal carries: it tells the client nothing about why.
UNAUTHENTICATED_MESSAGE = "missing or invalid credentials"

AUTHORIZATION_KEY = "authorization"
BEARER_SCHEME = "bearer"

MetadataPairs = Sequence[tuple[str, str | bytes]]


# ---------------------------------------------------------------- server side


def check_authenticator(
    methods: Mapping[str, MethodPolicy], authenticate: object | None
) -> None:
    """Refuse to build a chain that serves methods needing auth without an ``authenticate`` to check them."""
    if authenticate is not None:
        if not callable(authenticate):
            raise TypeError(
                f"authenticate must be callable, not {type(authenticate).__name__}"
            )
        return
    needing = sorted(name for name, policy in methods.items() if policy.auth_required)
    if needing:
        shown = ", ".join(needing[:5]) + (
            f" and {len(needing) - 5} more" if len(needing) > 5 else ""
        )
        raise ValueError(
            f"{len(needing)} method(s) require auth ({shown}) but no authenticate= was given to "
            "server_interceptors(); pass authenticate=fn(token, method) -> Principal | None"
        )


def bearer_token_from(metadata: MetadataPairs | None) -> str | None:
    """The token of the single ``authorization: Bearer <token>`` header, or None."""
    values = [
        value for key, value in metadata or () if key.lower() == AUTHORIZATION_KEY
    ]
    if len(values) != 1:
        return None
    value = values[0]
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    parts = value.split()
    if len(parts) != 2 or parts[0].lower() != BEARER_SCHEME:
        return None
    return parts[1]


def authorize(
    policy: MethodPolicy | None,
    metadata: MetadataPairs | None,
    authenticate: Authenticator | None,
    *,
    method: str = "",
) -> Principal | None:
    """The caller's principal for this call, or None on an rpc without auth; raises to refuse the call.

    ``method`` names the rpc for ``authenticate`` when ``policy`` is None (a method the tables do not know).
    """
    request = _AuthRequest(policy, metadata, method)
    if request.token is None or authenticate is None:
        return request.decide(None)
    try:
        outcome: object = authenticate(request.token, request.method)
    except Exception as exc:
        return request.decide_failure(exc)
    return request.decide(outcome)


async def authorize_async(
    policy: MethodPolicy | None,
    metadata: MetadataPairs | None,
    authenticate: AsyncAuthenticator | Authenticator | None,
    *,
    method: str = "",
) -> Principal | None:
    """``authorize`` for ``grpc.aio``: ``authenticate`` is awaited (a plain function is accepted too)."""
    request = _AuthRequest(policy, metadata, method)
    if request.token is None or authenticate is None:
        return request.decide(None)
    try:
        outcome: object = authenticate(request.token, request.method)
        if inspect.isawaitable(outcome):
            outcome = await outcome
    except Exception as exc:
        return request.decide_failure(exc)
    return request.decide(outcome)


class _AuthRequest:
    """The decision shared by ``authorize`` and ``authorize_async``; only calling ``authenticate`` differs."""

    def __init__(
        self, policy: MethodPolicy | None, metadata: MetadataPairs | None, method: str
    ) -> None:
        self.policy = policy
        self.method = policy.full_method if policy is not None else method
        self.required = policy is not None and policy.auth_required
        self.token = bearer_token_from(metadata)

    def decide(self, outcome: object) -> Principal | None:
        """Accept a principal (checking scopes) or refuse; ``outcome`` is what ``authenticate`` returned."""
        if not isinstance(outcome, Principal):
            if self.required:
                why = (
                    "no bearer token"
                    if self.token is None
                    else f"authenticate returned {type(outcome).__name__}"
                )
                logger.info("unauthenticated call to %s: %s", self.method, why)
                raise errors.Unauthenticated(UNAUTHENTICATED_MESSAGE)
            return None
        if self.policy is not None and self.required:
            missing = self.policy.scopes - outcome.scopes
            if missing:
                names = " ".join(sorted(missing))
                logger.info(
                    "permission denied on %s for %r: missing scopes %s",
                    self.method,
                    outcome.subject,
                    names,
                )
                raise errors.PermissionDenied(f"missing scopes: {names}")
        return outcome

    def decide_failure(self, exc: Exception) -> Principal | None:
        """``authenticate`` raised: log its text here (never send it), then refuse like a None."""
        level = logging.WARNING if self.required else logging.DEBUG
        logger.log(
            level,
            "authenticate failed for %s: %s: %s",
            self.method,
            type(exc).__name__,
            exc,
        )
        return self.decide(None)


# ---------------------------------------------------------------- JWT


class JWTAuthenticator:
    """``authenticate`` for signed JWTs (PyJWT, extra ``jwt``): ``JWTAuthenticator(key)(token, method) -> Principal``.

    ``key`` is the shared secret for HS* algorithms, or the public key (PEM text/bytes or a ``cryptography``
    key; a private key is reduced to its public half) for RS*/PS*/ES*/EdDSA. ``exp`` and ``nbf`` are checked
    with ``leeway`` seconds of clock skew; ``audience`` and ``issuer``, when given, must match (a token that
    names an audience is refused when no ``audience`` is configured). The subject is ``sub``; the scopes are
    ``scope`` (space-separated) and/or ``scp`` (a list); ``claims`` holds every claim. Any failure raises,
    which the chain turns into UNAUTHENTICATED.
    """

    def __init__(
        self,
        key: Any,
        algorithms: Sequence[str] = ("HS256",),
        audience: str | Iterable[str] | None = None,
        issuer: str | Sequence[str] | None = None,
        leeway: float = 10.0,
        require: Sequence[str] = ("sub",),
    ) -> None:
        self._jwt = _import_pyjwt()
        self.algorithms = tuple(algorithms)
        _check_algorithms(self.algorithms)
        self._key = _verification_key(key, self.algorithms)
        self.audience = (
            audience
            if audience is None or isinstance(audience, str)
            else list(audience)
        )
        self.issuer = issuer
        self.leeway = leeway
        self.require = list(require)

    def __call__(self, token: str, method: str) -> Principal:
        claims: dict[str, Any] = self._jwt.decode(
            token,
            self._key,
            algorithms=list(self.algorithms),
            audience=self.audience,
            issuer=self.issuer,
            leeway=self.leeway,
            options={"require": self.require},
        )
        return principal_from_claims(claims)


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """``Principal(sub, scope/scp, claims)`` from verified JWT claims; raises ValueError on malformed ones."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise ValueError("token has no string 'sub' claim")
    scopes: set[str] = set()
    for name in ("scope", "scp"):
        value = claims.get(name)
        if value is None:
            continue
        if isinstance(value, str):
            scopes.update(value.split())
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            scopes.update(value)
        else:
            raise ValueError(
                f"token claim {name!r} is neither a string nor a list of strings"
            )
    return Principal(subject=subject, scopes=frozenset(scopes), claims=dict(claims))


def _import_pyjwt() -> Any:
    try:
        import jwt
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            "JWTAuthenticator needs PyJWT: pip install 'grpc-errgen[jwt]' (PyJWT[crypto])"
        ) from exc
    return jwt


_SYMMETRIC_PREFIX = "HS"


def _check_algorithms(algorithms: tuple[str, ...]) -> None:
    if not algorithms:
        raise ValueError("JWTAuthenticator needs at least one algorithm")
    if any(alg.lower() == "none" for alg in algorithms):
        raise ValueError(
            "JWTAuthenticator refuses the 'none' algorithm: tokens must be signed"
        )
    symmetric = {alg.startswith(_SYMMETRIC_PREFIX) for alg in algorithms}
    if len(symmetric) > 1:
        # One key cannot be both an HMAC secret and a public key: mixing them invites algorithm confusion.
        raise ValueError(
            f"JWTAuthenticator cannot mix HMAC and public-key algorithms: {', '.join(algorithms)}"
        )


_PUBLIC_KEY_MARKERS = (b"-----BEGIN", b"ssh-rsa", b"ssh-ed25519", b"ecdsa-sha2-")


def _verification_key(key: Any, algorithms: tuple[str, ...]) -> Any:
    """The key PyJWT verifies with; refuses a public key used as an HMAC secret (algorithm confusion)."""
    if algorithms[0].startswith(_SYMMETRIC_PREFIX):
        if not isinstance(key, str | bytes):
            raise TypeError("an HS* key must be the shared secret as str or bytes")
        raw = key.encode() if isinstance(key, str) else key
        if any(marker in raw for marker in _PUBLIC_KEY_MARKERS):
            raise ValueError(
                "an HS* secret must not be a PEM or SSH key (algorithm confusion)"
            )
        if not raw:
            raise ValueError("an HS* secret must not be empty")
        return raw
    if isinstance(key, str | bytes):
        return _load_pem_public_key(key.encode() if isinstance(key, str) else key)
    public_key = getattr(key, "public_key", None)
    if callable(
        public_key
    ):  # a cryptography private key object: verify with its public half
        return public_key()
    return key


def _load_pem_public_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives import serialization

    if b"PRIVATE KEY" in pem:
        return serialization.load_pem_private_key(pem, password=None).public_key()
    if pem.lstrip().startswith(b"-----BEGIN"):
        return serialization.load_pem_public_key(pem)
    return serialization.load_ssh_public_key(pem)


# ---------------------------------------------------------------- client side

#: A fixed token, or a function called on every call for the current one (refreshing tokens).
TokenSource: TypeAlias = str | Callable[[], str]


def authorization_header(token: TokenSource) -> tuple[str, str]:
    """``("authorization", "Bearer <token>")`` for this call, calling ``token`` if it is a function."""
    value = token() if callable(token) else token
    if not isinstance(value, str) or not value or any(ch.isspace() for ch in value):
        raise ValueError("a bearer token must be a non-empty string without whitespace")
    return (AUTHORIZATION_KEY, f"Bearer {value}")


def with_authorization(
    metadata: Iterable[tuple[str, str | bytes]] | None, token: TokenSource
) -> list[tuple[str, str | bytes]]:
    """``metadata`` without any ``authorization`` header, plus this call's bearer header."""
    kept = [
        (key, value)
        for key, value in metadata or ()
        if key.lower() != AUTHORIZATION_KEY
    ]
    kept.append(authorization_header(token))
    return kept


class BearerTokenInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds ``authorization: Bearer <token>`` to every call of a sync channel, all four RPC kinds."""

    def __init__(self, token: TokenSource) -> None:
        self._token = token

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        return CallDetails(
            details.method,
            details.timeout,
            with_authorization(details.metadata, self._token),
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        return continuation(self._details(client_call_details), request)

    def intercept_stream_unary(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        return continuation(self._details(client_call_details), request_iterator)

    def intercept_stream_stream(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        return continuation(self._details(client_call_details), request_iterator)


def bearer_token(token: TokenSource) -> list[BearerTokenInterceptor]:
    """Client interceptors sending ``authorization: Bearer <token>`` on every call (all four RPC kinds).

    ``token`` is the token, or a function returning it, called on every call (for tokens that refresh).
    Use as ``grpc.intercept_channel(channel, *grpc_errgen.bearer_token(token))``.
    """
    if not callable(token):
        authorization_header(
            token
        )  # fail now on a malformed fixed token, not on the first call
    return [BearerTokenInterceptor(token)]
