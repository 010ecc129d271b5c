"""Live push: one channel-layer group per farm, events sent after the transaction commits.

Browsers join the groups of the farms they belong to (ethdash.consumers.LiveConsumer); services
call push() after storing something. Events follow docs/api.md: {"type", "id", "ts", ...}.
"""

import asyncio
import logging
import os
import threading

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
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
SEND_TIMEOUT_S = 5.0


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
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "live.events", "events": events}
    group = group_name(farm_id)
    try:
        loop = _server_loop
        if loop is not None and loop.is_running():
            # Not waited for: this may run on the server's own loop thread.
            future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop)
            future.add_done_callback(_log_failure)
        elif isinstance(layer, InMemoryChannelLayer):
            # Only reachable from this process's own loop (tests, where a sync_to_async thread
            # hands the call back to the test's loop).
            async_to_sync(layer.group_send)(group, message)
        else:
            future = asyncio.run_coroutine_threadsafe(
                layer.group_send(group, message), _process_push_loop()
            )
            future.result(timeout=SEND_TIMEOUT_S)
    except Exception:
        logger.exception("live push to %s failed", group)


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
        logger.error("live push failed: %r", future.exception())
