"""The bundled example, end to end: the committed generated code, the full chain (sync and aio), typed clients."""

from __future__ import annotations

import inspect
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_status import rpc_status
from prometheus_client import CollectorRegistry

import grpc_errgen
import grpc_errgen.aio
from grpc_errgen import errors

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

import aio_server
import server
from client import GOOD
from shop.v1 import orders_errgen, orders_pb2, orders_pb2_grpc


@pytest.fixture(scope="module")
def sync_target() -> Iterator[tuple[str, CollectorRegistry]]:
    registry = CollectorRegistry()
    sync_server, port = server.start(0, metrics=registry)
    yield f"127.0.0.1:{port}", registry
    sync_server.stop(None)


def typed_stub(
    target: str, token: str | None
) -> tuple[grpc.Channel, orders_pb2_grpc.OrderServiceStub]:
    channel = grpc.insecure_channel(
        target, options=grpc_errgen.channel_options(orders_errgen)
    )
    interceptors = [*grpc_errgen.client_interceptors(orders_errgen)]
    if token is not None:
        interceptors = [*grpc_errgen.bearer_token(token), *interceptors]
    return channel, orders_pb2_grpc.OrderServiceStub(
        grpc.intercept_channel(channel, *interceptors)
    )


def test_sync_example_end_to_end(
    sync_target: tuple[str, CollectorRegistry], caplog: pytest.LogCaptureFixture
) -> None:
    target, registry = sync_target
    channel, alice = typed_stub(target, "alice-token")
    with channel:
        order = alice.CreateOrder(GOOD)
        assert order.id.startswith("ord-")

        bad = orders_pb2.CreateOrderRequest()
        bad.CopyFrom(GOOD)
        bad.items[0].sku = "abc"
        bad.customer_email = "nope"
        with pytest.raises(errors.ValidationError) as invalid:
            alice.CreateOrder(bad)
        assert invalid.value.details() == "invalid CreateOrderRequest: 2 violation(s)"
        assert {(v.field, v.rule) for v in invalid.value.violations} == {
            ("customer_email", "string.email"),
            ("items[0].sku", "string.pattern"),
        }

        # The generated retry policy: the store answers INVENTORY_BUSY (UNAVAILABLE) twice, then the order.
        assert alice.GetOrder(orders_pb2.GetOrderRequest(id=order.id)).id == order.id

        with pytest.raises(orders_errgen.OrderNotFound) as missing:
            alice.GetOrder(orders_pb2.GetOrderRequest(id="ord-999"))
        assert missing.value.metadata == {"order_id": "ord-999"}
        assert isinstance(missing.value, grpc.RpcError)

        exploding = orders_pb2.CreateOrderRequest()
        exploding.CopyFrom(GOOD)
        exploding.card_token = "boom-boom"
        with (
            caplog.at_level(logging.INFO, logger="grpc_errgen"),
            pytest.raises(errors.Internal) as internal,
        ):
            alice.CreateOrder(exploding)
        assert internal.value.details() == "internal error"
        assert "hunter2" not in repr(internal.value.trailing_metadata())
        assert any("hunter2" in (r.exc_text or "") for r in caplog.records)

        summary = alice.UploadItems(
            iter(
                orders_pb2.ItemUpload(
                    order_id=order.id,
                    item=orders_pb2.LineItem(sku="ABC-0001", quantity=1),
                )
                for _ in range(3)
            )
        )
        assert summary.items_added == 3
        events = alice.TrackOrders(iter([orders_pb2.TrackRequest(order_id=order.id)]))
        assert [e.order_id for e in events] == [order.id]

    nobody_channel, nobody = typed_stub(target, None)
    bob_channel, bob = typed_stub(target, "bob-token")
    with nobody_channel, bob_channel:
        with pytest.raises(errors.Unauthenticated):
            nobody.CreateOrder(GOOD)
        with pytest.raises(errors.PermissionDenied, match=r"orders\.write"):
            bob.CreateOrder(GOOD)
        listed = list(
            nobody.ListOrders(
                orders_pb2.ListOrdersRequest(customer_email="alice@example.com")
            )
        )
        assert [o.customer_email for o in listed] == ["alice@example.com"]

    handled = registry.get_sample_value(
        "grpc_server_handled_total",
        {
            "grpc_type": "unary",
            "grpc_service": "shop.v1.OrderService",
            "grpc_method": "GetOrder",
            "grpc_code": "Unavailable",
        },
    )
    assert handled == 2.0


def test_plain_grpcio_client_reads_the_details(
    sync_target: tuple[str, CollectorRegistry],
) -> None:
    """A client with no grpc-errgen at all sees standard google.rpc details."""
    target, _ = sync_target
    with grpc.insecure_channel(target) as channel:
        stub = orders_pb2_grpc.OrderServiceStub(channel)
        with pytest.raises(grpc.RpcError) as failure:
            stub.GetOrder(
                orders_pb2.GetOrderRequest(id="x"),
                metadata=[("authorization", "Bearer alice-token")],
            )
    status = rpc_status.from_call(failure.value)  # type: ignore[arg-type]
    assert status is not None
    assert failure.value.code() is grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    from google.rpc import error_details_pb2

    bad_request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad_request)
    violation = bad_request.field_violations[0]
    assert (violation.field, violation.reason, violation.description) == (
        "id",
        "string.min_len",
        "must be at least 3 characters",
    )


