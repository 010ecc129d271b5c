"""Readiness and the heartbeats of the background processes (docs/deploy.md, "Health").

Beat sends `ethdash.tasks.heartbeat` every ETHDASH_HEARTBEAT_S: the sending process records the
tick (after_task_publish, so only a tick that reached the broker counts) and the worker that runs
it records the run and its own name. The long-running listeners record that they still run
(ethdash.registry.run_listeners). All of it lives in the cache (Redis in production, shared by
every process; local memory in embedded mode, where beat, worker and pages share one process),
so /readyz and the staff banner read it in one cache call, without the database.
"""

import logging
import time
from dataclasses import asdict, dataclass

from django.conf import settings
from django.core.cache import cache
from kombu import Connection

from ethdash import db, registry

logger = logging.getLogger(__name__)

HEARTBEAT_TASK = "ethdash.tasks.heartbeat"
BEAT_KEY = "ethdash:health:beat"
WORKER_KEY = "ethdash:health:worker"
LISTENER_KEY = "ethdash:health:listener:"
# Kept far longer than any threshold, so "silent for N s" can still say N.
HEARTBEAT_TTL_S = 7 * 86400


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    age_s: float | None = None


def record_beat_tick(*, now=None):
    cache.set(BEAT_KEY, {"at": now or time.time()}, HEARTBEAT_TTL_S)


def record_worker_run(worker, *, now=None):
    cache.set(WORKER_KEY, {"at": now or time.time(), "worker": worker or ""}, HEARTBEAT_TTL_S)


def record_listener_alive(name, *, now=None):
    cache.set(LISTENER_KEY + name, {"at": now or time.time()}, HEARTBEAT_TTL_S)


def on_task_published(sender=None, **kwargs):
    """after_task_publish receiver: the sender is the task's name. Never fails the publish."""
    if sender != HEARTBEAT_TASK:
        return
    try:
        record_beat_tick()
    except Exception:
        logger.exception("could not record the beat tick")


def _age_check(name, beat, *, limit_s, now, what, never):
    if beat is None:
        return Check(name, False, never)
    age_s = max(0.0, now - beat["at"])
    if age_s > limit_s:
        return Check(name, False, f"{what} for {age_s:.0f} s (limit {limit_s} s)", round(age_s, 1))
    worker = beat.get("worker")
    detail = f"last {age_s:.0f} s ago" + (f" on {worker}" if worker else "")
    return Check(name, True, detail, round(age_s, 1))


def background_checks(*, now=None) -> list[Check]:
    """Beat's last tick and a worker's last run, from one cache read. A cache that fails makes
    both checks fail with its error (staff see it; /readyz's anonymous answer does not)."""
    now = now or time.time()
    try:
        beats = cache.get_many([BEAT_KEY, WORKER_KEY])
    except Exception as exc:
        error = f"cache unreadable: {exc}"
        return [Check("beat", False, error), Check("worker", False, error)]
    return [
        _age_check(
            "beat",
            beats.get(BEAT_KEY),
            limit_s=settings.ETHDASH_BEAT_SILENT_S,
            now=now,
            what="Celery beat has sent no heartbeat",
            never="Celery beat has sent no heartbeat yet",
        ),
        _age_check(
            "worker",
            beats.get(WORKER_KEY),
            limit_s=settings.ETHDASH_WORKER_SILENT_S,
            now=now,
            what="no Celery worker has run a task",
            never="no Celery worker has run a heartbeat yet",
        ),
    ]


def background_problems(*, now=None) -> list[str]:
    """What the staff banner says: one sentence per failing beat or worker check."""
    return [check.detail for check in background_checks(now=now) if not check.ok]


def _run(name, probe) -> Check:
    started = time.perf_counter()
    try:
        probe()
    except Exception as exc:
        return Check(name, False, f"{type(exc).__name__}: {exc}")
    return Check(name, True, f"answered in {(time.perf_counter() - started) * 1000:.0f} ms")


def _redis_timeout_s():
    return settings.ETHDASH_REDIS_TIMEOUT_MS / 1000


def _ping_cache():
    # Written and read back: a cache that takes writes but loses them is not ready either.
    token = str(time.time())
    cache.set("ethdash:health:ping", token, 60)
    if cache.get("ethdash:health:ping") != token:
        raise RuntimeError("the cache did not return what was just written")


def _ping_broker():
    # A connection of its own, bounded: the app's pool would wait on a hung broker for as long
    # as its retry policy says. Opening a channel on the Redis transport pings the server.
    timeout_s = _redis_timeout_s()
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS | {
        "socket_timeout": timeout_s,
        "socket_connect_timeout": timeout_s,
    }
    with Connection(
        settings.CELERY_BROKER_URL, connect_timeout=timeout_s, transport_options=options
    ) as connection:
        connection.ensure_connection(max_retries=0, timeout=timeout_s)
        connection.default_channel  # noqa: B018 (opens the channel, which pings Redis)


def _listener_checks(now) -> list[Check]:
    checks = []
    for listener in registry.listeners():
        if listener.required is None:
            continue
        try:
            needed = listener.required()
        except Exception as exc:
            checks.append(Check(f"listener:{listener.name}", False, f"{type(exc).__name__}: {exc}"))
            continue
        if not needed:
            continue
        try:
            beat = cache.get(LISTENER_KEY + listener.name)
        except Exception as exc:
            checks.append(Check(f"listener:{listener.name}", False, f"cache unreadable: {exc}"))
            continue
        checks.append(
            _age_check(
                f"listener:{listener.name}",
                beat,
                limit_s=settings.ETHDASH_LISTENER_SILENT_S,
                now=now,
                what=f"the {listener.name} listener has not run",
                never=f"the {listener.name} listener has not run yet (manage.py listen)",
            )
        )
    return checks


def readiness(*, now=None) -> list[Check]:
    """Every check /readyz makes: the database, the cache (Redis in production), the Celery
    broker, beat's last tick, a worker's last run, and the listeners the apps need now (the
    beacon event stream once validators exist). The Redis checks are bounded by
    ETHDASH_REDIS_TIMEOUT_MS; the database's by the driver's connect timeout (PostgreSQL:
    `?connect_timeout=5` in DATABASE_URL, docs/deploy.md)."""
    now = now or time.time()
    cache_check = _run("cache", _ping_cache)
    checks = [_run("database", db.ping), cache_check, _run("broker", _ping_broker)]
    if not cache_check.ok:
        # The heartbeats live in the cache: reading them would wait out the same timeout again.
        unread = f"cache unavailable ({cache_check.detail})"
        return [*checks, Check("beat", False, unread), Check("worker", False, unread)]
    checks += background_checks(now=now)
    checks += _listener_checks(now)
    return checks


def as_json(checks):
    return {check.name: {k: v for k, v in asdict(check).items() if k != "name"} for check in checks}
