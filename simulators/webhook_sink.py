"""A webhook receiver on loopback for the demo: it accepts JSON POSTs on any path, keeps the last
`keep` messages, prints each as one line to stdout, and lists them on GET / (a small HTML page
that reloads itself, or JSON with `Accept: application/json` or `?format=json`).

    python -m simulators.webhook_sink --port 0 --keep 100 --out sink.json

    server = await start_webhook_sink(keep=50)     # 127.0.0.1, an ephemeral port
    server.sink.messages                           # newest last
    await close_server(server)

--out receives {"url": "http://127.0.0.1:PORT"} once it listens; runs until SIGINT/SIGTERM.
A body that is not JSON is refused with 400 and not kept. Nothing is sent anywhere: the demo's
alert channel posts here, so no outside service is needed. Deliberately independent of Django and
of the ethdash code, like every simulator.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import sys
from collections import deque
from datetime import UTC, datetime
from urllib.parse import parse_qs

from simulators.http_server import (
    HttpApp,
    HttpConnection,
    Request,
    Response,
    close_server,
    serve,
    stop_on_signals,
)

# What a message says in one line, looked up in this order (a chat-style "text" first).
SUMMARY_KEYS = ("text", "title", "message", "summary")
SUMMARY_CHARS = 300


def summary(body) -> str:
    """One line for a received body: its first text-like field, else its compact JSON."""
    if isinstance(body, dict):
        for key in SUMMARY_KEYS:
            if isinstance(body.get(key), str) and body[key].strip():
                line = " ".join(body[key].split())
                break
        else:
            line = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    else:
        line = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return line if len(line) <= SUMMARY_CHARS else line[: SUMMARY_CHARS - 1] + "…"


class WebhookSink(HttpApp):
    def __init__(self, keep: int = 100, echo=None):
        self.messages: deque[dict] = deque(maxlen=keep)
        self.received = 0
        self.echo = echo or (lambda line: print(line, flush=True))

    def handle(self, request: Request, connection: HttpConnection) -> Response:
        if request.method == "POST":
            return self.receive(request)
        if request.method != "GET":
            return Response(405, "text/plain", b"Method Not Allowed", (("Allow", "GET, POST"),))
        if request.path != "/":
            return Response(404, "text/plain", b"Not Found")
        wants_json = parse_qs(request.query).get("format") == ["json"] or (
            "application/json" in request.headers.get("accept", "")
        )
        if wants_json:
            return Response.json({"received": self.received, "messages": list(self.messages)})
        return Response(200, "text/html; charset=utf-8", self.page().encode())

    def receive(self, request: Request) -> Response:
        try:
            body = json.loads(request.body)
        except (UnicodeDecodeError, ValueError):
            return Response.json({"error": "the body is not JSON"}, status=400)
        self.received += 1
        message = {
            "number": self.received,
            "received_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "path": request.path,
            "signature": request.headers.get("x-ethdash-signature", ""),
            "summary": summary(body),
            "body": body,
        }
        self.messages.append(message)
        self.echo(f"webhook #{message['number']} {message['received_at']} {message['summary']}")
        return Response.json({"ok": True, "number": message["number"]})

    def page(self) -> str:
        items = "".join(
            "<li><p><b>#{n}</b> {at} <code>{path}</code>{signed}<br>{summary}</p>"
            "<details><summary>body</summary><pre>{body}</pre></details></li>".format(
                n=m["number"],
                at=html.escape(m["received_at"]),
                path=html.escape(m["path"]),
                signed=" (signed)" if m["signature"] else "",
                summary=html.escape(m["summary"]),
                body=html.escape(json.dumps(m["body"], indent=2, ensure_ascii=False)),
            )
            for m in reversed(self.messages)
        )
        kept = len(self.messages)
        return (
            "<!doctype html><html><head><meta charset='utf-8'>"
            "<meta http-equiv='refresh' content='5'><title>Webhook sink</title></head>"
            "<body style='font-family: sans-serif; max-width: 60em; margin: 1em auto'>"
            f"<h1>Webhook sink</h1><p>{self.received} received, the last {kept} kept, newest "
            "first; this page reloads every 5 s. JSON: <a href='/?format=json'>?format=json</a>"
            f"</p><ol reversed>{items or '<li>Nothing received yet.</li>'}</ol></body></html>"
        )


async def start_webhook_sink(
    host: str = "127.0.0.1", port: int = 0, keep: int = 100, echo=None
) -> asyncio.Server:
    """Serves a sink; `server.sink` is its WebhookSink (messages, received), `server.url` its
    address."""
    sink = WebhookSink(keep, echo)
    server = await serve(sink, host, port)
    server.sink = sink
    server.url = f"http://{host}:{server.sockets[0].getsockname()[1]}"
    return server


async def _main(args) -> None:
    server = await start_webhook_sink(args.host, args.port, args.keep)
    if args.out:
        with open(args.out, "w") as handle:
            json.dump({"url": server.url}, handle)
    print(f"webhook sink on {server.url}", flush=True)
    stop = stop_on_signals()
    await stop.wait()
    await close_server(server)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--keep", type=int, default=100, help="messages kept for GET /")
    parser.add_argument("--out", help="write {'url': ...} here once listening")
    args = parser.parse_args(argv)
    if args.keep < 1:
        parser.error("--keep must be at least 1")
    asyncio.run(_main(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
