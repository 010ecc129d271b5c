"""/ws/live/: refuses anonymous clients and foreign origins; relays only the user's farms."""

import asyncio
import os

import pytest
from channels.db import database_sync_to_async

from ethdash import live
from rigs.services.ingest import ingest_telemetry
from tests.factories import make_farm, sample_batch
from tests.live_helpers import communicator, session_cookie

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def test_anonymous_client_is_refused():
    connected, _ = await communicator().connect()
    assert not connected


async def test_foreign_origin_is_refused():
    world = await database_sync_to_async(make_farm)("Alpha")
    cookie = await database_sync_to_async(session_cookie)(world.owner)

    connected, _ = await communicator(cookie, origin=(b"origin", b"http://evil.example")).connect()

    assert not connected


async def test_user_receives_own_farms_events_and_never_another_farms():
    alpha = await database_sync_to_async(make_farm)("Alpha")
    bravo = await database_sync_to_async(make_farm)("Bravo")
    alpha_socket = communicator(await database_sync_to_async(session_cookie)(alpha.owner))
    bravo_socket = communicator(await database_sync_to_async(session_cookie)(bravo.owner))
    assert (await alpha_socket.connect())[0]
    assert (await bravo_socket.connect())[0]
    assert (await alpha_socket.receive_json_from())["farms"] == [alpha.farm.pk]
    assert (await bravo_socket.receive_json_from())["farms"] == [bravo.farm.pk]

    body = sample_batch(gpu_count=4, ticks=2)
    samples = _validated(alpha, body)
    await database_sync_to_async(ingest_telemetry)(rig=alpha.rig, samples=samples)

    received = [await alpha_socket.receive_json_from(timeout=2) for _ in range(6)]
    types = sorted(event["type"] for event in received)
    assert types == ["gpu.sample"] * 4 + ["rig.sample", "rig.status"]
    gpu_event = next(e for e in received if e["type"] == "gpu.sample" and e["index"] == 0)
    assert gpu_event["rig"] == alpha.rig.pk
    assert gpu_event["ts"] == body["samples"][-4]["ts"]  # the newest tick only
    assert gpu_event["hashrate_hs"] == pytest.approx(60e6)
    assert await bravo_socket.receive_nothing(timeout=0.3)
    await alpha_socket.disconnect()
    await bravo_socket.disconnect()


async def test_push_from_a_plain_thread_hops_onto_the_server_loop():
    """A Celery worker thread in embedded mode pushes from outside the server's loop; the event
    must still arrive at once (the in-memory layer is not thread-safe)."""
    alpha = await database_sync_to_async(make_farm)("Alpha")
    socket = communicator(await database_sync_to_async(session_cookie)(alpha.owner))
    assert (await socket.connect())[0]
    await socket.receive_json_from()
    live.register_server_loop(asyncio.get_running_loop())
    try:
        event = {"type": "rig.status", "id": alpha.rig.pk, "ts": "x", "status": "offline"}
        await asyncio.to_thread(live.send_now, alpha.farm.pk, [event])
        assert await socket.receive_json_from(timeout=1) == event
    finally:
        live.unregister_server_loop()
        await socket.disconnect()


def _validated(world, body):
    from django.utils import timezone

    from rigs.api.serializers import TelemetryBatchSerializer

    serializer = TelemetryBatchSerializer(
        data=body,
        context={"gpus_by_index": {g.index: g for g in world.gpus}, "now": timezone.now()},
    )
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data["samples"]


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (the Redis layer)")
async def test_an_idle_socket_on_the_redis_layer_stays_up_and_gets_the_next_event():
    """channels-redis blocks 5 s per wait for a socket's messages; a Redis read timeout no longer
    than that ended idle sockets (the production configuration dropped them every few seconds
    and lost the events sent in each gap)."""
    alpha = await database_sync_to_async(make_farm)("Alpha")
    socket = communicator(await database_sync_to_async(session_cookie)(alpha.owner))
    assert (await socket.connect())[0]
    await socket.receive_json_from()
    await asyncio.sleep(7)  # idle past one blocking wait
    event = {"type": "rig.status", "id": alpha.rig.pk, "ts": "x", "status": "offline"}
    await asyncio.to_thread(live.send_now, alpha.farm.pk, [event])
    assert await socket.receive_json_from(timeout=5) == event
    await socket.disconnect()


def _layer_class():
    from channels.layers import get_channel_layer

    return type(get_channel_layer())


async def test_a_socket_is_refused_cleanly_while_the_channel_layer_is_unreachable(
    monkeypatch, caplog
):
    """Redis down: joining the farm's group fails; the socket is refused with one warning, not
    an unhandled exception (the page's script tries again a second later)."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    async def unreachable(self, *args):
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(_layer_class(), "group_add", unreachable)
    monkeypatch.setattr(_layer_class(), "receive", unreachable)
    alpha = await database_sync_to_async(make_farm)("Alpha")
    socket = communicator(await database_sync_to_async(session_cookie)(alpha.owner))

    connected, code = await socket.connect()

    assert not connected
    assert code == 1013
    assert "channel layer unreachable (ConnectionError)" in caplog.text


async def test_an_open_socket_is_closed_with_try_again_when_the_channel_layer_goes(monkeypatch):
    from redis.exceptions import ConnectionError as RedisConnectionError

    gone = asyncio.Event()

    async def receive_until_gone(self, channel):
        await gone.wait()
        raise RedisConnectionError("Connection closed by server.")

    monkeypatch.setattr(_layer_class(), "receive", receive_until_gone)
    alpha = await database_sync_to_async(make_farm)("Alpha")
    socket = communicator(await database_sync_to_async(session_cookie)(alpha.owner))
    assert (await socket.connect())[0]
    assert (await socket.receive_json_from())["type"] == "hello"

    gone.set()

    assert await socket.receive_output(timeout=2) == {"type": "websocket.close", "code": 1013}
