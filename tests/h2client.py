"""A raw HTTP/2 gRPC client (the ``h2`` package over a plain socket) for what grpcio's own client refuses to
send: control characters in metadata, method paths no stub has, bytes no serializer made.

``call(port, path, body, headers)`` sends one unary request (``body`` is the serialized message, framed
here) and returns the response messages and every header and trailer the server sent, decoded as latin-1.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events


@dataclass
class Reply:
    headers: dict[str, str] = field(default_factory=dict)
    trailers: dict[str, str] = field(default_factory=dict)
    messages: list[bytes] = field(default_factory=list)

    @property
    def status(self) -> int | None:
        """The grpc-status code number (from trailers, or from headers in a trailers-only response)."""
        value = self.trailers.get("grpc-status", self.headers.get("grpc-status"))
        return None if value is None else int(value)

    @property
    def metadata(self) -> dict[str, str]:
        """Headers and trailers together (a trailers-only response has everything in its headers)."""
        return {**self.headers, **self.trailers}

    @property
    def message(self) -> str:
        return self.trailers.get("grpc-message", self.headers.get("grpc-message", ""))


def frame(message: bytes) -> bytes:
    """One gRPC length-prefixed message, uncompressed."""
    return struct.pack(">?I", False, len(message)) + message


def call(
    port: int,
    path: bytes,
    body: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    timeout: float = 10.0,
) -> Reply:
    """One unary call to ``127.0.0.1:port`` with ``headers`` sent as they are (no validation)."""
    config = h2.config.H2Configuration(
        client_side=True,
        header_encoding=None,
        validate_outbound_headers=False,
        normalize_outbound_headers=False,
        validate_inbound_headers=False,
    )
    connection = h2.connection.H2Connection(config=config)
    reply = Reply()
    buffered = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        connection.initiate_connection()
        stream = connection.get_next_available_stream_id()
        connection.send_headers(
            stream,
            [
                (b":method", b"POST"),
                (b":scheme", b"http"),
                (b":path", path),
                (b":authority", f"127.0.0.1:{port}".encode()),
                (b"content-type", b"application/grpc"),
                (b"te", b"trailers"),
                *(headers or []),
            ],
        )
        connection.send_data(stream, frame(body), end_stream=True)
        sock.sendall(connection.data_to_send())
        done = False
        while not done:
            data = sock.recv(65536)
            if not data:
                break
            for event in connection.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    reply.headers.update(_decoded(event.headers))
                elif isinstance(event, h2.events.DataReceived):
                    buffered += event.data
                    connection.acknowledge_received_data(
                        event.flow_controlled_length, event.stream_id
                    )
                elif isinstance(event, h2.events.TrailersReceived):
                    reply.trailers.update(_decoded(event.headers))
                elif isinstance(event, h2.events.StreamEnded | h2.events.StreamReset):
                    done = True
            sock.sendall(connection.data_to_send())
    while len(buffered) >= 5:
        _, length = struct.unpack(">?I", buffered[:5])
        reply.messages.append(buffered[5 : 5 + length])
        buffered = buffered[5 + length :]
    return reply


def _decoded(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {
        (key.decode("latin-1") if isinstance(key, bytes) else key): (
            value.decode("latin-1") if isinstance(value, bytes) else value
        )
        for key, value in headers
    }
