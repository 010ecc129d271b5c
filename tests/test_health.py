"""/healthz (liveness), /readyz (readiness), the heartbeats of beat, worker and listeners, and
the banner that shows staff a dead worker or beat."""

import asyncio
import re
import time

import pytest
from django.contrib.auth import get_user_model

from ethdash import health, registry
from ethdash.tasks import heartbeat
from tests.factories import ValidatorFactory, logged_in
from tests.servers import hung_tcp_server

FRESH = {"database", "cache", "broker", "beat", "worker"}


def settings_redis_url():
    from django.conf import settings

    return settings.REDIS_URL


@pytest.fixture
def staff_client(db):
    user = get_user_model().objects.create_user("ops", password="x", is_staff=True)
    return logged_in(user)


@pytest.fixture
def superuser_client(db):
    user = get_user_model().objects.create_superuser("root", password="x")
    return logged_in(user)


@pytest.fixture
def beating():
    """Beat ticked and a worker ran its heartbeat a moment ago."""
    health.record_beat_tick()
    health.record_worker_run("celery@web-1")


def test_healthz_answers_without_the_database(client):
    # No database in this test: any query would raise.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ready_when_everything_answers(client, db, beating):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}  # the verdict only, for anyone but staff


def test_readyz_gives_staff_each_check(staff_client, beating):
    body = staff_client.get("/readyz").json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == FRESH
    assert all(check["ok"] for check in body["checks"].values())
    assert "on celery@web-1" in body["checks"]["worker"]["detail"]


def test_readyz_hides_the_database_error_from_anonymous_callers(client, db, beating, monkeypatch):
    monkeypatch.setattr("ethdash.health.db.ping", _fail("could not connect to secret-host:5432"))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}
    assert b"secret-host" not in response.content


def test_readyz_tells_staff_which_check_failed(staff_client, beating, monkeypatch):
    monkeypatch.setattr("ethdash.health.db.ping", _fail("could not connect to db-1:5432"))
    body = staff_client.get("/readyz").json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == {
        "ok": False,
        "detail": "OperationalError: could not connect to db-1:5432",
        "age_s": None,
    }
    assert body["checks"]["worker"]["ok"]


def test_readyz_fails_when_beat_is_silent(staff_client, settings):
    settings.ETHDASH_BEAT_SILENT_S = 60
    health.record_beat_tick(now=time.time() - 100)
    health.record_worker_run("celery@web-1")

    response = staff_client.get("/readyz")

    assert response.status_code == 503
    beat = response.json()["checks"]["beat"]
    assert not beat["ok"]
    assert re.fullmatch(
        r"Celery beat has sent no heartbeat for 10\d s \(limit 60 s\)", beat["detail"]
    )
    assert 99 < beat["age_s"] < 110


def test_readyz_fails_when_no_worker_ran_a_task(staff_client, settings):
    settings.ETHDASH_WORKER_SILENT_S = 30
    health.record_beat_tick()
    health.record_worker_run("celery@web-1", now=time.time() - 45)

    checks = staff_client.get("/readyz").json()["checks"]

    assert re.fullmatch(
        r"no Celery worker has run a task for 4\d s \(limit 30 s\)", checks["worker"]["detail"]
    )
    assert checks["beat"]["ok"]


def test_readyz_is_not_ready_before_the_first_heartbeat(staff_client):
    response = staff_client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["beat"]["detail"] == "Celery beat has sent no heartbeat yet"
    assert checks["worker"]["detail"] == "no Celery worker has run a heartbeat yet"


def test_publishing_the_heartbeat_records_beats_tick_and_running_it_the_worker(db):
    assert health.background_problems() != []

    heartbeat.apply_async()  # as beat sends it (the in-memory broker here)
    heartbeat.apply()  # as a worker runs it

    checks = {check.name: check for check in health.background_checks()}
    assert checks["beat"].ok and checks["worker"].ok
    assert health.background_problems() == []


def test_beat_schedules_the_heartbeat(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["ethdash.heartbeat"]
    assert entry["task"] == health.HEARTBEAT_TASK
    assert entry["schedule"] == settings.ETHDASH_HEARTBEAT_S


def test_readyz_bounds_a_hung_broker(staff_client, beating, settings, hung_server):
    settings.CELERY_BROKER_URL = hung_server
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600}
    settings.ETHDASH_REDIS_TIMEOUT_MS = 300

    started = time.monotonic()
    response = staff_client.get("/readyz")

    assert time.monotonic() - started < 3
    assert response.status_code == 503
    assert not response.json()["checks"]["broker"]["ok"]


