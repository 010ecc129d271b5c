"""Live push: one channel-layer group per farm, events sent after the transaction commits.

Browsers join the groups of the farms they belong to (ethdash.consumers.LiveConsumer); services
call push() after storing something. Events follow docs/api.md: {"type", "id", "ts", ...}.

A push never waits for the channel layer. In a web or Celery worker process (no ASGI server loop
of our own) it is put on a bounded per-process queue, and one sender thread drains the queue and
sends in batches: all the pushes of one farm waiting in the queue go out as one group message, in
order (every event is kept: they carry figures that charts extend, not just "something changed").
In embedded mode (the in-memory layer) the send is handed to the ASGI server's own loop instead,
and not waited for either.
"""

import asyncio
import atexit
import logging
import os
import queue
import threading
import time

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import transaction

from ethdash.metrics import LIVE_PUSHES

logger = logging.getLogger(__name__)

# The ASGI server's event loop, registered at lifespan start-up. InMemoryChannelLayer is not
# thread-safe: a group_send from a worker thread reached a waiting socket seconds late, while the
# same call handed to the server's own loop arrives in about a millisecond (docs/architecture.md).
_server_loop: asyncio.AbstractEventLoop | None = None

# Outside an ASGI server (WSGI workers, Celery workers) sends go through one long-lived loop per
# process: async_to_sync would build a new loop, and so a new Redis connection, for every batch.
_push_loop: tuple[int, asyncio.AbstractEventLoop] | None = None
_push_loop_lock = threading.Lock()

# The process's sender (queue and thread), started by the first push that needs it.
_sender: "_Sender | None" = None
_sender_lock = threading.Lock()

# At most this many pushes go out in one batch (one group message per farm among them).
BATCH_MAX = 500
# The same failure, or drops from a full queue, are logged at most once per this many seconds.
LOG_INTERVAL_S = 60.0
# At exit the sender gets at most this long to send what is queued.
EXIT_FLUSH_S = 2.0

# Pushes by outcome, for tests and the log (ethdash_live_pushes_total has the same counts):
# sent, failed (the layer raised), timed_out (past ETHDASH_LIVE_PUSH_TIMEOUT_MS), dropped
# (the queue was full: the oldest waiting push made way for the new one).
_counts_lock = threading.Lock()
counts = {"sent": 0, "failed": 0, "timed_out": 0, "dropped": 0}
_last_logged: dict[str, float] = {}


def group_name(farm_id):
    return f"farm.{farm_id}"


def register_server_loop(loop):
    global _server_loop
    _server_loop = loop


def unregister_server_loop():
    register_server_loop(None)


def push(farm_id, *events):
    """Sends events to the farm's browsers once the current transaction commits (at once outside
    one). Never blocks the caller on the channel layer, never raises, and never undoes what was
    stored: a push that cannot be sent is dropped, logged and counted."""
    if events:
        transaction.on_commit(lambda: hand_off(farm_id, list(events)))


def hand_off(farm_id, events):
    """Queues the events for the process's sender; in embedded mode hands them to the server's
    loop instead (not waited for either)."""
    if settings.ETHDASH_LIVE_PUSH_SYNC or _on_server_loop(get_channel_layer()):
        send_now(farm_id, events)
        return
    _current_sender().put((farm_id, events))


def _on_server_loop(layer):
    # Only the in-memory layer needs the server's own loop (it is not thread-safe, and reaches
    # only this process's sockets). A Redis layer is sent to from the sender's loop even in an
    # ASGI server: one batch there instead of one task per push on the loop serving requests.
    loop = _server_loop
    return isinstance(layer, InMemoryChannelLayer) and loop is not None and loop.is_running()


def flush(timeout_s=5.0) -> bool:
    """Waits until every push queued so far in this process has been sent or given up on, for at
    most timeout_s. True when the queue ran empty. For tests and the process's exit."""
    sender = _sender
    if sender is None or sender.pid != os.getpid():
        return True
    return sender.wait_empty(timeout_s)


def send_now(farm_id, events):
    """Sends at once, in the caller's thread (the server's loop is handed the send and not waited
    for). Never raises, and holds the caller at most ETHDASH_LIVE_PUSH_TIMEOUT_MS plus the time
    to hand the call to a loop."""
    _deliver([(farm_id, events)])


def _deliver(items):
    """Sends a batch of (farm_id, events) pushes; waits for the send except on the server loop."""
    try:
        layer = get_channel_layer()
        if _on_server_loop(layer):
            # Not waited for: this may run on the server's own loop thread.
            asyncio.run_coroutine_threadsafe(_send_batch(items), _server_loop)
            return True
        elif isinstance(layer, InMemoryChannelLayer):
            # Only reachable from this process's own loop (tests, where a sync_to_async thread
            # hands the call back to the test's loop).
            return async_to_sync(_send_batch)(items)
        else:
            future = asyncio.run_coroutine_threadsafe(_send_batch(items), _process_push_loop())
            # _send_batch bounds each send itself; the margin covers handing it to the loop.
            return future.result(timeout=_timeout_s() + 5)
    except Exception:
        _count("failed", len(items))
        _log_limited("failed", logging.ERROR, "live push failed", exc_info=True)
    return False


