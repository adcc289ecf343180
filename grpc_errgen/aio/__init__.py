"""The ``grpc.aio`` twins of ``grpc_errgen``'s server and client entry points."""
