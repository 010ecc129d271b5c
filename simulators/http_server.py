"""The one HTTP/1.1 server every simulator answers through: a listening socket and a small
asyncio.Protocol per connection, with no task or thread of its own, so a benchmark can run a
thousand simulated miners in one process.

    class Hello(HttpApp):
        def handle(self, request, connection):
            return Response.json({"hello": request.path})

    server = await serve(Hello())       # 127.0.0.1, an ephemeral port
    port = server.sockets[0].getsockname()[1]
    await close_server(server)

`HttpApp.handle` returns the Response to send, or None when it deals with the connection itself:
hanging on purpose (`connection.ignore_input()`), dropping it (`connection.close()`), answering
late (`connection.call_later`), or turning it into a Server-Sent Events stream
(`connection.start_event_stream()` then `connection.write(frame)`). Keep-alive follows the
request (HTTP/1.1 without `Connection: close`); bodies are read by Content-Length.

Deliberately independent of Django and of the ethdash code, like every simulator.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
from dataclasses import dataclass, field
from typing import NamedTuple

MAX_HEAD_BYTES = 16384
MAX_BODY_BYTES = 64 * 1024 * 1024
REASONS = {
    200: "OK",
    204: "No Content",
    206: "Partial Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    414: "URI Too Long",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


class Response(NamedTuple):
    """What to send: `content_type` None sends no Content-Type (an empty beacon answer);
    `headers` come after Content-Length, in order."""

    status: int
    content_type: str | None
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, document, status: int = 200, *, compact: bool = False, headers=()) -> Response:
        separators = (",", ":") if compact else None
        body = json.dumps(document, separators=separators).encode()
        return cls(status, "application/json", body, tuple(headers))


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: dict[str, str]  # names lower-cased
    body: bytes = b""
    path: str = field(init=False)
    query: str = field(init=False)  # raw, without the "?"

    def __post_init__(self):
        self.path, _, self.query = self.target.partition("?")

    @property
    def keep_alive(self) -> bool:
        return self.version == "HTTP/1.1" and self.headers.get("connection", "").lower() != "close"


class HttpApp:
    """What a simulator supplies; only `handle` is required."""

    def handle(self, request: Request, connection: HttpConnection) -> Response | None:
        raise NotImplementedError

    def bad_request(self, reason: str) -> Response:
        """The answer to a request that cannot be parsed (then the connection closes)."""
        return Response(400, "text/plain", b"Bad Request")

    def connected(self, connection: HttpConnection) -> None:
        """A client connected; may drop it at once (`connection.abort()`)."""

    def disconnected(self, connection: HttpConnection) -> None:
        """The connection is gone (closed by either side, or by close_server)."""


class HttpConnection(asyncio.Protocol):
    def __init__(self, app: HttpApp, connections: set[HttpConnection]):
        self.app = app
        self.connections = connections
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.ignoring = False
        self.timers: list[asyncio.TimerHandle] = []

    # -- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport
        self.connections.add(self)
        self.app.connected(self)

    def connection_lost(self, exc):
        self.connections.discard(self)
        for timer in self.timers:
            timer.cancel()
        self.app.disconnected(self)

    def data_received(self, data):
        if self.ignoring:
            return
        self.buffer += data
        while not self.transport.is_closing() and not self.ignoring:
            request = self._next_request()
            if request is None:
                return
            response = self.app.handle(request, self)
            if response is not None:
                self.respond(response, request.keep_alive)

    def _next_request(self) -> Request | None:
        head, found, rest = self.buffer.partition(b"\r\n\r\n")
        if not found:
            if len(self.buffer) > MAX_HEAD_BYTES:
                self.transport.close()
            return None
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self.respond(self.app.bad_request("Bad Content-Length"), keep_alive=False)
            return None
        if len(rest) < length:
            return None  # wait for the rest of the body
        self.buffer = rest[length:]
        parts = lines[0].split(" ")
        if len(parts) != 3:
            self.respond(self.app.bad_request("Bad request line"), keep_alive=False)
            return None
        return Request(*parts, headers=headers, body=rest[:length])

    # -- what a handler may do -------------------------------------------------------------

    def respond(self, response: Response, keep_alive: bool) -> None:
        status, content_type, body, headers = response
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}"]
        if content_type is not None:
            lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Length: {len(body)}")
        lines.extend(f"{name}: {value}" for name, value in headers)
        if not keep_alive:
            lines.append("Connection: close")
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        if not keep_alive:
            self.transport.close()

    def ignore_input(self) -> None:
        """Reads and drops everything from now on: a hanging server, or an event stream."""
        self.ignoring = True

    def start_event_stream(self) -> None:
        """Answers with a Server-Sent Events head; frames follow through `write`."""
        self.ignore_input()
        self.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            b"Connection: close\r\n\r\n"
        )

    def write(self, data: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(data)

    def call_later(self, delay_s: float, callback, *args) -> None:
        """Runs `callback(*args)` after `delay_s` unless the connection is gone by then."""
        loop = asyncio.get_running_loop()
        self.timers.append(loop.call_later(delay_s, callback, *args))

    @property
    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def close(self) -> None:
        self.transport.close()

    def abort(self) -> None:
        self.transport.abort()


async def serve(app: HttpApp, host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    """Serves `app`; port 0 takes an ephemeral one (read it from `server.sockets[0]`)."""
    connections: set[HttpConnection] = set()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: HttpConnection(app, connections), host, port)
    server.http_connections = connections
    return server


async def close_server(server: asyncio.Server) -> None:
    """Stops listening and drops open connections, hanging, slow and streaming ones included."""
    server.close()
    for connection in list(server.http_connections):
        connection.close()
    await server.wait_closed()


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM, for a simulator run from the command line: it awaits
    the event, then closes its servers itself, so a benchmark's kill ends it cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


class LoopThread:
    """An asyncio loop in a daemon thread, for synchronous code (tests, benchmarks) that starts
    simulators and talks to them: `thread.run(serve(app))`."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> LoopThread:
        self.thread.start()
        return self

    def run(self, coroutine, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self, timeout: float = 10) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout)
