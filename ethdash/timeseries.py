"""Time-series helpers shared by the apps: time ranges from query strings, ISO timestamps."""

from datetime import UTC, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import ValidationError

DEFAULT_RANGE = timedelta(hours=1)


def iso(ts):
    """UTC ISO 8601 with a Z, the form every API response and live event uses."""
    if ts is None:
        return None
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_instant(raw, name):
    try:
        value = parse_datetime(raw)
    except ValueError:
        value = None
    if value is None:
        raise ValidationError({name: [f"{raw!r} is not an ISO 8601 date-time."]})
    if timezone.is_naive(value):
        # A time without a zone is UTC, as everywhere in ethdash.
        value = value.replace(tzinfo=UTC)
    return value


def parse_range(params, *, default=DEFAULT_RANGE, now=None):
    """The [from, to] range of a request's query string; `to` defaults to now, `from` to `to`
    minus `default`. Raises a 400 for a malformed or inverted range."""
    now = now or timezone.now()
    until = parse_instant(params["to"], "to") if params.get("to") else now
    since = parse_instant(params["from"], "from") if params.get("from") else until - default
    if since > until:
        raise ValidationError({"from": ["'from' must not be after 'to'."]})
    return since, until
