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
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeAlias, TypeGuard, TypeVar

import grpc

from grpc_errgen import errors
from grpc_errgen.client import CallDetails
from grpc_errgen.context import Principal, current_principal, current_request_id
from grpc_errgen.observe import printable
from grpc_errgen.policy import MethodPolicy

logger = logging.getLogger("grpc_errgen")

_TRequest = TypeVar("_TRequest")
_TResponse = TypeVar("_TResponse")

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
    methods: Mapping[str, MethodPolicy],
    authenticate: object | None,
    *,
    name: str = "authenticate",
) -> None:
    """Refuse to build a chain that serves methods needing auth without an authenticator to check them."""
    if authenticate is not None:
        if not callable(authenticate):
            raise TypeError(
                f"{name} must be callable, not {type(authenticate).__name__}"
            )
        return
    needing = sorted(name for name, policy in methods.items() if policy.auth_required)
    if needing:
        shown = ", ".join(needing[:5]) + (
            f" and {len(needing) - 5} more" if len(needing) > 5 else ""
        )
        raise ValueError(
            f"{len(needing)} method(s) require auth ({shown}) but no authenticate= was given to "
            "server_interceptors(); pass authenticate=fn(token, method) -> Principal | None "
            "(or authenticate_request=fn(AuthRequest) -> Principal | None)"
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


#: The auth-context entries of a TLS client certificate that ``AuthRequest.peer_identities`` holds.
PEER_IDENTITY_KEYS = ("x509_common_name", "x509_subject_alternative_name")


@dataclass(frozen=True)
class AuthRequest:
    """What ``authenticate_request`` sees of a call: the credentials in all their forms.

    ``method`` is the full method name (``/pkg.Service/Method``); ``token`` the bearer token of the
    ``authorization`` header (None when there is none or it is not a single ``Bearer <token>``);
    ``metadata`` the invocation metadata as a read-only mapping (the first value of each key; ``pairs`` has
    them all, in order); ``peer`` grpc's peer address (``ipv4:127.0.0.1:53412``); ``peer_identities`` the
    verified TLS client certificate's ``x509_common_name`` and ``x509_subject_alternative_name`` entries
    from grpc's auth context (empty without mutual TLS).
    """

    method: str
    token: str | None
    metadata: Mapping[str, str | bytes]
    peer: str
    peer_identities: Mapping[str, tuple[str, ...]]
    pairs: tuple[tuple[str, str | bytes], ...] = ()

    @classmethod
    def of(
        cls,
        method: str,
        metadata: MetadataPairs | None,
        peer: str,
        auth_context: Mapping[str, Any] | None,
    ) -> AuthRequest:
        """Built from what grpc gives the server chain (``context.auth_context()`` for the identities)."""
        pairs = tuple(metadata or ())
        first: dict[str, str | bytes] = {}
        for key, value in pairs:
            first.setdefault(key, value)
        identities = {
            key: tuple(
                (
                    value.decode("utf-8", "replace")
                    if isinstance(value, bytes)
                    else str(value)
                )
                for value in (auth_context or {}).get(key, ())
            )
            for key in PEER_IDENTITY_KEYS
            if (auth_context or {}).get(key)
        }
        return cls(
            method=method,
            token=bearer_token_from(pairs),
            metadata=MappingProxyType(first),
            peer=peer,
            peer_identities=MappingProxyType(identities),
            pairs=pairs,
        )


#: ``authenticate_request(request) -> Principal | None``: the alternative to ``authenticate``.
RequestAuthenticator: TypeAlias = Callable[[AuthRequest], Principal | None]
#: The ``grpc.aio`` form: a coroutine function.
AsyncRequestAuthenticator: TypeAlias = Callable[
    [AuthRequest], Awaitable[Principal | None]
]


def mtls_principal(request: AuthRequest) -> Principal | None:
    """``authenticate_request`` for mutual TLS: the client certificate's common name as the subject (its
    first subject alternative name when it has none), no scopes, and both lists in ``claims``
    (``x509_common_name``, ``x509_subject_alternative_name``); None without a verified client certificate.

    Use with ``grpc.ssl_server_credentials(..., root_certificates=CA, require_client_auth=True)``.
    """
    names = request.peer_identities.get("x509_common_name", ())
    alternatives = request.peer_identities.get("x509_subject_alternative_name", ())
    subject = next(iter(names or alternatives), None)
    if not subject:
        return None
    return Principal(
        subject,
        claims={
            "x509_common_name": list(names),
            "x509_subject_alternative_name": list(alternatives),
        },
    )


def require_principal() -> Principal:
    """The principal of the call being handled; raises ``errors.Unauthenticated`` when there is none
    (for handlers of ``auth_required`` methods, where the chain guarantees one)."""
    principal = current_principal()
    if principal is None:
        raise errors.Unauthenticated(UNAUTHENTICATED_MESSAGE)
    return principal


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
    token = bearer_token_from(metadata)
    if token is None or authenticate is None:
        return _Decision(policy, method).decide(None, "no bearer token")
    try:
        outcome: object = authenticate(token, _method_name(policy, method))
    except Exception as exc:
        return _Decision(policy, method).failed(exc)
    if _granted(outcome, policy):
        return outcome
    return _Decision(policy, method).decide(outcome)


async def authorize_async(
    policy: MethodPolicy | None,
    metadata: MetadataPairs | None,
    authenticate: AsyncAuthenticator | Authenticator | None,
    *,
    method: str = "",
) -> Principal | None:
    """``authorize`` for ``grpc.aio``: ``authenticate`` is awaited (a plain function is accepted too)."""
    token = bearer_token_from(metadata)
    if token is None or authenticate is None:
        return _Decision(policy, method).decide(None, "no bearer token")
    try:
        outcome: object = authenticate(token, _method_name(policy, method))
        if not isinstance(outcome, Principal) and inspect.isawaitable(outcome):
            outcome = await outcome
    except Exception as exc:
        return _Decision(policy, method).failed(exc)
    if _granted(outcome, policy):
        return outcome
    return _Decision(policy, method).decide(outcome)


def authorize_request(
    policy: MethodPolicy | None,
    request: AuthRequest,
    authenticate_request: RequestAuthenticator,
) -> Principal | None:
    """``authorize`` with ``authenticate_request(request)`` deciding who calls."""
    try:
        outcome: object = authenticate_request(request)
    except Exception as exc:
        return _Decision(policy, request.method, "authenticate_request").failed(exc)
    if _granted(outcome, policy):
        return outcome
    return _Decision(policy, request.method, "authenticate_request").decide(outcome)


async def authorize_request_async(
    policy: MethodPolicy | None,
    request: AuthRequest,
    authenticate_request: AsyncRequestAuthenticator | RequestAuthenticator,
) -> Principal | None:
    """``authorize_request`` for ``grpc.aio``: ``authenticate_request`` is awaited (or called)."""
    try:
        outcome: object = authenticate_request(request)
        if not isinstance(outcome, Principal) and inspect.isawaitable(outcome):
            outcome = await outcome
    except Exception as exc:
        return _Decision(policy, request.method, "authenticate_request").failed(exc)
    if _granted(outcome, policy):
        return outcome
    return _Decision(policy, request.method, "authenticate_request").decide(outcome)


def _method_name(policy: MethodPolicy | None, method: str) -> str:
    return policy.full_method if policy is not None else method


def _granted(outcome: object, policy: MethodPolicy | None) -> TypeGuard[Principal]:
    """Whether ``outcome`` is a principal the rpc takes as it is: the common case, decided without building a
    ``_Decision`` (which refuses, logs, or gives None on an rpc without auth)."""
    return isinstance(outcome, Principal) and (
        policy is None or not policy.auth_required or policy.scopes <= outcome.scopes
    )


class _Decision:
    """The decision shared by every ``authorize*``; only calling the authenticator differs."""

    def __init__(
        self, policy: MethodPolicy | None, method: str, name: str = "authenticate"
    ) -> None:
        self.policy = policy
        self.method = _method_name(policy, method)
        self.required = policy is not None and policy.auth_required
        self.name = name

    def decide(self, outcome: object, why: str | None = None) -> Principal | None:
        """Accept a principal (checking scopes) or refuse; ``outcome`` is what the authenticator returned."""
        if not isinstance(outcome, Principal):
            if self.required:
                self._log(
                    logging.INFO,
                    "unauthenticated",
                    why or f"{self.name} returned {type(outcome).__name__}",
                )
                raise errors.Unauthenticated(UNAUTHENTICATED_MESSAGE)
            return None
        if self.policy is not None and self.required:
            missing = self.policy.scopes - outcome.scopes
            if missing:
                names = " ".join(sorted(missing))
                self._log(
                    logging.INFO,
                    "permission denied",
                    f"{outcome.subject!r} lacks scopes {names}",
                )
                raise errors.PermissionDenied(f"missing scopes: {names}")
        return outcome

    def failed(self, exc: Exception) -> Principal | None:
        """The authenticator raised. An ``RpcException`` refuses with its own code (an identity provider
        that is down: UNAVAILABLE); anything else refuses with UNAUTHENTICATED, its text to the log only.
        On an rpc without auth, either gives no principal."""
        what = f"{self.name} raised {type(exc).__name__}: {exc}"
        if not self.required:
            self._log(logging.DEBUG, "no principal", what)
            return None
        if isinstance(exc, errors.RpcException):
            self._log(logging.INFO, f"refused with {exc.code().name}", what)
            raise exc
        self._log(logging.WARNING, "unauthenticated", what)
        raise errors.Unauthenticated(UNAUTHENTICATED_MESSAGE) from None

    def _log(self, level: int, outcome: str, why: str) -> None:
        if logger.isEnabledFor(level):
            logger.log(
                level,
                "%s call to %s: %s; request_id=%s",
                outcome,
                printable(self.method),
                printable(why),
                current_request_id(),
            )


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
        self.algorithms = _normalised_algorithms(self._jwt, algorithms)
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
#: RFC 7518 section 3.2: an HMAC key at least as long as the hash output.
_HMAC_KEY_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}


