"""The telemetry push's fast path (rigs.api.serializers.plain_telemetry_samples) accepts only
what TelemetryBatchSerializer accepts, and gives the same validated samples; anything else is
left to the serializer, whose errors the caller sees."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rigs.api.serializers import TelemetryBatchSerializer, plain_telemetry_samples
from rigs.services.ingest import SAMPLE_FIELDS

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
GPUS = {i: SimpleNamespace(index=i, pk=100 + i) for i in range(4)}


def serializer_result(body):
    serializer = TelemetryBatchSerializer(data=body, context={"gpus_by_index": GPUS, "now": NOW})
    return serializer.validated_data["samples"] if serializer.is_valid() else None


def as_plain(samples):
    return [dict(sample) for sample in samples]


def test_an_ordinary_batch_takes_the_fast_path_with_the_serializers_result():
    ts = [(NOW - timedelta(seconds=10 - i)).isoformat().replace("+00:00", "Z") for i in range(3)]
    body = {
        "samples": [
            {"ts": t, "gpu": g, "hashrate_hs": 30e6 + g, "temperature_c": 60, "fan_pct": None,
             "power_w": 120.5, "shares_accepted": 7, "shares_rejected": 0}
            for t in ts
            for g in range(4)
        ]
    }  # fmt: skip

    fast = plain_telemetry_samples(body, gpus_by_index=GPUS, now=NOW)

    assert fast is not None
    assert fast == as_plain(serializer_result(body))
    assert fast[0]["temperature_c"] == 60.0 and type(fast[0]["temperature_c"]) is float
    assert fast[0]["gpu"] is GPUS[0]


@pytest.mark.parametrize(
    "change",
    [
        {"hashrate_hs": -1},
        {"hashrate_hs": 10**16},
        {"hashrate_hs": 10**400},
        {"hashrate_hs": True},
        {"hashrate_hs": "5"},
        {"hashrate_hs": None},
        {"temperature_c": 151},
        {"temperature_c": -41.0},
        {"fan_pct": 100.5},
        {"power_w": 3000.1},
        {"shares_accepted": 1.0},
        {"shares_accepted": 2**53},
        {"shares_accepted": -1},
        {"gpu": 9},
        {"gpu": "1"},
        {"gpu": True},
        {"ts": "2026-06-01 12:00:00+99:99"},
        {"ts": "yesterday"},
        {"ts": "2027-01-01T00:00:00Z"},  # in the future
        {"ts": "2025-01-01T00:00:00Z"},  # older than the raw retention
        {"ts": 1780000000},
        {"unknown": 1},
    ],
)
def test_anything_unusual_is_left_to_the_serializer(change):
    sample = {"ts": "2026-06-01T11:59:00Z", "gpu": 1, "hashrate_hs": 5e6, **change}

    assert plain_telemetry_samples({"samples": [sample]}, gpus_by_index=GPUS, now=NOW) is None


@pytest.mark.parametrize(
    "body",
    [
        {"samples": []},
        {"samples": {}},
        {"samples": [1]},
        {"samples": [{"ts": "2026-06-01T11:59:00Z", "gpu": 1}]},
        {"samples": [{"ts": "2026-06-01T11:59:00Z", "gpu": 1, "hashrate_hs": 1}] * 2},
        {"samples": [{"ts": "2026-06-01T11:59:00Z", "gpu": 1, "hashrate_hs": 1}], "x": 1},
        [],
        "samples",
    ],
)
def test_malformed_batches_are_left_to_the_serializer(body):
    assert plain_telemetry_samples(body, gpus_by_index=GPUS, now=NOW) is None


NUMBERS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -40, 150, 100, 3000, 10**15, 2**53 - 1, 2**53, -0.0, "1"]),
)
TIMES = st.one_of(
    st.sampled_from(
        [
            "2026-06-01T11:59:00Z",
            "2026-06-01T11:59:00",
            "2026-06-01T13:59:00+02:00",
            "2026-06-01T12:04:00Z",
            "2026-05-01T00:00:00Z",
            "2026-06-01",
            "",
            "x",
        ]
    ),
    st.datetimes(
        min_value=datetime(2026, 5, 1), max_value=datetime(2026, 6, 2), timezones=st.just(UTC)
    ).map(lambda d: d.isoformat()),
)
# Every figure a sample may carry: the columns ingest stores.
OPTIONAL = SAMPLE_FIELDS
SAMPLES = st.fixed_dictionaries(
    {"ts": TIMES, "gpu": st.one_of(st.integers(-1, 5), st.just("0"))},
    optional=dict.fromkeys(OPTIONAL, NUMBERS),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(SAMPLES, min_size=1, max_size=4))
def test_the_fast_path_never_accepts_what_the_serializer_refuses(samples):
    body = {"samples": samples}
    with timezone.override(UTC):
        fast = plain_telemetry_samples(body, gpus_by_index=GPUS, now=NOW)
        slow = serializer_result(body)
    if fast is not None:
        assert slow is not None
        assert fast == as_plain(slow)
