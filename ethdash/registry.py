"""What the apps lend the core, registered in their `AppConfig.ready()`: long-running listeners,
the overview page's tiles, the alert kinds each domain can be watched for, the listeners of
the "stored" hook, and the collectors of each farm's Prometheus series. The core runs and
renders them without importing any app.

Registering a name again replaces the earlier entry; entries keep the order of first
registration, which is the order of INSTALLED_APPS.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest

from ethdash import metrics

logger = logging.getLogger(__name__)
# One line per stored batch when set to INFO (ETHDASH_TIMING_LOG=INFO): how long the store took
# and how long its listeners (the alert evaluation) took after it, which bench/alerts.py reads
# from every process's log to set the evaluation's cost against the store's.
timing = logging.getLogger("ethdash.timing")


@dataclass(frozen=True)
class Listener:
    """A long-running follower of an outside event source (a websocket, an SSE stream).

    `follow(stop=...)` runs until `stop` is set (a listener that follows objects users add keeps
    running with none, see `follow_each`); it is cancelled on shutdown, so a listener waiting on
    a socket stops at once. `required()`, when given, says whether the site needs the listener
    running now (e.g. validators exist): /readyz then fails while it is not (ethdash.health).
    """

    name: str
    follow: Callable[..., Awaitable[None]]
    required: Callable[[], bool] | None = None


@dataclass(frozen=True)
class Tile:
    """A block of the overview page: `context(request)` gives what `template` renders;
    `scripts` are static paths the page loads for the tile's live updates."""

    name: str
    template: str
    context: Callable[[HttpRequest], Mapping]
    scripts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Observation:
    """One object's current figure for an alert kind, as its domain reads it.

    `value` is compared with the rule's threshold (for a kind without one, 1 means the
    condition holds and 0 that it does not). `key` names one occurrence of an event kind (a
    proposal's slot, a payout's transaction): each key alerts once. `groups` are the object's
    group ids, for rules that target a group."""

    object_id: int
    name: str
    value: float
    url: str = ""
    detail: str = ""
    key: str = ""
    groups: tuple[int, ...] = ()


@dataclass(frozen=True)
class AlertKind:
    """What a domain can be watched for. `observe(farm_id, ids, params)` returns the
    Observations of the farm's objects of `object_type` (only those of `ids` when given: what a
    store touched) with the rule's `params` (threshold, window_s, and `memo`: a dict shared by
    every observe() of one evaluation, so kinds reading the same rows read them once); it runs
    after the stores of `topic` (see stored()), and on the periodic sweep too when `periodic`
    (the kinds whose trouble is that nothing arrives). `above`: the condition holds when the
    value is above the threshold (else below); `threshold` None: a yes-or-no kind. `limits`:
    the thresholds a rule may take. `event`: every Observation is one occurrence, alerted once,
    never open."""

    name: str
    label: str
    topic: str
    object_type: str
    observe: Callable[[int, Collection[int] | None, Mapping], Iterable[Observation]]
    unit: str = ""
    above: bool = True
    threshold: float | None = None
    limits: tuple[float, float] | None = None
    hysteresis: float = 0.0
    grace_s: int = 0
    grace_count: int = 1
    window_s: int | None = None
    severity: str = "warning"
    periodic: bool = False
    event: bool = False
    default_enabled: bool = True
    help: str = ""
    params: Mapping = field(default_factory=dict)


_listeners: dict[str, Listener] = {}
_tiles: dict[str, Tile] = {}
_alert_kinds: dict[str, AlertKind] = {}
_stored_listeners: dict[str, Callable[[int, str, Collection[int] | None], None]] = {}
_farm_metrics: dict[str, Callable[[list[int], Mapping], Iterable]] = {}


def register_listener(
    name: str,
    follow: Callable[..., Awaitable[None]],
    *,
    required: Callable[[], bool] | None = None,
) -> None:
    _listeners[name] = Listener(name, follow, required)


def listeners(names: Iterable[str] = ()) -> list[Listener]:
    """The registered listeners, or only those named (an unknown name raises KeyError)."""
    names = list(names)
    if not names:
        return list(_listeners.values())
    unknown = [name for name in names if name not in _listeners]
    if unknown:
        raise KeyError(f"no listener named {', '.join(unknown)} (known: {', '.join(_listeners)})")
    return [_listeners[name] for name in names]


def register_tile(
    name: str,
    *,
    template: str,
    context: Callable[[HttpRequest], Mapping],
    scripts: Iterable[str] = (),
) -> None:
    _tiles[name] = Tile(name, template, context, tuple(scripts))


def tiles() -> list[Tile]:
    return list(_tiles.values())


def register_alert_kind(kind: AlertKind) -> None:
    _alert_kinds[kind.name] = kind


def alert_kinds() -> list[AlertKind]:
    return list(_alert_kinds.values())


def alert_kind(name: str) -> AlertKind | None:
    return _alert_kinds.get(name)


def register_farm_metrics(name: str, collect: Callable[[list[int], Mapping], Iterable]) -> None:
    """`collect(farm_ids, options)` yields prometheus_client metric families of those farms'
    objects for `/metrics` (ethdash.metrics.farm_exposition; the series are in docs/metrics.md)."""
    _farm_metrics[name] = collect