def _normalised_algorithms(jwt: Any, algorithms: Sequence[str]) -> tuple[str, ...]:
    """``algorithms`` spelled as PyJWT spells them (``hs256`` -> ``HS256``); refuses ``none``, unknown names,
    and HMAC mixed with public-key algorithms."""
    if isinstance(algorithms, str):
        raise TypeError(
            f"algorithms must be a sequence of names such as ({algorithms!r},), not a bare str"
        )
    if not algorithms:
        raise ValueError("JWTAuthenticator needs at least one algorithm")
    if any(str(alg).lower() == "none" for alg in algorithms):
        raise ValueError(
            "JWTAuthenticator refuses the 'none' algorithm: tokens must be signed"
        )
    known = {
        name.lower(): name
        for name in jwt.algorithms.get_default_algorithms()
        if name != "none"
    }
    names = []
    for alg in algorithms:
        name = known.get(str(alg).lower()) if isinstance(alg, str) else None
        if name is None:
            raise ValueError(
                f"JWTAuthenticator does not know the algorithm {alg!r}; known: {', '.join(sorted(known.values()))}"
            )
        names.append(name)
    symmetric = {name.startswith(_SYMMETRIC_PREFIX) for name in names}
    if len(symmetric) > 1:
        # One key cannot be both an HMAC secret and a public key: mixing them invites algorithm confusion.
        raise ValueError(
            f"JWTAuthenticator cannot mix HMAC and public-key algorithms: {', '.join(names)}"
        )
    return tuple(names)