async def _send_batch(items):
    """One group message per farm, its pushes' events in order, each send bounded. True when
    everything was sent. Never raises."""
    layer = get_channel_layer()
    if layer is None:
        return True
    by_farm: dict = {}
    for farm_id, events in items:
        pushes, batch = by_farm.setdefault(farm_id, ([], []))
        pushes.append(1)
        batch.extend(events)
    farms = list(by_farm)
    results = await asyncio.gather(
        *(_bounded_send(layer, farm_id, by_farm[farm_id][1]) for farm_id in farms),
        return_exceptions=True,
    )
    all_sent = True
    for farm_id, result in zip(farms, results, strict=True):
        pushes = len(by_farm[farm_id][0])
        if result is None:
            _count("sent", pushes)
            continue
        all_sent = False
        group = group_name(farm_id)
        if isinstance(result, TimeoutError):
            _count("timed_out", pushes)
            _log_limited(
                "timed_out",
                logging.ERROR,
                "live push to %s timed out after %s ms (%s pushes)",
                group,
                settings.ETHDASH_LIVE_PUSH_TIMEOUT_MS,
                pushes,
            )
        else:
            _count("failed", pushes)
            _log_limited(
                "failed",
                logging.ERROR,
                "live push to %s failed (%s pushes): %r",
                group,
                pushes,
                result,
            )
    return all_sent


async def _bounded_send(layer, farm_id, events):
    # A hung Redis must not leave sends piling up behind it: each is abandoned at the bound.
    message = {"type": "live.events", "events": events}
    await asyncio.wait_for(layer.group_send(group_name(farm_id), message), timeout=_timeout_s())


class _Sender:
    """One process's bounded queue of pushes and the daemon thread that sends them."""

    def __init__(self):
        self.pid = os.getpid()
        self.queue = queue.Queue(maxsize=settings.ETHDASH_LIVE_PUSH_QUEUE)
        self.thread = threading.Thread(target=self._run, name="live-push-sender", daemon=True)
        self.thread.start()

    def put(self, item):
        """Never blocks. A full queue (the layer slow or down) drops its oldest push: the newest
        figures are the ones a live screen needs."""
        while True:
            try:
                self.queue.put_nowait(item)
                return
            except queue.Full:
                try:
                    self.queue.get_nowait()
                except queue.Empty:
                    continue
                self.queue.task_done()
                _count("dropped", 1)
                _log_limited(
                    "dropped",
                    logging.WARNING,
                    "live push queue full (%s pushes): the oldest are dropped",
                    settings.ETHDASH_LIVE_PUSH_QUEUE,
                )

    def wait_empty(self, timeout_s):
        deadline = time.monotonic() + timeout_s
        with self.queue.all_tasks_done:
            while self.queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.queue.all_tasks_done.wait(remaining)
        return True

    def _run(self):
        while True:
            items = [self.queue.get()]
            # Whatever else waits goes in the same batch: under load, batches grow by themselves
            # while the previous one is being sent.
            while len(items) < BATCH_MAX:
                try:
                    items.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                sent = _deliver(items)
            except Exception:  # never let the sender die
                sent = False
                logger.exception("live push sender failed")
            finally:
                for _ in items:
                    self.queue.task_done()
            if not sent and settings.ETHDASH_LIVE_PUSH_BACKOFF_S:
                # The layer is down or hung: try again later, meanwhile the queue keeps the
                # newest pushes and drops the oldest.
                time.sleep(settings.ETHDASH_LIVE_PUSH_BACKOFF_S)


def _current_sender():
    global _sender
    sender = _sender
    if sender is not None and sender.pid == os.getpid():
        return sender
    with _sender_lock:
        # Keyed by pid: a forked worker (gunicorn, Celery prefork) has no thread of its parent's.
        if _sender is None or _sender.pid != os.getpid():
            _sender = _Sender()
        return _sender


def _forget_after_fork():
    # The child may have forked while another thread held a lock; it starts its own.
    global _sender, _sender_lock, _push_loop, _push_loop_lock
    _sender, _push_loop = None, None
    _sender_lock, _push_loop_lock = threading.Lock(), threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


@atexit.register
def _flush_at_exit():
    if _sender is not None and _sender.pid == os.getpid() and not flush(EXIT_FLUSH_S):
        logger.warning("live push: %s pushes not sent at exit", _sender.queue.qsize())


def _timeout_s():
    return settings.ETHDASH_LIVE_PUSH_TIMEOUT_MS / 1000


def _count(outcome, n):
    with _counts_lock:
        counts[outcome] += n
    LIVE_PUSHES.labels(outcome=outcome).inc(n)


def _log_limited(key, level, message, *args, exc_info=False):
    now = time.monotonic()
    with _counts_lock:
        if now - _last_logged.get(key, -LOG_INTERVAL_S) < LOG_INTERVAL_S:
            return
        _last_logged[key] = now
    logger.log(level, message, *args, exc_info=exc_info)


def _process_push_loop():
    global _push_loop
    with _push_loop_lock:
        # Keyed by pid: a forked worker (Celery prefork) must not use its parent's thread.
        if _push_loop is None or _push_loop[0] != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="live-push", daemon=True).start()
            _push_loop = (os.getpid(), loop)
        return _push_loop[1]
