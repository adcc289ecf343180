"""Native gRPC retries from the generated retry policy: ``channel_options(module)`` turns them on.

The shop's ``Get`` declares ``retry { max_attempts: 3, retryable_codes: [UNAVAILABLE] }``; its ``flaky`` mode
answers UNAVAILABLE twice per ``key`` (``context.abort``, before any message or initial metadata), then
succeeds; with and without grpc-errgen's server chain in front (which must not send initial metadata).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import grpc
import pytest

from grpc_errgen import aio, channel_options, client_interceptors, errors
from tests.client_service import aio_server, shop, sync_server


def test_channel_options_carry_the_generated_service_config() -> None:
    options = dict(channel_options(shop().errgen))
    assert options["grpc.enable_retries"] == 1
    config = json.loads(options["grpc.service_config"])
    assert config == json.loads(shop().errgen.SERVICE_CONFIG)
    (method_config,) = config["methodConfig"]
    assert method_config["name"] == [{"service": "clisrv.v1.Shop", "method": "Get"}]
    assert method_config["retryPolicy"]["maxAttempts"] == 3
    assert method_config["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"]


def flaky() -> Any:
    return shop().pb2.Req(mode="flaky", key=str(uuid.uuid4()), text="done")


@pytest.mark.parametrize("chain", [False, True], ids=["plain", "chain"])
def test_sync_retries_with_channel_options(chain: bool) -> None:
    with (
        sync_server(chain) as (target, servicer),
        grpc.insecure_channel(
            target, options=channel_options(shop().errgen)
        ) as channel,
    ):
        stub = shop().pb2_grpc.ShopStub(
            grpc.intercept_channel(channel, *client_interceptors(shop().errgen))
        )
        request = flaky()
        assert stub.Get(request).text == "done"
        assert servicer.failures.attempts[request.key] == 3


def test_sync_fails_without_channel_options() -> None:
    with sync_server() as (target, servicer), grpc.insecure_channel(target) as channel:
        stub = shop().pb2_grpc.ShopStub(
            grpc.intercept_channel(channel, *client_interceptors(shop().errgen))
        )
        request = flaky()
        with pytest.raises(errors.Unavailable):
            stub.Get(request)
        assert servicer.failures.attempts[request.key] == 1


def test_retries_stop_at_max_attempts() -> None:
    with (
        sync_server() as (target, servicer),
        grpc.insecure_channel(
            target, options=channel_options(shop().errgen)
        ) as channel,
    ):
        stub = shop().pb2_grpc.ShopStub(
            grpc.intercept_channel(channel, *client_interceptors(shop().errgen))
        )
        request = shop().pb2.Req(mode="flaky", key=str(uuid.uuid4()))
        servicer.failures.attempts[request.key] = (
            -5
        )  # seven failures to go: more than max_attempts
        with pytest.raises(errors.Unavailable):
            stub.Get(request)
        assert servicer.failures.attempts[request.key] == -2


@pytest.mark.parametrize("chain", [False, True], ids=["plain", "chain"])
async def test_aio_retries_with_channel_options(chain: bool) -> None:
    async with aio_server(chain) as (target, servicer):
        interceptors = aio.client_interceptors(shop().errgen)
        options = aio.channel_options(shop().errgen)
        async with grpc.aio.insecure_channel(
            target, options=options, interceptors=interceptors
        ) as channel:
            request = flaky()
            assert (await shop().pb2_grpc.ShopStub(channel).Get(request)).text == "done"
            assert servicer.failures.attempts[request.key] == 3


async def test_aio_fails_without_channel_options() -> None:
    async with aio_server() as (target, servicer):
        interceptors = aio.client_interceptors(shop().errgen)
        async with grpc.aio.insecure_channel(
            target, interceptors=interceptors
        ) as channel:
            request = flaky()
            with pytest.raises(errors.Unavailable):
                await shop().pb2_grpc.ShopStub(channel).Get(request)
            assert servicer.failures.attempts[request.key] == 1
