"""Miningcore's /notifications events make the accounts they concern due at once."""

import asyncio
import json
from datetime import timedelta

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.utils import timezone

from pools.models import Pool, PoolAccount, PoolBlock
from pools.services.notifications import apply_notification, listen
from tests.factories import PoolAccountFactory, PoolFactory

LOGIN = "0x" + "ab" * 20


@pytest.fixture
def pool(alpha):
    pool = PoolFactory(name="Sim Miningcore", api_format="miningcore")
    later = timezone.now() + timedelta(minutes=2)
    for login in (LOGIN, "0x" + "cd" * 20):
        PoolAccountFactory(farm=alpha.farm, pool=pool, login=login, next_poll_at=later)
    return pool


def test_a_miners_hashrate_event_makes_only_its_account_due(pool):
    event = {
        "type": "hashrate",
        "miner": LOGIN.upper().replace("0X", "0x"),
        "worker": "rig-01",
        "hashrate_hs": 1e8,
    }
    ids = apply_notification(pool, event)
    assert PoolAccount.objects.filter(pk__in=ids).get().login == LOGIN
    # A second event right away changes nothing: the account is already due.
    assert apply_notification(pool, event) == []


def test_a_block_or_payment_makes_the_pools_accounts_due(pool):
    assert len(apply_notification(pool, {"type": "block_found", "height": 19_000_123})) == 2
    assert PoolBlock.objects.get(pool=pool).height == 19_000_123
    PoolAccount.objects.update(next_poll_at=timezone.now() + timedelta(minutes=2))
    assert len(apply_notification(pool, {"type": "payment", "tx_hashes": ["0x1"]})) == 2
    assert apply_notification(pool, None) == []


