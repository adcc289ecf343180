"""``grpc_errgen.testing``: ``as_principal`` for calling handlers directly; ``serve``/``aio_serve`` are used
by tests/test_rich_errors.py and examples/test_orders.py."""

from __future__ import annotations

import asyncio

from grpc_errgen import Principal, current_principal
from grpc_errgen.testing import as_principal


def test_as_principal_sets_and_restores() -> None:
    alice = Principal("alice", scopes={"orders"})
    assert current_principal() is None
    with as_principal(alice) as given:
        assert given is alice and current_principal() is alice
        with as_principal(None):
            assert current_principal() is None
        assert current_principal() is alice
    assert current_principal() is None


async def test_as_principal_in_coroutines() -> None:
    bob = Principal("bob")

    async def handler() -> Principal | None:
        await asyncio.sleep(0)
        return current_principal()

    with as_principal(bob):
        assert await handler() is bob
        assert await asyncio.create_task(handler()) is bob
    assert await handler() is None
