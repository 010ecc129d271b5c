"""The live push never holds a request on the channel layer: a push only puts the events on the
process's bounded queue, and the sender thread sends them in batches, each send bounded by
ETHDASH_LIVE_PUSH_TIMEOUT_MS. A hung or unreachable Redis costs a request nothing; what cannot
be sent is logged and counted; a full queue drops its oldest pushes and counts them; pushes made
after Redis answers again are delivered."""

import asyncio
import os
import socket
import threading
import time
from datetime import timedelta

import pytest
from channels_redis.core import RedisChannelLayer
from django.utils import timezone
from rest_framework.test import APIClient

from ethdash import live
from rigs.models import RigSample
from tests.factories import sample_batch
from tests.servers import hung_tcp_server


@pytest.fixture
def hung_redis():
    """A TCP server that accepts connections and never answers (a hung Redis)."""
    with hung_tcp_server() as port:
        yield f"redis://127.0.0.1:{port}/0"


@pytest.fixture
def closed_port():
    """A port nothing listens on (an unreachable Redis)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"redis://127.0.0.1:{port}/0"


@pytest.fixture
def push_to(monkeypatch, settings):
    """Pushes as in a WSGI or Celery worker process: queued for a sender of this test's own."""
    settings.ETHDASH_LIVE_PUSH_SYNC = False
    settings.ETHDASH_LIVE_PUSH_TIMEOUT_MS = 200
    settings.ETHDASH_LIVE_PUSH_BACKOFF_S = 0
    monkeypatch.setattr(live, "_server_loop", None)
    monkeypatch.setattr(live, "_sender", None)
    monkeypatch.setattr(live, "_last_logged", {})
    monkeypatch.setattr(live, "counts", dict.fromkeys(live.counts, 0))

    def use(url_or_layer):
        layer = url_or_layer
        if isinstance(url_or_layer, str):
            layer = RedisChannelLayer(hosts=[{"address": url_or_layer}])
        monkeypatch.setattr(live, "get_channel_layer", lambda: layer)
        return layer

    return use


def _event(n=1):
    return {"type": "rig.status", "id": n, "ts": "2026-12-03T00:00:00Z", "status": "online"}


