"""The stored hook's listener: evaluation of what the stores of the last few seconds touched, once
per farm and topic, instead of once per store.

A rig agent's push stores one reading per card in ~7 ms (quiet machine, PostgreSQL); evaluating
the rig's nine kinds after it takes ~5 ms, whatever the batch, because it is a handful of
statements (rules, the rig, its GPUs, medians, shares, live alerts). Evaluated per push, that was
66 ms against a 29 ms store in bench/alerts.py (the production processes on one busy machine).
Evaluated every ETHDASH_ALERT_BATCH_S for the union of what was stored, the same statements
cover every push of the farm in that time: set-based, they cost about as much for forty rigs as
for one, and the push itself only adds its ids to a set.

Each process keeps its own set and one daemon thread that evaluates it (a forked Celery pool
process starts its own on first use). What a process had not evaluated when it died is
evaluated again at the object's next store, and the "nothing arrived" kinds by the sweep. With
ETHDASH_ALERT_BATCH_S = 0 every store is evaluated at once, in the caller's thread (the tests).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Collection

from django.conf import settings
from django.db import close_old_connections

from alerts.services import evaluate
from ethdash import metrics

logger = logging.getLogger(__name__)
timing = logging.getLogger("ethdash.timing")


class Coalescer:
    def __init__(self, evaluate_one=None):
        self._evaluate = evaluate_one or evaluate.on_stored
        self._lock = threading.Lock()
        self._dirty: dict[tuple[int, str], set[int] | None] = {}
        self._stores: Counter = Counter()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    def add(self, farm_id: int, topic: str, ids: Collection[int] | None) -> None:
        """Notes a committed store: `ids` of `topic` in the farm (None: all of them)."""
        key = (farm_id, topic)
        with self._lock:
            if ids is None:
                self._dirty[key] = None
            elif key not in self._dirty:
                self._dirty[key] = set(ids)
            elif self._dirty[key] is not None:
                self._dirty[key].update(ids)
            self._stores[key] += 1
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                # A process forked from one that had the thread (a Celery pool process) has
                # the attribute but not the thread.
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, name="alert-evaluation", daemon=True
                )
                self._thread.start()

    def pending(self) -> dict[tuple[int, str], set[int] | None]:
        with self._lock:
            return {key: None if ids is None else set(ids) for key, ids in self._dirty.items()}

    def flush(self) -> int:
        """Evaluates everything noted so far, one farm and topic at a time; one failing
        evaluation is logged and the others still run. Returns how many were evaluated."""
        with self._lock:
            dirty, self._dirty = self._dirty, {}
            stores, self._stores = self._stores, Counter()
        for (farm_id, topic), ids in dirty.items():
            started = time.perf_counter()
            try:
                self._evaluate(farm_id, topic, None if ids is None else tuple(sorted(ids)))
            except Exception:
                logger.exception("alert evaluation failed for farm %s (%s)", farm_id, topic)
            metrics.ALERT_EVALUATION_DURATION.labels(topic).observe(time.perf_counter() - started)
            if timing.isEnabledFor(logging.INFO):
                timing.info(
                    "evaluated farm=%s topic=%s stores=%s ids=%s eval_ms=%.3f",
                    farm_id,
                    topic,
                    stores[(farm_id, topic)],
                    "all" if ids is None else len(ids),
                    (time.perf_counter() - started) * 1000,
                )
        return len(dirty)

    def _run(self) -> None:
        while True:
            time.sleep(settings.ETHDASH_ALERT_BATCH_S or 1)
            # This thread's own connection: dropped when broken or past CONN_MAX_AGE, as a
            # request's would be.
            close_old_connections()
            try:
                self.flush()
            finally:
                close_old_connections()


coalescer = Coalescer()


def on_stored(farm_id: int, topic: str, ids: Collection[int] | None) -> None:
    """The alerts app's stored-hook listener (registered in AlertsConfig.ready)."""
    if not settings.ETHDASH_ALERT_BATCH_S:
        with metrics.ALERT_EVALUATION_DURATION.labels(topic).time():
            evaluate.on_stored(farm_id, topic, ids)
        return
    coalescer.add(farm_id, topic, ids)
