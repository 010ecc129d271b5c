"""Time-series helpers shared by the apps: time ranges from query strings, ISO timestamps."""

import math
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
    """An ISO 8601 date-time as an aware UTC datetime; a 400 for anything else.

    A zone offset is applied here: RFC 3339 allows offsets up to ±23:59, PostgreSQL only
    ±15:59, so a time is never handed to the database with the caller's offset. A time whose
    UTC equivalent falls outside the years 1-9999 is refused.
    """
    try:
        value = parse_datetime(raw)
    except ValueError:
        value = None
    if value is None:
        raise ValidationError({name: [f"{raw!r} is not an ISO 8601 date-time."]})
    if timezone.is_naive(value):
        # A time without a zone is UTC, as everywhere in ethdash.
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValidationError({name: [f"{raw!r} is out of range."]}) from None


def parse_range(params, *, default=DEFAULT_RANGE, now=None):
    """The [from, to] range of a request's query string; `to` defaults to now, `from` to `to`
    minus `default`. Raises a 400 for a malformed or inverted range."""
    now = now or timezone.now()
    for name in ("from", "to"):
        if name in params and not params[name]:
            raise ValidationError({name: [f"'{name}' is empty; leave it out for the default."]})
    until = parse_instant(params["to"], "to") if params.get("to") else now
    if params.get("from"):
        since = parse_instant(params["from"], "from")
    else:
        try:
            since = until - default
        except OverflowError:
            raise ValidationError({"to": ["'to' is too early for the default range."]}) from None
    if since > until:
        raise ValidationError({"from": ["'from' must not be after 'to'."]})
    return since, until


def thin_to(points, *, since, until, max_points):
    """(ts, *values) rows in time order, at most `max_points` of them: when there are more, the
    averages over equal buckets of [since, until] (ts the bucket's start; a None value is left
    out of its bucket's average). Returns (rows, bucket_s), bucket_s None when unchanged."""
    points = list(points)
    if len(points) <= max_points:
        return points, None
    bucket_s = math.ceil((until - since).total_seconds() / max_points) or 1
    buckets = {}
    for ts, *values in points:
        start = int((ts - since).total_seconds()) // bucket_s
        sums = buckets.setdefault(start, [[0.0, 0] for _ in values])
        for pair, value in zip(sums, values, strict=True):
            if value is not None:
                pair[0] += value
                pair[1] += 1
    thinned = [
        (since + timedelta(seconds=start * bucket_s), *(s / n if n else None for s, n in sums))
        for start, sums in sorted(buckets.items())
    ]
    return thinned, bucket_s
