"""Alerts, channels and a local HTTP receiver for the delivery tests."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.utils import timezone

from alerts.models import Alert, AlertRule, NotificationChannel
from alerts.services import notify


def make_channel(farm, kind="email", target="ops@example.com", **fields):
    return NotificationChannel.objects.create(
        farm=farm, name=fields.pop("name", f"{kind} {target}"[:120]), kind=kind, target=target,
        **fields,
    )  # fmt: skip


def make_rule(farm, channel, **fields):
    rule = AlertRule.objects.create(farm=farm, kind=fields.pop("kind", "test_temp"), **fields)
    rule.channels.add(channel)
    return rule


def open_alert(rule, object_id, *, severity="critical", value=81.5, name=None):
    """An open alert about object `object_id`, its notifications queued as evaluation does."""
    now = timezone.now()
    alert = Alert.objects.create(
        farm=rule.farm,
        rule=rule,
        kind=rule.kind,
        severity=severity,
        object_type="gpu",
        object_id=object_id,
        object_name=name or f"rig-1 GPU {object_id}",
        url=f"/rigs/1/#gpu-{object_id}",
        state=Alert.State.OPEN,
        dedupe=str(object_id),
        seen_at=now,
        opened_at=now,
        value=value,
        message=f"GPU {object_id} at {value} °C, above 80 °C",
    )
    notify.queue(alert, "opened")
    return alert


class Receiver:
    """An HTTP server on 127.0.0.1 in a thread: records each request (path, headers, body) and
    answers `status`, or a redirect to `redirect_to` when set."""

    def __init__(self):
        self.requests: list[dict] = []
        self.status = 200
        self.redirect_to: str | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                if receiver.redirect_to and self.path == "/hook":
                    self.send_response(307)
                    self.send_header("Location", receiver.redirect_to)
                else:
                    self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def json(self, index=-1):
        return json.loads(self.requests[index]["body"])
