"""Embedded mode: the Celery worker and beat as threads of the ASGI server's process.

Without Redis the channel layer and Celery's in-memory broker reach only their own process, so
the same tasks, on the same beat schedule, run here instead of in separate `celery worker` and
`celery beat` processes. There is no second code path: the worker is Celery's own WorkController
consuming the same queue, and beat is Celery's own embedded scheduler.
"""

import asyncio
import logging
import threading

from celery import beat
from celery.worker import state as worker_state
from django.conf import settings

from ethdash import live, registry
from ethdash.celery import app as celery_app

logger = logging.getLogger(__name__)


class InProcessCelery:
    def __init__(self, app=celery_app):
        self.app = app
        self.worker = None
        self.worker_thread = None
        self.beat = None

    def start(self):
        self.worker = self.app.WorkController(
            app=self.app,
            hostname="embedded@ethdash",
            pool="solo",
            concurrency=1,
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
        )
        self.worker_thread = threading.Thread(
            target=self.worker.start, name="celery-worker", daemon=True
        )
        self.worker_thread.start()
        # The in-memory scheduler: a schedule file only matters for a beat that outlives restarts.
        self.beat = beat.EmbeddedService(
            self.app, thread=True, scheduler_cls="celery.beat:Scheduler"
        )
        self.beat.start()
        logger.info("embedded Celery worker and beat started (broker %s)", self.app.conf.broker_url)

    def stop(self, timeout=5.0):
        if self.beat is not None:
            self.beat.stop()
        if self.worker_thread is not None:
            worker_state.should_terminate = 0
            self.worker_thread.join(timeout)
            worker_state.should_terminate = None


class Lifespan:
    """ASGI lifespan handler: registers the server's loop for live pushes and, in embedded mode,
    starts the in-process worker and beat and the apps' registered listeners on this loop (what
    `manage.py listen` runs in production)."""

    def __init__(self, start_worker=None, start_listeners=None):
        self.start_worker = start_worker
        # Unless told otherwise, listeners run where the worker does: without separate processes.
        self.start_listeners = start_listeners

    async def __call__(self, scope, receive, send):
        celery = None
        listening, stop_listeners = None, asyncio.Event()
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                live.register_server_loop(asyncio.get_running_loop())
                start = self.start_worker
                if start is None:
                    start = settings.ETHDASH_INPROCESS_WORKER
                if start:
                    celery = InProcessCelery()
                    # Off the event loop: Celery's Django fixup closes DB connections at start.
                    await asyncio.to_thread(celery.start)
                listen = start if self.start_listeners is None else self.start_listeners
                if listen:
                    listening = asyncio.create_task(
                        registry.run_listeners(registry.listeners(), stop=stop_listeners)
                    )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                stop_listeners.set()
                if listening is not None:
                    await listening
                if celery is not None:
                    await asyncio.to_thread(celery.stop)
                live.unregister_server_loop()
                await send({"type": "lifespan.shutdown.complete"})
                return