async def test_aio_example_end_to_end() -> None:
    aio, port = await aio_server.start(0)
    try:
        interceptors = [
            *grpc_errgen.aio.bearer_token("alice-token"),
            *grpc_errgen.aio.client_interceptors(orders_errgen),
        ]
        async with grpc.aio.insecure_channel(
            f"127.0.0.1:{port}",
            interceptors=interceptors,
            options=grpc_errgen.channel_options(orders_errgen),
        ) as channel:
            stub = orders_pb2_grpc.OrderServiceStub(channel)
            order = await stub.CreateOrder(GOOD)
            assert (
                await stub.GetOrder(orders_pb2.GetOrderRequest(id=order.id))
            ).id == order.id
            with pytest.raises(orders_errgen.OrderNotFound):
                await stub.GetOrder(orders_pb2.GetOrderRequest(id="ord-999"))
            with pytest.raises(errors.ValidationError) as invalid:
                await stub.CreateOrder(orders_pb2.CreateOrderRequest())
            assert "shipping" in {v.field for v in invalid.value.violations}
            listed = [
                o
                async for o in stub.ListOrders(
                    orders_pb2.ListOrdersRequest(customer_email="alice@example.com")
                )
            ]
            assert len(listed) == 1
    finally:
        await aio.stop(None)


def test_non_ascii_field_paths_travel(
    sync_target: tuple[str, CollectorRegistry],
) -> None:
    """Violations naming a non-ASCII map key still arrive (the JSON trailer is plain text: escaped)."""
    target, _ = sync_target
    request = orders_pb2.CreateOrderRequest()
    request.CopyFrom(GOOD)
    request.labels["é" * 40] = "x"
    channel, alice = typed_stub(target, "alice-token")
    with channel, pytest.raises(errors.ValidationError) as invalid:
        alice.CreateOrder(request)
    assert [(v.field, v.rule) for v in invalid.value.violations] == [
        ('labels["' + "é" * 40 + '"]', "string.max_len")
    ]
    error_details = dict(invalid.value.trailing_metadata())["error-details"]
    assert "\\u00e9" in error_details


def test_mapped_and_internal_errors_carry_standard_details(
    sync_target: tuple[str, CollectorRegistry],
) -> None:
    """KeyError (mapped by the proto to NOT_FOUND) and a handler bug (INTERNAL), read by a plain grpcio client."""
    from google.rpc import error_details_pb2

    target, _ = sync_target
    auth = [("authorization", "Bearer alice-token")]
    exploding = orders_pb2.CreateOrderRequest()
    exploding.CopyFrom(GOOD)
    exploding.card_token = "boom-boom"
    upload = orders_pb2.ItemUpload(
        order_id="ord-404", item=orders_pb2.LineItem(sku="ABC-0001", quantity=1)
    )
    with grpc.insecure_channel(target) as channel:
        stub = orders_pb2_grpc.OrderServiceStub(channel)
        outcomes = []
        for call in (
            lambda: stub.UploadItems(iter([upload]), metadata=auth),
            lambda: stub.CreateOrder(exploding, metadata=auth),
        ):
            with pytest.raises(grpc.RpcError) as failure:
                call()
            outcomes.append(failure.value)
    expected = [
        (grpc.StatusCode.NOT_FOUND, "no such order", "NOT_FOUND"),
        (grpc.StatusCode.INTERNAL, "internal error", "INTERNAL"),
    ]
    for error, (code, message, reason) in zip(outcomes, expected, strict=True):
        assert error.code() is code  # type: ignore[attr-defined]
        assert error.details() == message  # type: ignore[attr-defined]
        status = rpc_status.from_call(error)  # type: ignore[arg-type]
        assert status is not None
        info = error_details_pb2.ErrorInfo()
        assert status.details[0].Unpack(info)
        assert (info.reason, info.domain) == (reason, "grpc-errgen")
        assert "hunter2" not in repr(error.trailing_metadata())  # type: ignore[attr-defined]


def test_track_orders_does_not_echo_unbounded_ids(
    sync_target: tuple[str, CollectorRegistry],
) -> None:
    # TrackRequest.order_id has no max_len: the service cuts what it echoes into OrderNotFound.
    channel, alice = typed_stub(sync_target[0], "alice-token")
    with channel:
        for order_id in ("ord-0", "x" * 100_000):
            with pytest.raises(orders_errgen.OrderNotFound) as missing:
                list(
                    alice.TrackOrders(
                        iter([orders_pb2.TrackRequest(order_id=order_id)])
                    )
                )
            echoed = missing.value.metadata["order_id"]
            assert echoed == order_id[:64] + ("..." if len(order_id) > 64 else "")
            assert order_id[:100] not in missing.value.details()


async def test_the_example_test_suite_passes() -> None:
    # examples/test_orders.py shows users how to test behind the chain with grpc_errgen.testing: run its tests.
    import test_orders

    tests = [
        getattr(test_orders, name)
        for name in dir(test_orders)
        if name.startswith("test_")
    ]
    assert len(tests) >= 4
    for test in tests:
        if inspect.iscoroutinefunction(test):
            await test()
        else:
            test()