def _costs_nothing(timings):
    """Enqueueing takes microseconds; a thread switch (Python's 5 ms switch interval) may add a
    few ms to one push on a busy machine, never the send's 200 ms bound."""
    timings = sorted(timings)
    return timings[len(timings) // 2] < 0.005 and timings[-1] < 0.05


def _timed_push(farm_id=1, n=1):
    started = time.monotonic()
    live.hand_off(farm_id, [_event(n)])  # what push() registers to run on commit
    return time.monotonic() - started


class GatedLayer:
    """A channel layer whose sends wait until the gate opens (a slow layer), then are kept."""

    def __init__(self):
        self.gate = threading.Event()
        self.sent = []

    async def group_send(self, group, message):
        while not self.gate.is_set():
            await asyncio.sleep(0.005)
        self.sent.append((group, message))


def test_a_push_to_a_hung_redis_costs_the_caller_nothing(hung_redis, push_to, caplog):
    push_to(hung_redis)

    timings = [_timed_push() for _ in range(20)]

    assert _costs_nothing(timings)  # enqueued, not sent
    assert live.flush(timeout_s=5)
    assert live.counts["timed_out"] == 20 and live.counts["sent"] == 0
    assert "live push to farm.1 timed out after 200 ms" in caplog.text
    # Logged once per interval, not once per push or batch.
    assert caplog.text.count("timed out after") == 1


def test_a_push_to_an_unreachable_redis_is_counted_and_logged(closed_port, push_to, caplog):
    push_to(closed_port)

    assert _costs_nothing([_timed_push()])
    assert live.flush(timeout_s=5)
    assert live.counts["failed"] + live.counts["timed_out"] == 1
    assert "live push to farm.1" in caplog.text


def test_pushes_of_one_farm_go_out_together_in_order(push_to):
    layer = push_to(GatedLayer())
    _timed_push(farm_id=1, n=0)
    live.flush(timeout_s=0.05)  # the sender has taken the first push and waits at the gate
    for n in range(1, 5):
        _timed_push(farm_id=1, n=n)
    _timed_push(farm_id=2, n=9)

    layer.gate.set()
    assert live.flush(timeout_s=5)

    by_group = {}
    for group, message in layer.sent:
        by_group.setdefault(group, []).append([e["id"] for e in message["events"]])
    assert by_group == {"farm.1": [[0], [1, 2, 3, 4]], "farm.2": [[9]]}
    assert live.counts == {"sent": 6, "failed": 0, "timed_out": 0, "dropped": 0}


def test_a_full_queue_drops_its_oldest_pushes_and_counts_them(push_to, settings, caplog):
    settings.ETHDASH_LIVE_PUSH_QUEUE = 5
    settings.ETHDASH_LIVE_PUSH_TIMEOUT_MS = 5000
    layer = push_to(GatedLayer())
    _timed_push(n=0)
    live.flush(timeout_s=0.05)  # taken by the sender, which waits at the gate

    timings = [_timed_push(n=n) for n in range(1, 11)]

    assert _costs_nothing(timings)
    assert live.counts["dropped"] == 5
    assert caplog.text.count("live push queue full") == 1
    layer.gate.set()
    assert live.flush(timeout_s=5)
    delivered = [e["id"] for _, message in layer.sent for e in message["events"]]
    assert delivered == [0, 6, 7, 8, 9, 10]  # the newest kept
    assert live.counts == {"sent": 6, "failed": 0, "timed_out": 0, "dropped": 5}


def test_in_an_asgi_server_a_redis_push_goes_to_the_sender_not_the_servers_loop(
    hung_redis, push_to, monkeypatch
):
    push_to(hung_redis)
    server_loop = asyncio.new_event_loop()
    thread = threading.Thread(target=server_loop.run_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(live, "_server_loop", server_loop)
    try:
        assert _costs_nothing([_timed_push() for _ in range(5)])
        assert live.flush(timeout_s=5)
        assert live.counts["timed_out"] == 5
        assert not asyncio.all_tasks(server_loop)  # nothing was left on the server's loop
    finally:
        server_loop.call_soon_threadsafe(server_loop.stop)
        thread.join(2)


def test_a_forked_process_starts_its_own_sender(push_to):
    push_to(GatedLayer())
    live.hand_off(1, [_event()])
    parent = live._sender
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's sender thread does not exist here
        try:
            forgotten = live._sender is None
            child = live._current_sender()
            ok = forgotten and child.pid == os.getpid() and child.thread.is_alive()
            os.write(write_end, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write_end)
    answer = os.read(read_end, 1)
    os.close(read_end)
    os.waitpid(pid, 0)
    assert answer == b"1"
    assert live._sender is parent and parent.pid == os.getpid()
    parent_layer = live.get_channel_layer()
    parent_layer.gate.set()
    assert live.flush(timeout_s=5)


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (a real Redis)")
def test_pushes_after_redis_answers_again_are_delivered(hung_redis, push_to):
    push_to(hung_redis)
    _timed_push(n=1)
    assert live.flush(timeout_s=5)
    assert live.counts["timed_out"] == 1

    layer = push_to(os.environ["REDIS_URL"])  # Redis answers again

    async def receive_after_push():
        channel = await layer.new_channel()
        await layer.group_add(live.group_name(1), channel)
        await asyncio.to_thread(_timed_push, 1, 2)
        return await asyncio.wait_for(layer.receive(channel), timeout=5)

    message = asyncio.run(receive_after_push())
    assert message["events"] == [_event(2)]
    assert live.flush(timeout_s=5)
    assert live.counts["sent"] == 1


@pytest.mark.django_db(transaction=True)  # the push runs on commit, as in production
def test_telemetry_is_stored_and_answered_at_once_with_redis_hung(
    hung_redis, push_to, alpha, settings, monkeypatch
):
    settings.ETHDASH_LIVE_PUSH_TIMEOUT_MS = 2000  # a request that waited for it would show it
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('telemetry')}")

    def post(minutes_ago):  # new samples each time, so each request pushes
        start = timezone.now().replace(microsecond=0) - timedelta(minutes=minutes_ago)
        started = time.monotonic()
        response = client.post(
            f"/api/v1/rigs/{alpha.rig.pk}/telemetry/", sample_batch(start=start), format="json"
        )
        assert response.status_code < 300, response.content
        return time.monotonic() - started

    warm = push_to(GatedLayer())  # the first request of a process pays for imports and caches
    warm.gate.set()
    post(4)
    assert live.flush(timeout_s=5) and live.counts["sent"] == 1

    push_to(hung_redis)
    hand_off, hand_offs = live.hand_off, []

    def timed_hand_off(farm_id, events):
        started = time.monotonic()
        hand_off(farm_id, events)
        hand_offs.append(time.monotonic() - started)

    monkeypatch.setattr(live, "hand_off", timed_hand_off)
    timings = [post(minutes_ago) for minutes_ago in (3, 2, 1)]

    assert len(hand_offs) == 3 and _costs_nothing(hand_offs)
    assert max(timings) < 1.0  # under the 2 s a wait for the hung Redis would take
    assert RigSample.objects.filter(rig=alpha.rig).count() == 12  # stored all the same
    assert live.flush(timeout_s=10)
    assert live.counts["timed_out"] == 3
