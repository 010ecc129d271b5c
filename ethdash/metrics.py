"""Prometheus metrics: the process's own (for the operator) and each farm's (for its users).

The process's own series (requests, Celery task runs, poll, store and evaluation times, queue
length, outbound errors) live in OWN. With PROMETHEUS_MULTIPROC_DIR set (several web workers,
Celery prefork), prometheus_client writes every process's values to files there and a scrape
adds them up (MultiProcessCollector); without it, one process's values are served as they are.
Every series is documented in docs/metrics.md, and tests/test_metrics.py holds the two together.

A farm's series are read from the database when scraped: each domain app registers a collector
(ethdash.registry.register_farm_metrics) that yields metric families for the farms asked.
"""

from __future__ import annotations

import logging
import os
import time

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.utils.decorators import sync_and_async_middleware
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)

# `_created` series double every counter and mean nothing summed over processes (multiprocess
# mode does not write them): left out everywhere, so both modes export the same names.
disable_created_metrics()

# The classic text format (what generate_latest writes): every Prometheus since 2.0 reads it.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

OWN = CollectorRegistry(auto_describe=True)

# Web requests: the route is the URL pattern's name (a few hundred at most), never the path.
HTTP_REQUESTS = Counter(
    "ethdash_http_requests",
    "HTTP requests answered, by method, route name and status code.",
    ["method", "route", "status"],
    registry=OWN,
)
HTTP_DURATION = Histogram(
    "ethdash_http_request_duration_seconds",
    "Time from the request reaching Django to its response, by method and route name.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=OWN,
)
TASK_RUNS = Counter(
    "ethdash_celery_task_runs",
    "Celery task runs finished, by task name and outcome (success, failure, retry).",
    ["task", "outcome"],
    registry=OWN,
)
TASK_DURATION = Histogram(
    "ethdash_celery_task_duration_seconds",
    "Time a Celery task run took, by task name.",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=OWN,
)
POLL_DURATION = Histogram(
    "ethdash_poll_duration_seconds",
    "Time one poll of an outside source took (kind: miner, pool), answer or failure.",
    ["kind"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=OWN,
)
STORE_DURATION = Histogram(
    "ethdash_store_duration_seconds",
    "Time from a store's start to its commit, by topic (rig, pool, validator, ...).",
    ["topic"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    registry=OWN,
)
STORED_LISTENERS_DURATION = Histogram(
    "ethdash_stored_listeners_duration_seconds",
    "Time the stored hook's listeners (live push, alert noting) took after a commit, by topic.",
    ["topic"],
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
    registry=OWN,
)
ALERT_EVALUATION_DURATION = Histogram(
    "ethdash_alert_evaluation_duration_seconds",
    "Time one alert evaluation of a farm and topic took.",
    ["topic"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    registry=OWN,
)
OUTBOUND_ERRORS = Counter(
    "ethdash_outbound_errors",
    "Failed outside calls (one per attempt) through the outbound transport, by error kind.",
    ["kind"],
    registry=OWN,
)
LIVE_PUSHES = Counter(
    "ethdash_live_pushes",
    "Live pushes (one store's events for one farm) by outcome: sent, failed, timed_out, dropped.",
    ["outcome"],
    registry=OWN,
)
for _outcome in ("sent", "failed", "timed_out", "dropped"):
    LIVE_PUSHES.labels(outcome=_outcome)  # exported from the start, at zero

# Families of the process's own series, computed when scraped (not kept by prometheus_client).
QUEUE_LENGTH = "ethdash_celery_queue_length"


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


class QueueCollector:
    """The number of messages waiting in each Celery queue, asked of the broker when scraped
    (so every worker process need not report it)."""

    @staticmethod
    def family():
        return GaugeMetricFamily(
            QUEUE_LENGTH,
            "Messages waiting in the Celery queue (the broker's count).",
            labels=["queue"],
        )

    def describe(self):
        return [self.family()]

    def collect(self):
        family = self.family()
        try:
            from kombu.exceptions import ChannelError

            from ethdash.celery import app

            with app.connection_for_read() as connection:
                connection.ensure_connection(max_retries=1)
                channel = connection.default_channel
                for name in sorted(app.amqp.queues) or [app.conf.task_default_queue]:
                    try:
                        waiting = channel.queue_declare(queue=name, passive=True).message_count
                    except ChannelError:  # not declared yet: no worker has started, none sent
                        waiting = 0
                    family.add_metric([name], waiting)
        except Exception as exc:  # a broker down must not fail the scrape of everything else
            logger.warning("queue length not read from the broker: %s", exc)
            return
        yield family


_QUEUE_COLLECTOR = QueueCollector()
OWN.register(_QUEUE_COLLECTOR)


def process_exposition() -> bytes:
    """The process's own series in the text format: every worker's, added up, in multiprocess
    mode; this process's otherwise."""
    if multiprocess_mode():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(_QUEUE_COLLECTOR)
        return generate_latest(registry)
    return generate_latest(OWN)


class _FarmCollector:
    def __init__(self, farm_ids, options):
        self.farm_ids = list(farm_ids)
        self.options = options

    def collect(self):
        from ethdash import registry

        for collect in registry.farm_metrics():
            yield from collect(self.farm_ids, self.options)


def farm_exposition(farm_ids, **options) -> bytes:
    """The series of these farms, from each domain's registered collector. `options`:
    `validators="each"` adds one series per validator (off by default: a farm may have 100,000)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_FarmCollector(farm_ids, options))
    return generate_latest(registry)


# -- feeding the process's series ----------------------------------------------------------------


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_DURATION.labels(method, route).observe(seconds)


@sync_and_async_middleware
def RequestMetricsMiddleware(get_response):
    """Counts and times every request by its route's name (the path would be one series per
    object). Sync and async, so an ASGI server does not hop threads for it."""

    def observe(request, response, started):
        match = getattr(request, "resolver_match", None)
        route = (match.view_name if match else "") or "unmatched"
        method = request.method if request.method in _METHODS else "other"
        observe_request(method, route, response.status_code, time.perf_counter() - started)
        return response

    if iscoroutinefunction(get_response):

        async def middleware(request):
            started = time.perf_counter()
            return observe(request, await get_response(request), started)

    else:

        def middleware(request):
            started = time.perf_counter()
            return observe(request, get_response(request), started)

    return middleware


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

_task_started: dict[str, float] = {}


def _task_prerun(task_id=None, task=None, **kwargs):
    if task_id:
        _task_started[task_id] = time.perf_counter()


def _task_postrun(task_id=None, task=None, state=None, **kwargs):
    started = _task_started.pop(task_id, None)
    name = getattr(task, "name", None) or "unknown"
    if started is not None:
        TASK_DURATION.labels(name).observe(time.perf_counter() - started)
    outcome = {"SUCCESS": "success", "RETRY": "retry"}.get(state, "failure")
    TASK_RUNS.labels(name, outcome).inc()


def connect_celery_signals() -> None:
    """Task runs and durations, from Celery's signals (in the worker process, prefork children
    included, and the embedded in-process worker)."""
    from celery import signals

    signals.task_prerun.connect(_task_prerun, weak=False, dispatch_uid="ethdash-metrics-prerun")
    signals.task_postrun.connect(_task_postrun, weak=False, dispatch_uid="ethdash-metrics-postrun")


def operator_allowed(request) -> bool:
    """Whether the process's own series may be shown: a Bearer token equal to
    ETHDASH_METRICS_TOKEN, or a client address inside ETHDASH_METRICS_ALLOW. Neither set:
    nobody (the series name tasks and routes, nothing of a farm, but still not for the world)."""
    import hmac
    import ipaddress

    token = settings.ETHDASH_METRICS_TOKEN
    header = request.META.get("HTTP_AUTHORIZATION", "")
    given = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else ""
    if token and given and hmac.compare_digest(given.encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(cidr, strict=False)
        for cidr in settings.ETHDASH_METRICS_ALLOW
    )
