"""OpenTelemetry tracing, off unless ETHDASH_TRACING names an exporter.

- `console`: spans printed as JSON on stdout (the demo, a quick look);
- `otlp`: spans sent over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT (the exporter reads the
  standard OTEL_EXPORTER_OTLP_* variables), e.g. a collector, Jaeger or Tempo.

Django requests, Celery tasks (producer and worker, so a task's span is a child of the request
or beat tick that sent it) and httpx calls (every outside call, through ethdash.outbound) get
spans. OTEL_SERVICE_NAME names the process (default "ethdash").
"""

from __future__ import annotations

import logging
import os

from django.conf import settings

logger = logging.getLogger(__name__)

EXPORTERS = ("off", "console", "otlp")
_configured = False


def exporter(kind: str):
    if kind == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if kind == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    raise ValueError(f"unknown exporter {kind!r}")


def configure(*, span_exporter=None, force=False) -> bool:
    """Installs the tracer provider and the instrumentations once per process, when
    ETHDASH_TRACING is on (or `span_exporter` is given, as the tests do). Returns whether
    tracing is on."""
    global _configured
    kind = settings.ETHDASH_TRACING
    if (_configured and not force) or (kind == "off" and span_exporter is None):
        return _configured
    from opentelemetry import trace
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(
        resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "ethdash")})
    )
    if span_exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    else:
        provider.add_span_processor(BatchSpanProcessor(exporter(kind)))
    trace.set_tracer_provider(provider)
    if not _configured:
        DjangoInstrumentor().instrument(tracer_provider=provider)
        CeleryInstrumentor().instrument(tracer_provider=provider)
        HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    _configured = True
    logger.info("tracing on (%s)", "test exporter" if span_exporter is not None else kind)
    return True


def shutdown() -> None:
    """Removes the instrumentations (tests that turned tracing on for a while)."""
    global _configured
    if not _configured:
        return
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    DjangoInstrumentor().uninstrument()
    CeleryInstrumentor().uninstrument()
    HTTPXClientInstrumentor().uninstrument()
    _configured = False