def farm_metrics() -> list[Callable[[list[int], Mapping], Iterable]]:
    return list(_farm_metrics.values())


def register_stored_listener(name: str, listen: Callable[[int, str, Collection[int] | None], None]):
    """`listen(farm_id, topic, ids)` runs after each committed store (see stored())."""
    _stored_listeners[name] = listen


def stored(
    farm_id: int, topic: str, ids: Collection[int] | None = None, *, since: float | None = None
) -> None:
    """The "stored" hook: a domain calls it once per batch it stored, naming what it touched
    (`topic`, e.g. "rig", and the ids; None: every object of the topic in the farm). The
    listeners run once the transaction commits (at once outside one); one failing listener is
    logged and the others still run, and the store that called it never fails for it. `since`
    (time.perf_counter() when the store began) times the store to its commit on the timing log."""
    ids = None if ids is None else tuple(ids)

    def run():
        committed = time.perf_counter()
        for name, listen in list(_stored_listeners.items()):
            try:
                listen(farm_id, topic, ids)
            except Exception:
                logger.exception("stored hook %s failed for farm %s (%s)", name, farm_id, topic)
        done = time.perf_counter()
        if since is not None:
            metrics.STORE_DURATION.labels(topic).observe(committed - since)
        metrics.STORED_LISTENERS_DURATION.labels(topic).observe(done - committed)
        if timing.isEnabledFor(logging.INFO):
            timing.info(
                "stored farm=%s topic=%s ids=%s store_ms=%s listeners_ms=%.3f",
                farm_id,
                topic,
                "all" if ids is None else len(ids),
                "-" if since is None else f"{(committed - since) * 1000:.3f}",
                (done - committed) * 1000,
            )

    transaction.on_commit(run)


async def run_listeners(selected: Iterable[Listener], *, stop: asyncio.Event) -> None:
    """Runs the listeners side by side until `stop` is set or all of them have returned, then
    cancels those still running. A failing listener is logged and leaves the others running."""
    tasks = [asyncio.create_task(item.follow(stop=stop), name=item.name) for item in selected]
    finished = asyncio.gather(*tasks, return_exceptions=True)
    stopped = asyncio.create_task(stop.wait())
    heartbeats = asyncio.create_task(_heartbeats(tasks))
    try:
        await asyncio.wait([stopped, finished], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        heartbeats.cancel()
        for task in tasks:
            task.cancel()
        results = await finished
        for task, result in zip(tasks, results, strict=True):
            if isinstance(result, Exception):
                logger.error("listener %s failed", task.get_name(), exc_info=result)


async def _heartbeats(tasks: list[asyncio.Task]) -> None:
    """Records every ETHDASH_HEARTBEAT_S that each listener still runs, for /readyz."""
    from ethdash import health

    while True:
        for task in tasks:
            if not task.done():
                try:
                    await asyncio.to_thread(health.record_listener_alive, task.get_name())
                except Exception:
                    logger.exception("could not record listener %s alive", task.get_name())
        await asyncio.sleep(settings.ETHDASH_HEARTBEAT_S)


async def follow_each(
    load: Callable[[], Awaitable[Mapping[Hashable, object]]],
    follow_one: Callable[..., Awaitable[None]],
    *,
    stop: asyncio.Event,
    rescan_s: float | None = None,
    what: str = "listener",
) -> None:
    """Follows every object `load()` returns ({key: object}), each with `follow_one(object,
    stop=stop)` in a task of its own, until `stop` is set; `load` runs again every `rescan_s`.

    What users add later is followed within a rescan, not on the next restart: a new key starts
    a task, a key gone (the object deleted, or its address changed, when the key holds it) cancels
    its task, and a task that ended with an error is started again at the next rescan, so one
    object's failure never stops the others. asyncio has no supervisor of this kind (TaskGroup
    cancels every task when one fails), hence this loop.
    """
    rescan_s = settings.ETHDASH_LISTENER_RESCAN_S if rescan_s is None else rescan_s
    running: dict[Hashable, asyncio.Task] = {}
    try:
        while not stop.is_set():
            try:
                wanted = await load()
            except Exception:  # a database hiccup: keep what runs, look again next time
                logger.exception("%s: could not list what to follow", what)
                wanted = None
            if wanted is not None:
                for key, task in list(running.items()):
                    if key in wanted and not task.done():
                        continue
                    if task.done() and not task.cancelled() and task.exception() is not None:
                        logger.error("%s %s failed", what, key, exc_info=task.exception())
                    task.cancel()
                    del running[key]
                for key, item in wanted.items():
                    if key not in running:
                        logger.info("%s: following %s", what, key)
                        running[key] = asyncio.create_task(follow_one(item, stop=stop))
            with contextlib.suppress(TimeoutError):  # time to look again
                await asyncio.wait_for(stop.wait(), timeout=rescan_s)
    finally:
        for task in running.values():
            task.cancel()
        await asyncio.gather(*running.values(), return_exceptions=True)
