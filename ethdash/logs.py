"""Log lines that say which request or task, farm and object they belong to.

The standard library only: a contextvar holds the current request's or task's fields (its id, the
farm, the object), a filter copies them onto every record, and JsonFormatter writes one JSON
object a line (LOG_FORMAT=json); the plain format shows the request or task id. structlog would
add a dependency for what forty lines do, and the libraries we use (Django, Celery, httpx) log
through the standard library anyway.

- A request gets its id from RequestIdMiddleware: the caller's X-Request-ID when it is a short
  token (a proxy's), else a new one; the response carries it back.
- A Celery task's fields are its task id and name, from Celery's task_prerun signal.
- Code that knows the farm or the object adds them with bind(farm_id=..., rig_id=...); the API's
  farm scoping does it for every request that reads a farm's objects.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime

from asgiref.sync import iscoroutinefunction
from django.utils.decorators import sync_and_async_middleware

_context: contextvars.ContextVar[dict | None] = contextvars.ContextVar("ethdash_log", default=None)

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# The attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)

requests_log = logging.getLogger("ethdash.requests")


def bind(**fields) -> None:
    """Adds fields (farm_id, rig_id, ...) to every later line of the current request or task;
    None values are left out. Outside a request or task, nothing happens."""
    current = _context.get()
    if current is not None:
        current.update({key: value for key, value in fields.items() if value is not None})


def current() -> dict:
    return dict(_context.get() or {})


def begin(**fields) -> contextvars.Token:
    """A fresh context for a request or task; end(token) restores the one before. A dict, bound
    once: sync_to_async runs a view in a copy of the context, and bind() inside it mutates the
    same dict, so the fields reach the request's last line too."""
    return _context.set({key: value for key, value in fields.items() if value is not None})


def end(token: contextvars.Token) -> None:
    _context.reset(token)


class ContextFilter(logging.Filter):
    """Copies the current request's or task's fields onto each record (`record.context`, and
    `record.request_or_task` for the plain format)."""

    def filter(self, record):
        fields = _context.get() or {}
        record.context = fields
        record.request_or_task = fields.get("request_id") or fields.get("task_id") or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts (UTC, ISO 8601), level, logger, message, the context's fields
    (request_id or task_id, farm_id, object ids), `extra=` fields, and the traceback if any."""

    def format(self, record):
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "context", None) or {})
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and key not in ("context", "request_or_task"):
                line.setdefault(key, value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def _id(value):
    """A URL's pk as the number it is (DRF's routers capture it as text)."""
    return int(value) if isinstance(value, str) and value.isdigit() else value


def request_id_of(request) -> str:
    given = request.META.get("HTTP_X_REQUEST_ID", "")
    return given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


@sync_and_async_middleware
def RequestIdMiddleware(get_response):
    """Gives each request an id (the caller's X-Request-ID if it is a short token, else a new
    one), binds it for the request's log lines, answers it in X-Request-ID, and logs one line per
    request on `ethdash.requests` (INFO; ETHDASH_REQUEST_LOG sets its level). Sync and async, so
    an ASGI server does not hop threads for it."""

    def finish(request, response, started):
        response[REQUEST_ID_HEADER] = request.request_id
        if requests_log.isEnabledFor(logging.INFO):
            match = getattr(request, "resolver_match", None)
            pk = match.kwargs.get("pk") if match else None
            requests_log.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                    # The route's name and the object it took (`object_id`: the URL's pk).
                    "route": match.view_name if match else None,
                    **({} if pk is None else {"object_id": _id(pk)}),
                },
            )
        return response

    if iscoroutinefunction(get_response):

        async def middleware(request):
            request.request_id = request_id_of(request)
            token, started = begin(request_id=request.request_id), time.perf_counter()
            try:
                return finish(request, await get_response(request), started)
            finally:
                end(token)

    else:

        def middleware(request):
            request.request_id = request_id_of(request)
            token, started = begin(request_id=request.request_id), time.perf_counter()
            try:
                return finish(request, get_response(request), started)
            finally:
                end(token)

    return middleware


_task_tokens: dict[str, contextvars.Token] = {}


def _task_prerun(task_id=None, task=None, **kwargs):
    if task_id:
        _task_tokens[task_id] = begin(task_id=task_id, task=getattr(task, "name", None))


def _task_postrun(task_id=None, **kwargs):
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        try:
            end(token)
        except ValueError:  # set in another context (a thread pool): nothing to restore here
            _context.set(None)


def connect_celery_signals() -> None:
    from celery import signals

    signals.task_prerun.connect(_task_prerun, weak=False, dispatch_uid="ethdash-logs-prerun")
    signals.task_postrun.connect(_task_postrun, weak=False, dispatch_uid="ethdash-logs-postrun")


def logging_config(*, log_format: str, level: str, loggers: dict) -> dict:
    """Django's LOGGING: one console handler in `log_format` (json or plain)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "ethdash.logs.ContextFilter"}},
        "formatters": {
            "plain": {
                "format": "%(asctime)s %(levelname)s %(name)s [%(request_or_task)s]: %(message)s"
            },
            "json": {"()": "ethdash.logs.JsonFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": loggers,
    }
