"""Structured logs (a JSON line names its request and farm, or its task) and OpenTelemetry
tracing (spans for a request when the setting turns it on)."""

import contextlib
import io
import json
import logging
import os
import subprocess
import sys

import pytest
from celery import shared_task
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from rest_framework.test import APIClient

from accounts.models import ApiToken
from ethdash import logs, tracing
from tests.factories import make_farm


@contextlib.contextmanager
def captured_json():
    """Everything logged meanwhile, through the JSON formatter and the context filter that
    LOG_FORMAT=json installs; yields a function giving one parsed object a line."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.ContextFilter())
    root, requests_log = logging.getLogger(), logging.getLogger("ethdash.requests")
    saved = requests_log.level
    root.addHandler(handler)
    requests_log.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        requests_log.setLevel(saved)


@pytest.fixture
def json_lines():
    with captured_json() as lines:
        yield lines


def test_a_json_line_carries_the_request_id_and_the_farm(db, json_lines):
    world = make_farm("Alpha")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {world.token(ApiToken.Scope.READ)}")
    response = api.get(f"/api/v1/rigs/{world.rig.pk}/", HTTP_X_REQUEST_ID="probe-42")
    assert response.status_code == 200
    assert response["X-Request-ID"] == "probe-42"
    (line,) = [line for line in json_lines() if line["logger"] == "ethdash.requests"]
    assert line["request_id"] == "probe-42"
    assert line["farm_id"] == world.farm.pk
    assert line["status"] == 200 and line["path"] == f"/api/v1/rigs/{world.rig.pk}/"
    assert line["route"] == "rig-detail" and line["object_id"] == world.rig.pk
    assert line["level"] == "INFO" and line["ts"].endswith("+00:00")


def test_a_request_without_a_usable_id_gets_a_new_one(db, json_lines):
    client = APIClient()
    first = client.get("/healthz", HTTP_X_REQUEST_ID="not a token; with spaces")
    second = client.get("/healthz")
    ids = {first["X-Request-ID"], second["X-Request-ID"]}
    assert len(ids) == 2 and all(len(i) == 32 for i in ids)
    assert {line["request_id"] for line in json_lines()} == ids


@shared_task
def _logs_a_line(farm_id):
    logs.bind(farm_id=farm_id)
    logging.getLogger("ethdash.tests").warning("task says hello")


def test_a_task_line_carries_the_task_id(json_lines):
    result = _logs_a_line.apply(args=(7,), task_id="task-123")
    assert result.successful()
    (line,) = [line for line in json_lines() if line["logger"] == "ethdash.tests"]
    assert line["task_id"] == "task-123" and line["farm_id"] == 7
    assert line["task"].endswith("_logs_a_line")
    # Out of the task, its fields are gone.
    assert logs.current() == {}


def test_plain_lines_show_the_request_or_task_id(json_lines):
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    token = logs.begin(request_id="abc")
    try:
        logs.ContextFilter().filter(record)
    finally:
        logs.end(token)
    formatter = logging.Formatter("%(request_or_task)s %(message)s")
    assert formatter.format(record) == "abc hello"


@pytest.mark.parametrize(
    ("env", "refused"),
    [
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
        ({"ETHDASH_TRACING": "jaeger"}, "ETHDASH_TRACING"),
        ({"ETHDASH_METRICS_ALLOW": "10.0.0.0/33"}, "ETHDASH_METRICS_ALLOW"),
        ({"LOG_FORMAT": "json", "ETHDASH_TRACING": "otlp"}, None),
    ],
)
def test_the_settings_are_checked_at_start(env, refused):
    code = (
        "import ethdash.settings as s; "
        "print(s.LOGGING['handlers']['console']['formatter'], s.ETHDASH_TRACING)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "SECRET_KEY": "x", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    if refused:
        assert done.returncode != 0 and refused in done.stderr
    else:
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["json", "otlp"]


def test_the_websocket_servers_errors_are_json_lines_too():
    """uvicorn configures its loggers before it loads the application; Django's LOGGING, applied
    when the application loads, takes them over, so a websocket consumer's traceback is a JSON
    line with a time like every other, not uvicorn's plain "ERROR:    Exception in ASGI..."."""
    code = (
        "import logging, logging.config, django; "
        "from uvicorn.config import LOGGING_CONFIG; "
        "logging.config.dictConfig(LOGGING_CONFIG); "
        "django.setup(); "
        "logging.getLogger('uvicorn.error').error('Exception in ASGI application'); "
        "logging.getLogger('uvicorn.error').info('connection open')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={
            **os.environ,
            "SECRET_KEY": "x",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "ethdash.settings",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in (done.stdout + done.stderr).splitlines()]
    # One line: the INFO one is below LOG_LEVEL, whatever uvicorn's own level said.
    (line,) = [line for line in lines if line["logger"] == "uvicorn.error"]
    assert line["level"] == "ERROR" and line["message"] == "Exception in ASGI application"
    assert line["ts"]


def test_tracing_is_off_by_default(settings):
    assert settings.ETHDASH_TRACING == "off"
    assert tracing.configure() is False


def test_tracing_on_creates_spans_for_a_request(db):
    exporter = InMemorySpanExporter()
    world = make_farm("Alpha")
    try:
        assert tracing.configure(span_exporter=exporter)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {world.token(ApiToken.Scope.READ)}")
        assert api.get(f"/api/v1/rigs/{world.rig.pk}/").status_code == 200
    finally:
        tracing.shutdown()
    spans = exporter.get_finished_spans()
    server = [s for s in spans if s.kind.name == "SERVER"]
    assert len(server) == 1, [s.name for s in spans]
    # The route's pattern, never the path with its id.
    assert server[0].attributes["http.route"].startswith("api/v1/rigs/(?P<pk>")
    assert server[0].attributes.get("http.status_code", 200) == 200


def test_under_asgi_the_request_gets_its_id_and_its_line(transactional_db):
    """The middleware's async path, as uvicorn (the embedded server, /ws/) runs it."""
    import urllib.request

    from tests.servers import serve

    world = make_farm("Alpha")
    read = world.token(ApiToken.Scope.READ)
    # Captured once the server runs: its start (django.setup) applies LOGGING again.
    with serve() as server, captured_json() as json_lines:
        request = urllib.request.Request(
            f"{server.url}/api/v1/rigs/{world.rig.pk}/",
            headers={"Authorization": f"Bearer {read}", "X-Request-ID": "asgi-1"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200 and response.headers["X-Request-ID"] == "asgi-1"
        (line,) = [line for line in json_lines() if line.get("request_id") == "asgi-1"]
    assert line["farm_id"] == world.farm.pk and line["status"] == 200
