"""The ``grpc.aio`` twins of ``grpc_errgen``'s server and client entry points."""

from grpc_errgen.aio.auth import bearer_token
from grpc_errgen.aio.client import client_interceptors
from grpc_errgen.aio.server import server_interceptors, with_chain
from grpc_errgen.client import channel_options

__all__ = [
    "bearer_token",
    "channel_options",
    "client_interceptors",
    "server_interceptors",
    "with_chain",
]