@pytest.mark.django_db(transaction=True)
def test_listener_follows_the_websocket_and_reconnects(pool):
    messages = [
        json.dumps({"type": "greeting", "message": "Connected to Miningcore notification relay"}),
        "not json",
        json.dumps(
            {
                "type": "hashrateupdated",
                "poolId": "etc1",
                "miner": LOGIN,
                "worker": "w",
                "hashrate": 1e8,
            }
        ),
    ]
    connections = []

    async def relay(socket):
        connections.append(socket)
        for message in messages:
            await socket.send(message)
        await asyncio.sleep(0.2)

    async def scenario():
        async with websockets.serve(relay, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            pool.notifications_url = f"ws://127.0.0.1:{port}/notifications"
            stop = asyncio.Event()

            async def fast_sleep(seconds):
                await asyncio.sleep(0.01)
                if len(connections) >= 2:
                    stop.set()

            task = asyncio.create_task(listen(pool, stop=stop, sleep=fast_sleep))
            await asyncio.wait_for(task, timeout=10)

    asyncio.run(scenario())
    assert len(connections) >= 2  # the relay closed; the listener came back
    assert PoolAccount.objects.get(login=LOGIN).next_poll_at <= timezone.now()
    assert (
        PoolAccount.objects.filter(pool=pool).exclude(login=LOGIN).get().next_poll_at
        > timezone.now()
    )


@pytest.mark.django_db(transaction=True)
def test_the_embedded_server_follows_pool_notifications(pool, settings):
    """Embedded mode runs no `manage.py listen`: the server's lifespan starts the listeners the
    apps registered, the pools' notifications among them, and stops them on shutdown."""
    from asgiref.sync import sync_to_async

    from ethdash.embedded import Lifespan

    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    hashrate = {"type": "hashrateupdated", "poolId": "etc1", "miner": LOGIN, "hashrate": 1e8}

    async def relay(socket):
        await socket.send(json.dumps(hashrate))
        await socket.wait_closed()

    def account_due():
        return PoolAccount.objects.get(login=LOGIN).next_poll_at <= timezone.now()

    async def scenario():
        async with websockets.serve(relay, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            await sync_to_async(Pool.objects.filter(pk=pool.pk).update)(
                notifications_url=f"ws://127.0.0.1:{port}/notifications"
            )
            inbox, outbox = asyncio.Queue(), asyncio.Queue()
            lifespan = Lifespan(start_worker=False, start_listeners=True)
            running = asyncio.create_task(lifespan({"type": "lifespan"}, inbox.get, outbox.put))
            await inbox.put({"type": "lifespan.startup"})
            assert (await outbox.get())["type"] == "lifespan.startup.complete"
            for _ in range(200):
                if await sync_to_async(account_due)():
                    break
                await asyncio.sleep(0.05)
            await inbox.put({"type": "lifespan.shutdown"})
            assert (await asyncio.wait_for(outbox.get(), 10))[
                "type"
            ] == "lifespan.shutdown.complete"
            await running

    asyncio.run(scenario())
    assert account_due()


@pytest.mark.django_db(transaction=True)
def test_a_notifications_url_whose_name_resolves_to_loopback_is_refused(monkeypatch, settings):
    """The websocket's socket comes from the outbound transport: a name answering 127.0.0.1 is
    judged when the listener connects, and refused unless ETHDASH_OUTBOUND_ALLOW has it."""
    from ethdash import outbound

    settings.ETHDASH_OUTBOUND_ALLOW = []
    monkeypatch.setattr(outbound, "resolve", lambda host, port: ["127.0.0.1"])
    pool = PoolFactory(
        name="mc",
        api_format="miningcore",
        base_url="http://pool.example",
        notifications_url="ws://pool.example:1/notifications",
    )
    stop = asyncio.Event()
    connected = []

    async def fake_connect(*args, **kwargs):
        connected.append(kwargs)
        raise AssertionError("the policy should have refused before the websocket")

    async def stop_after_first(seconds):
        stop.set()

    asyncio.run(listen(pool, stop=stop, connect=fake_connect, sleep=stop_after_first))
    pool.refresh_from_db()
    assert pool.last_error.startswith("Notifications: forbidden_address: pool.example resolves")
    assert connected == []


@pytest.mark.django_db(transaction=True)
def test_a_redirecting_notifications_url_is_shown_and_retried(settings):
    """websockets cannot follow a redirect over the socket the transport handed it; the listener
    shows that on the pool and tries again instead of dying."""
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    stop = asyncio.Event()
    tries = []

    class redirected:  # websockets.connect's shape: the handshake runs on entering
        def __init__(self, url, **kwargs):
            kwargs["sock"].close()
            tries.append(url)

        async def __aenter__(self):
            raise ValueError("cannot follow redirect to ws://elsewhere/ with a preexisting socket")

        async def __aexit__(self, *exc):
            return False

    async def stop_after_second(seconds):
        if len(tries) >= 2:
            stop.set()

    async def scenario():
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pool = await sync_to_async(PoolFactory)(
            name="mc", api_format="miningcore", notifications_url=f"ws://127.0.0.1:{port}/n"
        )
        async with server:
            await listen(pool, stop=stop, connect=redirected, sleep=stop_after_second)
        return pool

    pool = asyncio.run(scenario())
    pool.refresh_from_db()
    assert len(tries) == 2
    assert pool.last_error.startswith("Notifications: cannot follow redirect")


@pytest.mark.django_db(transaction=True)
def test_a_pool_given_a_notifications_url_while_listening_is_followed_within_a_rescan(
    pool, settings
):
    """What a user adds is followed at once, not on the next restart: the listener looks for
    new or changed pools every rescan, so a pool that gets its notifications URL after the
    listener started has its events applied within seconds."""
    from pools.services.notifications import listen_all

    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    hashrate = {"type": "hashrateupdated", "poolId": "etc1", "miner": LOGIN, "hashrate": 1e8}

    async def relay(socket):
        await socket.send(json.dumps(hashrate))
        await socket.wait_closed()

    def account_due():
        return PoolAccount.objects.get(login=LOGIN).next_poll_at <= timezone.now()

    async def scenario():
        async with websockets.serve(relay, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            stop = asyncio.Event()
            listening = asyncio.create_task(listen_all(stop=stop, rescan_s=0.05))
            await asyncio.sleep(0.2)  # running, with no pool to follow yet
            assert not await sync_to_async(account_due)()
            await sync_to_async(Pool.objects.filter(pk=pool.pk).update)(
                notifications_url=f"ws://127.0.0.1:{port}/notifications"
            )
            for _ in range(200):
                if await sync_to_async(account_due)():
                    break
                await asyncio.sleep(0.05)
            stop.set()
            await asyncio.wait_for(listening, timeout=10)

    asyncio.run(scenario())
    assert account_due()
