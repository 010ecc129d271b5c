"""The live push never holds a request on a hung or unreachable Redis: a push returns within
ETHDASH_LIVE_PUSH_TIMEOUT_MS, the failure is logged and counted, and later pushes are dropped at
once for ETHDASH_LIVE_PUSH_BACKOFF_S instead of each waiting again."""

import socket
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
    settings.ETHDASH_LIVE_PUSH_TIMEOUT_MS = 200
    settings.ETHDASH_LIVE_PUSH_BACKOFF_S = 5
    monkeypatch.setattr(live, "_server_loop", None)  # as in a WSGI or Celery worker process
    monkeypatch.setattr(live, "_backoff_until", 0.0)
    monkeypatch.setattr(live, "counts", dict.fromkeys(live.counts, 0))

    def use(url):
        layer = RedisChannelLayer(hosts=[{"address": url}])
        monkeypatch.setattr(live, "get_channel_layer", lambda: layer)

    return use


def _timed_push():
    started = time.monotonic()
    live.send_now(1, [{"type": "rig.sample", "id": 1, "ts": "2026-12-03T00:00:00Z"}])
    return time.monotonic() - started


def test_a_push_to_a_hung_redis_returns_within_the_bound(hung_redis, push_to, caplog):
    push_to(hung_redis)

    elapsed_s = _timed_push()

    assert 0.15 < elapsed_s < 1.0
    assert live.counts["timed_out"] == 1
    assert "live push to farm.1 timed out after 200 ms" in caplog.text


def test_after_a_timeout_pushes_are_dropped_at_once_then_tried_again(
    hung_redis, push_to, monkeypatch
):
    push_to(hung_redis)
    _timed_push()

    assert max(_timed_push() for _ in range(20)) < 0.05
    assert live.counts == {"sent": 0, "failed": 0, "timed_out": 1, "dropped": 20}

    monkeypatch.setattr(live, "_backoff_until", time.monotonic() - 1)  # the backoff has passed
    assert _timed_push() < 1.0
    assert live.counts["timed_out"] == 2


def test_a_push_to_an_unreachable_redis_fails_fast_and_is_counted(closed_port, push_to, caplog):
    push_to(closed_port)

    assert _timed_push() < 1.0
    assert live.counts["failed"] + live.counts["timed_out"] == 1
    assert "live push to farm.1" in caplog.text
    assert _timed_push() < 0.05
    assert live.counts["dropped"] == 1


@pytest.mark.django_db(transaction=True)  # the push runs on commit, as in production
def test_telemetry_is_stored_and_answered_at_once_with_redis_hung(hung_redis, push_to, alpha):
    push_to(hung_redis)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('telemetry')}")

    timings = []
    for minutes_ago in (3, 2, 1):  # new samples each time, so each request pushes
        start = timezone.now().replace(microsecond=0) - timedelta(minutes=minutes_ago)
        started = time.monotonic()
        response = client.post(
            f"/api/v1/rigs/{alpha.rig.pk}/telemetry/", sample_batch(start=start), format="json"
        )
        timings.append(time.monotonic() - started)
        assert response.status_code < 300, response.content

    # One request pays the bound (200 ms); the others drop their push without waiting.
    assert max(timings) < 1.5
    assert sorted(timings)[1] < 0.5
    assert live.counts["timed_out"] == 1
    assert live.counts["dropped"] == 2
    assert RigSample.objects.filter(rig=alpha.rig).count() == 9  # stored all the same