_PUBLIC_KEY_MARKERS = (b"-----BEGIN", b"ssh-rsa", b"ssh-ed25519", b"ecdsa-sha2-")


def _verification_key(key: Any, algorithms: tuple[str, ...]) -> Any:
    """The key PyJWT verifies with; refuses a public key used as an HMAC secret (algorithm confusion)."""
    if algorithms[0].startswith(_SYMMETRIC_PREFIX):
        if not isinstance(key, str | bytes):
            raise TypeError("an HS* key must be the shared secret as str or bytes")
        raw = key.encode() if isinstance(key, str) else key
        if any(marker in raw for marker in _PUBLIC_KEY_MARKERS) or _is_der_key(raw):
            raise ValueError(
                "an HS* secret must not be a PEM, DER or SSH key (algorithm confusion)"
            )
        shortest = max(_HMAC_KEY_BYTES[alg] for alg in algorithms)
        if len(raw) < shortest:
            raise ValueError(
                f"an HS* secret must be at least {shortest} bytes for {', '.join(algorithms)},"
                f" not {len(raw)} (RFC 7518 section 3.2: a shorter secret can be guessed offline)"
            )
        return raw
    if isinstance(key, str | bytes):
        return _load_pem_public_key(key.encode() if isinstance(key, str) else key)
    public_key = getattr(key, "public_key", None)
    if callable(
        public_key
    ):  # a cryptography private key object: verify with its public half
        return public_key()
    return key


def _is_der_key(raw: bytes) -> bool:
    """Whether ``raw`` is a DER-encoded public key, private key or certificate (a SEQUENCE that
    ``cryptography`` loads as one); always False without ``cryptography``."""
    if not raw.startswith(b"\x30"):
        return False
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
    except (
        ImportError
    ):  # pragma: no cover - PyJWT without the crypto extra cannot verify public keys anyway
        return False
    loaders: tuple[Callable[[bytes], object], ...] = (
        serialization.load_der_public_key,
        lambda data: serialization.load_der_private_key(data, password=None),
        x509.load_der_x509_certificate,
    )
    for load in loaders:
        try:
            load(raw)
        except Exception:  # not this kind of DER: try the next
            continue
        return True
    return False


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
        self,
        continuation: Callable[
            [grpc.ClientCallDetails, _TRequest], grpc._CallFuture[_TResponse]
        ],
        client_call_details: grpc.ClientCallDetails,
        request: _TRequest,
    ) -> grpc._CallFuture[_TResponse]:
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(
        self,
        continuation: Callable[
            [grpc.ClientCallDetails, _TRequest], grpc._CallIterator[_TResponse]
        ],
        client_call_details: grpc.ClientCallDetails,
        request: _TRequest,
    ) -> grpc._CallIterator[_TResponse]:
        return continuation(self._details(client_call_details), request)

    def intercept_stream_unary(
        self,
        continuation: Callable[
            [grpc.ClientCallDetails, Iterator[_TRequest]], grpc._CallFuture[_TResponse]
        ],
        client_call_details: grpc.ClientCallDetails,
        request_iterator: Iterator[_TRequest],
    ) -> grpc._CallFuture[_TResponse]:
        return continuation(self._details(client_call_details), request_iterator)

    def intercept_stream_stream(
        self,
        continuation: Callable[
            [grpc.ClientCallDetails, Iterator[_TRequest]],
            grpc._CallIterator[_TResponse],
        ],
        client_call_details: grpc.ClientCallDetails,
        request_iterator: Iterator[_TRequest],
    ) -> grpc._CallIterator[_TResponse]:
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