def test_the_beacon_listener_is_required_once_validators_exist(staff_client, beating):
    assert "listener:beacon-events" not in staff_client.get("/readyz").json()["checks"]

    ValidatorFactory()
    response = staff_client.get("/readyz")
    assert response.status_code == 503
    listener = response.json()["checks"]["listener:beacon-events"]
    assert listener["detail"] == ("the beacon-events listener has not run yet (manage.py listen)")

    health.record_listener_alive("beacon-events")
    response = staff_client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["listener:beacon-events"]["ok"]


def test_running_listeners_record_that_they_run(settings, monkeypatch):
    monkeypatch.setattr(registry, "_listeners", {})

    async def waits(*, stop):
        await stop.wait()

    registry.register_listener("waits", waits, required=lambda: True)

    async def run():
        stop = asyncio.Event()
        runner = asyncio.create_task(registry.run_listeners(registry.listeners(), stop=stop))
        for _ in range(100):
            await asyncio.sleep(0.02)
            if await asyncio.to_thread(health.cache.get, health.LISTENER_KEY + "waits"):
                break
        stop.set()
        await runner

    asyncio.run(run())

    [check] = health._listener_checks(time.time())
    assert check.name == "listener:waits" and check.ok


def test_staff_see_a_banner_when_the_worker_is_dead(staff_client, alpha, settings):
    health.record_beat_tick()
    health.record_worker_run("celery@web-1", now=time.time() - 500)
    settings.ETHDASH_WORKER_SILENT_S = 60

    page = staff_client.get("/rigs/").content.decode()

    assert 'id="background-problems"' in page
    assert re.search(r"no Celery worker has run a task for 50\d s \(limit 60 s\)", page)


def test_the_admin_index_shows_a_dead_beat(superuser_client):
    health.record_worker_run("celery@web-1")
    page = superuser_client.get("/admin/").content.decode()
    assert 'id="background-problems"' in page
    assert "Celery beat has sent no heartbeat yet" in page


def test_no_banner_when_beat_and_worker_run(superuser_client, beating):
    assert 'id="background-problems"' not in superuser_client.get("/admin/").content.decode()


def test_farm_users_never_see_the_banner(owner_client):
    assert 'id="background-problems"' not in owner_client.get("/rigs/").content.decode()


@pytest.fixture
def hung_server():
    with hung_tcp_server() as port:
        yield f"redis://127.0.0.1:{port}/0"


def _fail(message):
    from django.db import OperationalError

    def ping():
        raise OperationalError(message)

    return ping


def test_a_task_lost_with_its_worker_comes_back_within_minutes_not_an_hour(settings):
    from alerts.tasks import retry_max_s
    from ethdash.celery import app

    assert app.conf.task_acks_late
    assert app.conf.task_reject_on_worker_lost  # a killed prefork child's task is requeued
    assert app.conf.broker_transport_options["visibility_timeout"] == 600
    # A countdown longer than the timeout would be delivered twice (docs/deploy.md).
    assert retry_max_s() == 300
    settings.ETHDASH_CELERY_VISIBILITY_TIMEOUT_S = 7200
    assert retry_max_s() == 1800


def test_the_embedded_worker_and_beat_keep_readyz_ready(db):
    """Embedded mode: beat and the worker are threads of this process, on the in-memory broker
    and the local-memory cache; their heartbeat reaches /readyz all the same."""
    from ethdash.embedded import InProcessCelery

    assert health.background_problems() != []
    celery = InProcessCelery()
    celery.start()
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and health.background_problems():
            time.sleep(0.1)
    finally:
        celery.stop()
    assert health.background_problems() == []


@pytest.mark.skipif(not settings_redis_url(), reason="needs REDIS_URL (the Redis cache)")
def test_readyz_answers_within_the_bound_with_redis_hung(staff_client, settings, hung_server):
    """The production cache settings (socket timeouts from ETHDASH_REDIS_TIMEOUT_MS) against a
    Redis that accepts and never answers: /readyz says 503 in bounded time, /healthz 200."""
    timeout_s = settings.ETHDASH_REDIS_TIMEOUT_MS / 1000
    cache = settings.CACHES["default"]
    assert cache["OPTIONS"] == {"socket_timeout": timeout_s, "socket_connect_timeout": timeout_s}
    settings.CACHES = {"default": cache | {"LOCATION": hung_server}}
    settings.CELERY_BROKER_URL = hung_server

    started = time.monotonic()
    response = staff_client.get("/readyz")
    elapsed_s = time.monotonic() - started

    # The cache's write and the broker's connection each wait out the timeout once; the
    # heartbeats, which live in the cache, are not read again.
    assert elapsed_s < 3 * timeout_s + 1
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert not checks["cache"]["ok"] and not checks["broker"]["ok"]
    assert not checks["worker"]["ok"]
    assert staff_client.get("/healthz").status_code == 200
