"""grpc-errgen: generated validators, error classes and policies for gRPC services, and the runtime they plug into.

Server: ``server_interceptors(*modules, authenticate=..., log=True, metrics=None)`` (``grpc_errgen.aio`` for
``grpc.aio``, imported with this package). Client: ``client_interceptors(*modules)``,
``channel_options(*modules)``, ``bearer_token(token)``, ``CircuitBreaker``.
Handlers: ``current_principal()``, ``require_principal()``, ``current_request_id()``,
``time_remaining()``. Auth: ``Principal``,
``AuthRequest``. Messages: ``validate(msg)``, ``violations(msg)``.
"""

# Last: the aio twins build on the modules above (``grpc_errgen.aio.server_interceptors`` after ``import grpc_errgen``).
from grpc_errgen import aio
from grpc_errgen.auth import AuthRequest, bearer_token, require_principal
from grpc_errgen.breaker import CircuitBreaker
from grpc_errgen.client import channel_options, client_interceptors
from grpc_errgen.context import Principal, current_principal, current_request_id
from grpc_errgen.deadline import time_remaining
from grpc_errgen.errors import (
    FieldPathElement,
    RpcException,
    ValidationError,
    ValidationRuntimeError,
    Violation,
)
from grpc_errgen.server import server_interceptors, with_chain
from grpc_errgen.validation import validate, violations

__all__ = [
    "AuthRequest",
    "CircuitBreaker",
    "FieldPathElement",
    "Principal",
    "RpcException",
    "ValidationError",
    "ValidationRuntimeError",
    "Violation",
    "aio",
    "bearer_token",
    "channel_options",
    "client_interceptors",
    "current_principal",
    "current_request_id",
    "require_principal",
    "server_interceptors",
    "time_remaining",
    "validate",
    "violations",
    "with_chain",
]
