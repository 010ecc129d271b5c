"""A real ASGI server for tests: uvicorn serving ethdash in a daemon thread of the test process.

Because the server shares the test process, the in-memory channel layer of embedded mode reaches
its websockets exactly as in production (and channels-redis works too when REDIS_URL is set).
Tests that use it need `transactional_db`, so the data they create is committed and visible to
the server's threads.
"""

import asyncio
import contextlib
import socket
import threading
import time

import uvicorn
from asgiref.sync import sync_to_async
from channels.routing import ProtocolTypeRouter
from django.core.handlers.asgi import ASGIHandler
from django.db import connections

from ethdash import live
from ethdash.embedded import Lifespan


def build_application():
    """ethdash.asgi.application, with a fresh HTTP handler and no in-process Celery worker.

    The HTTP handler is built now rather than when ethdash.asgi was first imported, so the
    middleware (WhiteNoise in particular) sees the settings of the running test. The websocket
    stack is the module's own.
    """
    from ethdash.asgi import application

    return ProtocolTypeRouter(
        {
            "http": ASGIHandler(),
            "websocket": application.application_mapping["websocket"],
            "lifespan": Lifespan(start_worker=False),
        }
    )


class ThreadedServer:
    """uvicorn on a free port of 127.0.0.1, run in a daemon thread; `url` is its base address.

    uvicorn installs signal handlers only in the main thread, so `Server.run()` in a thread needs
    no override.
    """

    def __init__(self, app, *, startup_timeout=10.0):
        self.app = app
        self.startup_timeout = startup_timeout
        self.server = None
        self.thread = None
        self.loop = None
        self.url = None
        self._saved_max_age = {}

    def start(self):
        # Bound here and handed to uvicorn, so no other process can take the port in between.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=port,
            lifespan="on",
            ws="websockets-sansio",
            log_level="warning",
        )
        self._saved_max_age = _short_lived_connections()
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self._run, args=(sock,), name=f"uvicorn-{port}", daemon=True
        )
        self.thread.start()
        try:
            self._wait_started()
        except BaseException:
            self.stop()
            raise
        # The lifespan start-up registered the server's loop for live pushes.
        self.loop = live._server_loop
        self.url = f"http://127.0.0.1:{port}"
        return self

    def _wait_started(self):
        deadline = time.monotonic() + self.startup_timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the test server stopped during start-up (see the log above)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the test server did not start in {self.startup_timeout} s")
            time.sleep(0.02)

    def _run(self, sock):
        try:
            self.server.run(sockets=[sock])
        finally:
            sock.close()

    def stop(self, timeout=10.0):
        if self.server is None:
            return
        try:
            self._close_server_connections()
            self.server.should_exit = True
            self.thread.join(timeout)
            if self.thread.is_alive():
                self.server.force_exit = True
                self.thread.join(timeout)
        finally:
            _restore_max_age(self._saved_max_age)
            self.server = None

    def _close_server_connections(self):
        # Work done through database_sync_to_async outside a request (the websocket consumer and
        # its auth middleware) runs on asgiref's long-lived executor thread; close its connection
        # there, as Django's own live server closes the connections of its threads.
        loop = self.loop
        if loop is None or not loop.is_running():
            return
        future = asyncio.run_coroutine_threadsafe(
            sync_to_async(connections.close_all, thread_sensitive=True)(), loop
        )
        with contextlib.suppress(Exception):
            future.result(timeout=5)


def _short_lived_connections():
    """Makes every database connection close when its request (or database_sync_to_async call)
    ends, for as long as the server runs; returns the previous CONN_MAX_AGE of each alias.

    Each request runs in a thread of its own (Django's ThreadSensitiveContext), and a persistent
    connection (CONN_MAX_AGE > 0, as with PostgreSQL) outlives that thread unclosed: PostgreSQL
    would then refuse to drop the test database ("being accessed by other users"). The settings
    dict is shared by the connections of all threads, so this reaches the server's threads.
    """
    saved = {}
    for alias in connections:
        settings_dict = connections.settings[alias]
        saved[alias] = settings_dict.get("CONN_MAX_AGE")
        settings_dict["CONN_MAX_AGE"] = 0
    return saved


def _restore_max_age(saved):
    for alias, max_age in saved.items():
        connections.settings[alias]["CONN_MAX_AGE"] = max_age


@contextlib.contextmanager
def serve(app=None, **kwargs):
    """Runs ethdash (or `app`) on a ThreadedServer for the duration of the block."""
    server = ThreadedServer(app or build_application(), **kwargs).start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def hung_tcp_server():
    """A TCP server on 127.0.0.1 that accepts connections and never answers (a hung Redis, say);
    yields its port."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted, stop = [], threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        server.close()
