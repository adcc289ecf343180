"""``grpc.aio`` auth helpers: the bearer-token client interceptors and the coroutine JWT authenticator.

grpc.aio files each client interceptor under the first RPC kind it implements (grpc#34537), so there is
one class per kind here, and ``bearer_token`` returns all four.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from typing import TypeVar

import grpc
import grpc.aio

from grpc_errgen import auth
from grpc_errgen.context import Principal

_TRequest = TypeVar("_TRequest")
_TResponse = TypeVar("_TResponse")


class JWTAuthenticator(auth.JWTAuthenticator):
    """``grpc_errgen.auth.JWTAuthenticator`` as a coroutine: ``await JWTAuthenticator(key)(token, method)``.

    Verification is CPU-only and quick, so it runs inline on the event loop.
    """

    async def __call__(self, token: str, method: str) -> Principal:  # type: ignore[override]
        return super().__call__(token, method)


class _BearerToken:
    def __init__(self, token: auth.TokenSource) -> None:
        self._token = token

    def _details(
        self, details: grpc.aio.ClientCallDetails
    ) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(
            *auth.with_authorization(details.metadata, self._token)
        )
        return grpc.aio.ClientCallDetails(
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            details.wait_for_ready,
        )


class BearerTokenUnaryUnary(_BearerToken, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(
        self,
        continuation: Callable[
            [grpc.aio.ClientCallDetails, _TRequest],
            Awaitable[grpc.aio.UnaryUnaryCall[_TRequest, _TResponse]],
        ],
        client_call_details: grpc.aio.ClientCallDetails,
        request: _TRequest,
    ) -> _TResponse | grpc.aio.UnaryUnaryCall[_TRequest, _TResponse]:
        return await continuation(self._details(client_call_details), request)


class BearerTokenUnaryStream(_BearerToken, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(
        self,
        continuation: Callable[
            [grpc.aio.ClientCallDetails, _TRequest],
            Awaitable[grpc.aio.UnaryStreamCall[_TRequest, _TResponse]],
        ],
        client_call_details: grpc.aio.ClientCallDetails,
        request: _TRequest,
    ) -> AsyncIterator[_TResponse] | grpc.aio.UnaryStreamCall[_TRequest, _TResponse]:
        return await continuation(self._details(client_call_details), request)


class BearerTokenStreamUnary(_BearerToken, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(
        self,
        continuation: Callable[
            [
                grpc.aio.ClientCallDetails,
                AsyncIterable[_TRequest] | Iterable[_TRequest],
            ],
            Awaitable[grpc.aio.StreamUnaryCall[_TRequest, _TResponse]],
        ],
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: AsyncIterable[_TRequest] | Iterable[_TRequest],
    ) -> grpc.aio.StreamUnaryCall[_TRequest, _TResponse]:
        return await continuation(self._details(client_call_details), request_iterator)


class BearerTokenStreamStream(_BearerToken, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(
        self,
        continuation: Callable[
            [
                grpc.aio.ClientCallDetails,
                AsyncIterable[_TRequest] | Iterable[_TRequest],
            ],
            Awaitable[grpc.aio.StreamStreamCall[_TRequest, _TResponse]],
        ],
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: AsyncIterable[_TRequest] | Iterable[_TRequest],
    ) -> AsyncIterator[_TResponse] | grpc.aio.StreamStreamCall[_TRequest, _TResponse]:
        return await continuation(self._details(client_call_details), request_iterator)


def bearer_token(token: auth.TokenSource) -> list[grpc.aio.ClientInterceptor]:
    """aio client interceptors sending ``authorization: Bearer <token>`` on every call, one per RPC kind.

    ``token`` is the token, or a function returning it, called on every call (for tokens that refresh).
    Use as ``grpc.aio.insecure_channel(target, interceptors=grpc_errgen.aio.bearer_token(token))``.
    """
    if not callable(token):
        auth.authorization_header(
            token
        )  # fail now on a malformed fixed token, not on the first call
    return [
        BearerTokenUnaryUnary(token),
        BearerTokenUnaryStream(token),
        BearerTokenStreamUnary(token),
        BearerTokenStreamStream(token),
    ]
