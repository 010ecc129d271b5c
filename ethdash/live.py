"""Live push: one channel-layer group per farm, events sent after the transaction commits.

Browsers join the groups of the farms they belong to (ethdash.consumers.LiveConsumer); services
call push() after storing something. Events follow docs/api.md: {"type", "id", "ts", ...}.
"""

import asyncio
import concurrent.futures
import logging
import os
import threading
import time

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

# The ASGI server's event loop, registered at lifespan start-up. InMemoryChannelLayer is not
# thread-safe: a group_send from a worker thread reached a waiting socket seconds late, while the
# same call handed to the server's own loop arrives in about a millisecond (docs/architecture.md).
_server_loop: asyncio.AbstractEventLoop | None = None

# Outside an ASGI server (WSGI workers, Celery workers) pushes go through one long-lived loop per
# process: async_to_sync would build a new loop, and so a new Redis connection, for every push.
_push_loop: tuple[int, asyncio.AbstractEventLoop] | None = None
_push_loop_lock = threading.Lock()

# A push waits at most ETHDASH_LIVE_PUSH_TIMEOUT_MS for the channel layer; after a push that
# failed or timed out, pushes are dropped at once for ETHDASH_LIVE_PUSH_BACKOFF_S, so a hung
# Redis costs one request the bound, not every request (the data is stored either way; browsers
# catch up on their next event or reload).
_backoff_until = 0.0
_counts_lock = threading.Lock()
counts = {"sent": 0, "failed": 0, "timed_out": 0, "dropped": 0}


def group_name(farm_id):
    return f"farm.{farm_id}"


def register_server_loop(loop):
    global _server_loop
    _server_loop = loop


def unregister_server_loop():
    register_server_loop(None)


def push(farm_id, *events):
    """Sends events to the farm's browsers once the current transaction commits (at once outside
    one). A failed send is logged and never undoes what was stored."""
    if events:
        transaction.on_commit(lambda: send_now(farm_id, list(events)))


def send_now(farm_id, events):
    """Sends at once. Never raises, and never holds the caller longer than
    ETHDASH_LIVE_PUSH_TIMEOUT_MS (plus the time to hand the call to a loop)."""
    global _backoff_until
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "live.events", "events": events}
    group = group_name(farm_id)
    try:
        loop = _server_loop
        if loop is not None and loop.is_running():
            # Not waited for: this may run on the server's own loop thread.
            future = asyncio.run_coroutine_threadsafe(_bounded(layer, group, message), loop)
            future.add_done_callback(_log_failure)
        elif isinstance(layer, InMemoryChannelLayer):
            # Only reachable from this process's own loop (tests, where a sync_to_async thread
            # hands the call back to the test's loop).
            async_to_sync(layer.group_send)(group, message)
            _count("sent")
        else:
            if time.monotonic() < _backoff_until:
                _count("dropped")
                return
            future = asyncio.run_coroutine_threadsafe(
                layer.group_send(group, message), _process_push_loop()
            )
            try:
                future.result(timeout=_timeout_s())
            except concurrent.futures.TimeoutError:
                future.cancel()  # the send is abandoned, not left to pile up behind a hung Redis
                _backoff_until = time.monotonic() + settings.ETHDASH_LIVE_PUSH_BACKOFF_S
                _count("timed_out")
                logger.error(
                    "live push to %s timed out after %s ms; pushes dropped for %s s",
                    group,
                    settings.ETHDASH_LIVE_PUSH_TIMEOUT_MS,
                    settings.ETHDASH_LIVE_PUSH_BACKOFF_S,
                )
                return
            _count("sent")
    except Exception:
        _backoff_until = time.monotonic() + settings.ETHDASH_LIVE_PUSH_BACKOFF_S
        _count("failed")
        logger.exception("live push to %s failed", group)


def _timeout_s():
    return settings.ETHDASH_LIVE_PUSH_TIMEOUT_MS / 1000


async def _bounded(layer, group, message):
    # On the server's loop nobody waits for the send, but a hung Redis must not leave one
    # pending send per push behind it.
    try:
        await asyncio.wait_for(layer.group_send(group, message), timeout=_timeout_s())
    except TimeoutError:
        _count("timed_out")
        raise
    _count("sent")


def _count(outcome):
    with _counts_lock:
        counts[outcome] += 1


def _process_push_loop():
    global _push_loop
    with _push_loop_lock:
        # Keyed by pid: a forked worker (Celery prefork) must not use its parent's thread.
        if _push_loop is None or _push_loop[0] != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="live-push", daemon=True).start()
            _push_loop = (os.getpid(), loop)
        return _push_loop[1]


def _log_failure(future):
    if not future.cancelled() and future.exception() is not None:
        if not isinstance(future.exception(), TimeoutError):
            _count("failed")
        logger.error("live push failed: %r", future.exception())
