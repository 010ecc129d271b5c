"""Every figure a rig reports is range-checked at each boundary (rigs.limits): the telemetry API
and a Hive OS body answer 400 and store nothing, a polled miner's junk figure is dropped and the
rest kept; whatever gets past, the database refuses a non-finite float; and the rig's samples
and series keep answering."""

import json
import math
import time
import types
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from accounts.models import Farm
from rigs import formats, limits
from rigs.api.serializers import ConnectionTrialSerializer
from rigs.formats import GpuReading, RigReading, hiveos
from rigs.formats.values import text
from rigs.models import (
    GPU_FLOATS,
    GPU_ROLLUP_FLOATS,
    RIG_FLOATS,
    RIG_ROLLUP_FLOATS,
    RIG_SAMPLE_FLOATS,
    Gpu,
    GpuRollup,
    GpuSample,
    Rig,
    RigRollup,
    RigSample,
)
from rigs.services import hive_agent, polling, rollups
from rigs.services.ingest import store_readings
from rigs.services.trial import try_rig
from tests.factories import ApiTokenFactory, FarmFactory, RigFactory, sample_batch

HIVE_STATS = Path(__file__).parent / "fixtures" / "hiveos_stats.json"


def hive_body():
    return json.loads(HIVE_STATS.read_text())


def stored_counts():
    return (
        GpuSample.objects.count(),
        RigSample.objects.count(),
        Gpu.objects.count(),
        list(Rig.objects.values_list("hashrate_hs", "uptime_s", "miner").order_by("pk")),
    )


def assert_history_answers(client, rig):
    """The rig's samples and series, and each GPU's series, answer 200 with JSON that parses
    strictly (no NaN, no Infinity)."""
    since = (timezone.now() - timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    paths = [
        f"/api/v1/rigs/{rig.pk}/samples/?from={since}",
        f"/api/v1/rigs/{rig.pk}/series/?from={since}&resolution=raw",
        f"/api/v1/rigs/{rig.pk}/series/?from={since}&resolution=5m",
        *(f"/api/v1/gpus/{gpu.pk}/series/?from={since}" for gpu in rig.gpus.all()),
    ]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, (path, response.content[:300])
        json.loads(response.content, parse_constant=pytest.fail)


# -- the telemetry API (ethdash's own format) -------------------------------------------------

API_BAD = [
    ("temperature_c", -500.0),
    ("temperature_c", 151.0),
    ("memory_temperature_c", 500.0),
    ("fan_pct", 1000.0),
    ("fan_pct", -1.0),
    ("power_w", -5.0),
    ("power_w", 3000.5),
    ("hashrate_hs", 1e30),
    ("hashrate_hs", 1e308),
    ("hashrate_hs", -1.0),
    ("hashrate_hs", 10**400),  # past the floats altogether
    ("power_w", math.inf),  # sent as 1e400, which JSON parsers read as infinity
    ("shares_accepted", 2**63),
    ("shares_accepted", 2**53),  # past exact in JSON clients
    ("shares_rejected", 2**64 + 5),
    ("shares_stale", -1),
    ("shares_invalid", 2**63),
]


@pytest.mark.parametrize(("field", "value"), API_BAD)
def test_api_refuses_each_figure_outside_its_limits_and_stores_nothing(api, alpha, field, value):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('telemetry', 'read')}")
    body = sample_batch(gpu_count=4, ticks=1)
    body["samples"][2][field] = value
    before = stored_counts()

    response = api.post(
        f"/api/v1/rigs/{alpha.rig.pk}/telemetry/", as_json(body), content_type="application/json"
    )

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]["samples"]["2"]
    assert stored_counts() == before
    assert_history_answers(api, alpha.rig)


def test_api_refuses_1e308_on_several_gpus_whose_sum_would_be_infinite(api, alpha):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('telemetry', 'read')}")
    body = sample_batch(gpu_count=4, ticks=1)
    for sample in body["samples"]:
        sample["hashrate_hs"] = 1e308

    response = api.post(f"/api/v1/rigs/{alpha.rig.pk}/telemetry/", body, format="json")

    assert response.status_code == 400
    assert GpuSample.objects.count() == 0 and RigSample.objects.count() == 0
    assert_history_answers(api, alpha.rig)


def test_api_takes_every_figure_at_its_limit_and_the_rig_total_stays_finite(api, alpha):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('telemetry', 'read')}")
    body = sample_batch(gpu_count=4, ticks=1)
    for sample in body["samples"]:
        sample |= {
            "hashrate_hs": limits.HASHRATE_DEVICE_MAX_HS,
            "temperature_c": limits.TEMPERATURE_MIN_C,
            "memory_temperature_c": limits.TEMPERATURE_MAX_C,
            "fan_pct": limits.FAN_MAX_PCT,
            "power_w": limits.POWER_DEVICE_MAX_W,
            "shares_accepted": limits.COUNT_MAX,
        }

    response = api.post(f"/api/v1/rigs/{alpha.rig.pk}/telemetry/", body, format="json")

    assert response.status_code == 200, response.json()
    total = RigSample.objects.get(rig=alpha.rig)
    assert total.hashrate_hs == 4 * limits.HASHRATE_DEVICE_MAX_HS
    assert total.power_w == 4 * limits.POWER_DEVICE_MAX_W
    assert total.shares_accepted == 4 * limits.COUNT_MAX
    assert_history_answers(api, alpha.rig)


# -- a Hive OS agent's stats body -------------------------------------------------------------


def as_json(body):
    """The body as a sender writes it; an infinity as the number 1e400, which parses as one."""
    return json.dumps(body).replace("Infinity", "1e400")


def _set(path, value):
    """A change to the Hive OS fixture body: params' keys joined by dots, list items by index."""

    def change(body):
        *parents, last = path.split(".")
        target = body["params"]
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        target[int(last) if isinstance(target, list) else last] = value
        return body

    return change


HIVE_BAD = {
    # 1e306 TH/s is finite; in H/s it is infinity.
    "hs 1e306 in ths": lambda b: _set("miner_stats.hs_units", "ths")(
        _set("miner_stats.hs.0", 1e306)(b)
    ),
    "hashrate 1e30 kH/s": _set("miner_stats.hs.1", 1e30),
    "hashrate 1e308 on several GPUs": _set("miner_stats.hs", [1e308] * 6),
    "total_khs 1e308": _set("total_khs", 1e308),
    "the CPU miner's total 1e308": _set("total_khs2", 1e308),
    "temperature -500": _set("miner_stats.temp.2", -500),
    "fan 1000": _set("miner_stats.fan.4", 1000),
    "power -5": _set("miner_stats.power", [-5, 120, 120, 120, 120, 120]),
    "shares 2^63": _set("miner_stats.ar.0", 2**63),
    "invalid per GPU 2^63": _set("miner_stats.ar.3", f"{2**63};0;0;0;0;0"),
    "PCI bus 70000": _set("miner_stats.bus_numbers.0", 70000),
    "PCI bus -1": _set("miner_stats.bus_numbers.1", -1),
    "uptime 1e30": _set("miner_stats.uptime", 1e30),
    "uptime -5": _set("miner_stats.uptime", -5),
    "a NUL in the miner's name": _set("miner", "phoenix\x00miner"),
    "a NUL in the version": _set("miner_stats.ver", "6.2c\x00"),
    "a NUL in a flight sheet key": _set("meta", {"fs\x00": 1}),
    "hs 1e400 (JSON's infinity)": _set("miner_stats.hs.2", math.inf),
    "a load average of 1e400": _set("cpuavg", [0.3, math.inf, 0.2]),
    "40,000 GPUs": lambda b: _set("miner_stats.bus_numbers", list(range(40000)))(
        _set("miner_stats.hs", [30000.0] * 40000)(b)
    ),
    "300 GPUs over 32 miners": lambda b: {
        **b,
        "params": {
            **b["params"],
            **{
                f"miner_stats{n}": {"hs": [1.0] * 20, "bus_numbers": [None] * 20}
                for n in range(2, 33)
            },
            **{f"miner{n}": "xmrig-new" for n in range(2, 33)},
            "miner_stats": {"hs": [1.0] * 250, "bus_numbers": list(range(250))},
        },
    },
}


@pytest.mark.parametrize("case", list(HIVE_BAD))
def test_hive_body_outside_the_limits_is_a_400_on_the_telemetry_endpoint(api, alpha, case):
    Gpu.objects.filter(rig=alpha.rig).delete()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('telemetry', 'read')}")
    body = HIVE_BAD[case](hive_body())
    before = stored_counts()

    started = time.perf_counter()
    response = api.post(
        f"/api/v1/rigs/{alpha.rig.pk}/telemetry/", as_json(body), content_type="application/json"
    )
    elapsed = time.perf_counter() - started

    assert response.status_code == 400, response.content[:300]
    assert response.json()["errors"]["miner_stats"][0]
    assert stored_counts() == before
    assert elapsed < 5, f"{case} held the request {elapsed:.1f} s"
    assert_history_answers(api, alpha.rig)


@pytest.mark.parametrize("case", list(HIVE_BAD))
def test_hive_body_outside_the_limits_is_a_jsonrpc_400_on_the_agents_endpoint(alpha, case):
    password = hive_agent.set_hive_password(alpha.rig)
    body = HIVE_BAD[case](hive_body())
    body["params"] |= {"rig_id": str(alpha.rig.pk), "passwd": password}
    before = stored_counts()

    response = Client().post(
        f"/worker/api?id_rig={alpha.rig.pk}&method=stats",
        data=as_json(body).encode(),
        content_type="",
    )

    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"]["code"] == -32602
    assert stored_counts() == before


def test_the_good_hive_body_is_stored_and_the_history_answers(api, alpha):
    """The fixture itself is within every limit (the cases above differ from it in one way)."""
    Gpu.objects.filter(rig=alpha.rig).delete()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('telemetry', 'read')}")

    response = api.post(f"/api/v1/rigs/{alpha.rig.pk}/telemetry/", hive_body(), format="json")

    assert response.status_code == 200, response.json()
    assert GpuSample.objects.filter(gpu__rig=alpha.rig).count() == 7
    assert_history_answers(api, alpha.rig)


def test_host_figures_that_are_no_number_are_left_out(alpha):
    body = _set("df", "9" * 400 + "G")(hive_body())
    assert "disk_free_bytes" not in hiveos.parse_host(body)


def test_the_refusal_says_which_figure_and_its_limits(alpha):
    body = _set("miner_stats.temp.2", -500)(hive_body())
    with pytest.raises(formats.MinerError) as caught:
        hive_agent.store_stats(rig=alpha.rig, body=body)
    assert "temperature_c -500" in str(caught.value)
    assert "-40..150" in str(caught.value)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda p: p.update(gpu=[{"busid": "01:00.0"}] * 40000), id="40,000 GPUs"),
        pytest.param(lambda p: p["cpu"].update(model="Ryzen\x00"), id="a NUL in the CPU model"),
        pytest.param(lambda p: p["gpu"][1].update(mem="9999999999 GB"), id="10^10 GB of memory"),
    ],
)
def test_a_hello_outside_the_limits_is_a_400_and_stores_nothing(alpha, change):
    password = hive_agent.set_hive_password(alpha.rig)
    hello = json.loads((Path(__file__).parent / "fixtures" / "hiveos" / "hello.json").read_text())
    hello["params"] |= {"rig_id": str(alpha.rig.pk), "passwd": password}
    change(hello["params"])

    response = Client().post(
        f"/worker/api?id_rig={alpha.rig.pk}&method=hello",
        data=json.dumps(hello).encode(),
        content_type="application/json",
    )

    assert response.status_code == 400, response.content[:300]
    rig = Rig.objects.get(pk=alpha.rig.pk)
    assert (rig.hive_detected_buses, rig.hive_hello) == ([], {})


# -- polled miners ----------------------------------------------------------------------------


def _junk_reading():
    """A miner's answer with every figure no miner can mean, beside one good device."""
    return RigReading(
        miner="fake\x00", uptime_s=10**30, hashrate_hs=float("inf"), shares_accepted=2**63,
        gpus=[
            GpuReading(
                index=0, pci_bus=70000, hashrate_hs=1e30, temperature_c=-500.0,
                memory_temperature_c=900.0, fan_pct=1000.0, power_w=-5.0,
                shares_accepted=2**63, shares_rejected=-1,
            ),
            GpuReading(index=1, pci_bus=-1, hashrate_hs=1e308, power_w=1e308),
            GpuReading(index=2, pci_bus=3, hashrate_hs=30e6, temperature_c=61.0, power_w=120.0),
        ],
    )  # fmt: skip


def test_a_polled_miners_junk_figures_are_dropped_and_the_rest_kept(alpha):
    Gpu.objects.filter(rig=alpha.rig).delete()
    reading = _junk_reading()
    reading.miner = text(reading.miner)  # what every adapter reads text through

    store_readings([(alpha.rig, reading)])

    rig = Rig.objects.get(pk=alpha.rig.pk)
    assert rig.miner == "fake"
    assert (rig.uptime_s, rig.hashrate_reported_hs, rig.shares_accepted) == (None, None, None)
    assert rig.hashrate_hs == 30e6  # the one device whose hashrate is a reading
    assert rig.power_w == 120.0
    gpus = {g.index: g for g in rig.gpus.all()}
    assert gpus[0].pci_bus is None and gpus[1].pci_bus is None and gpus[2].pci_bus == 3
    assert [gpus[0].temperature_c, gpus[0].fan_pct, gpus[0].power_w] == [None, None, None]
    assert gpus[0].memory_temperature_c is None
    samples = GpuSample.objects.filter(gpu__rig=alpha.rig)
    assert [s.gpu.index for s in samples] == [2]  # a device without a hashrate has no sample


def test_a_polled_answer_with_more_devices_than_a_rig_has_fails_only_its_rig(
    alpha, bravo, monkeypatch, settings
):
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]

    async def fetch(endpoint, http):
        count = 40000 if endpoint.port == 1001 else 2
        return RigReading(
            miner="fake",
            gpus=[GpuReading(index=i, hashrate_hs=30e6) for i in range(count)],
        )

    monkeypatch.setitem(
        formats.PROTOCOLS, "fake", types.SimpleNamespace(PROTOCOL="fake", fetch=fetch)
    )
    for world, port in ((alpha, 1001), (bravo, 1002)):
        Rig.objects.filter(pk=world.rig.pk).update(
            protocol="fake", host="127.0.0.1", port=port, next_poll_at=timezone.now()
        )

    summary = polling.poll_due_rigs()

    assert (summary.stored, summary.failed) == (1, 1)
    rig = Rig.objects.get(pk=alpha.rig.pk)
    assert rig.last_error_kind == "bad_answer"
    assert "40000 devices" in rig.last_error
    assert GpuSample.objects.filter(gpu__rig=alpha.rig).count() == 0
    assert GpuSample.objects.filter(gpu__rig=bravo.rig).count() == 2


def test_trying_a_miner_shows_its_junk_figures_as_no_reading(monkeypatch, settings):
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]

    async def fetch(endpoint, http):
        return _junk_reading()

    monkeypatch.setitem(
        formats.PROTOCOLS,
        "fake",
        types.SimpleNamespace(PROTOCOL="fake", DEFAULT_PORT=1, fetch=fetch),
    )

    trial = try_rig("fake", "127.0.0.1", 1001)

    assert trial.ok
    assert [d.hashrate_hs for d in trial.devices] == [None, None, 30e6]
    assert (trial.hashrate_hs, trial.uptime_s) == (30e6, None)  # the devices' sum stands in
    # The answer to POST /api/v1/rigs/test-connection/ renders (strict JSON has no infinity).
    JSONRenderer().render(ConnectionTrialSerializer(trial).data)


def test_text_read_from_a_miner_leaves_out_nul_characters():
    assert text("Team\x00RedMiner\x00") == "TeamRedMiner"


# -- arithmetic on in-range figures, and after it ---------------------------------------------


@pytest.mark.django_db
def test_rollup_of_figures_at_the_bound_does_not_overflow(alpha, bravo):
    """Figures at the columns' bound, whose weighted sum passes what a float holds: the sum is
    taken scaled down, so the average is the figure (on PostgreSQL an overflowing sum would be
    an error, costing every rig its rollups), and the other rig's bucket is there too."""
    from datetime import timedelta

    from rigs.models import RigRollup
    from tests.factories import RigRollupFactory

    hour = rollups.bucket_start(timezone.now(), 3600) - timedelta(hours=1)
    for minutes in (0, 5):
        RigRollupFactory(
            rig=alpha.rig, resolution="5m", ts=hour + timedelta(minutes=minutes),
            samples=10**9, hashrate_avg=1e300, hashrate_min=1e300, hashrate_max=1e300,
            hashrate_last=1e300,
        )  # fmt: skip
        RigRollupFactory(
            rig=bravo.rig, resolution="5m", ts=hour + timedelta(minutes=minutes), samples=10,
            hashrate_avg=1e8, hashrate_min=1e8, hashrate_max=1e8, hashrate_last=1e8,
        )  # fmt: skip

    rollups.rebuild("1h", since=hour, until=hour + timedelta(minutes=59))

    assert math.isinf(1e300 * 2 * 10**9)  # what adding the weighted figures would give
    hourly = RigRollup.objects.get(rig=alpha.rig, resolution="1h")
    assert (hourly.hashrate_avg, hourly.samples) == (pytest.approx(1e300), 2 * 10**9)
    assert RigRollup.objects.get(rig=bravo.rig, resolution="1h").hashrate_avg == 1e8


def test_energy_and_cost_of_a_figure_that_overflows_are_none():
    from decimal import Decimal

    from rigs.services import efficiency

    rows = [types.SimpleNamespace(samples=1, hashrate_avg=1e305, power_avg=1e305)]
    figures = efficiency._figures(rows, Decimal("0.10"), shares=False)
    assert figures.power_w == 1e305  # 1e305 W times 86,400 s is past the floats:
    assert (figures.energy_j_per_day, figures.cost_per_day) == (None, None)
    # Finite, but a cost past the 28 digits of a Decimal: none either, rather than an error.
    rows = [types.SimpleNamespace(samples=1, hashrate_avg=1e30, power_avg=1e30)]
    assert efficiency._figures(rows, Decimal("0.10"), shares=False).cost_per_day is None


def test_limits_keep_every_sum_of_a_rig_finite():
    assert math.isfinite(limits.DEVICES_MAX * limits.HASHRATE_DEVICE_MAX_HS * 1e6)
    assert limits.HASHRATE_RIG_MAX_HS < 1e300  # ethdash.db.FINITE_BOUND


# -- the database refuses a non-finite float in every column a reading reaches ---------------


def _row(model, rig, gpu):
    now = timezone.now()
    if model is Rig:
        return rig
    if model is Gpu:
        return gpu
    if model is GpuSample:
        return GpuSample(gpu=gpu, ts=now, hashrate_hs=1.0)
    if model is RigSample:
        return RigSample(rig=rig, ts=now, hashrate_hs=1.0, gpus_reporting=1)
    metrics = dict.fromkeys(("hashrate_avg", "hashrate_min", "hashrate_max", "hashrate_last"), 1.0)
    if model is GpuRollup:
        return GpuRollup(gpu=gpu, resolution="5m", ts=now, samples=1, **metrics)
    return RigRollup(rig=rig, resolution="5m", ts=now, samples=1, **metrics)


FLOAT_COLUMNS = [
    (model, column)
    for model, columns in (
        (Rig, RIG_FLOATS),
        (Gpu, GPU_FLOATS),
        (GpuSample, GPU_FLOATS),
        (RigSample, RIG_SAMPLE_FLOATS),
        (GpuRollup, GPU_ROLLUP_FLOATS),
        (RigRollup, RIG_ROLLUP_FLOATS),
    )
    for column in columns
]


def test_the_guarded_columns_are_every_float_column_of_those_tables():
    for model in (Rig, Gpu, GpuSample, RigSample, GpuRollup, RigRollup):
        floats = {
            f.name for f in model._meta.concrete_fields if f.get_internal_type() == "FloatField"
        }
        assert floats == {c for m, c in FLOAT_COLUMNS if m is model}, model


@pytest.mark.parametrize(
    ("model", "column"), FLOAT_COLUMNS, ids=[f"{m.__name__}.{c}" for m, c in FLOAT_COLUMNS]
)
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan], ids=["inf", "-inf", "nan"])
def test_a_non_finite_float_never_reaches_the_table(db, model, column, value):
    rig = RigFactory()
    gpu = Gpu.objects.create(rig=rig, index=0)
    row = _row(model, rig, gpu)
    setattr(row, column, value)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        return  # refused: the CHECK constraint (or NOT NULL, for SQLite's NaN)
    # SQLite keeps no NaN: it stores NULL, which is no figure rather than a non-finite one.
    assert connection.vendor == "sqlite" and math.isnan(value)
    stored = model.objects.filter(pk=row.pk).values_list(column, flat=True).get()
    assert stored is None


# -- the repair of rows stored before -------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_repairs_non_finite_rows_and_the_history_answers_again():
    """Rows as the Hive OS overflow left them (inserted with raw SQL before the constraints),
    repaired by migrating forward: garbage samples and rollups deleted, their rig's rollups
    marked for rebuilding, every other non-finite figure NULL; nothing finite is touched."""
    from django.core.management import call_command

    call_command("migrate", "rigs", "0008", verbosity=0)
    inf = math.inf
    nan_or_inf = inf if connection.vendor == "sqlite" else math.nan
    now = timezone.now().replace(microsecond=0)
    earlier = now - timedelta(minutes=10)
    farm_id = FarmFactory().pk
    rig_id = _insert(
        "rigs_rig",
        farm_id=farm_id, name="r", cadence_s=30, protocol="", host="", api_password="",
        last_error="", last_error_kind="", miner="", miner_version="", algorithm="",
        pool_url="", restarts=0, status="online", status_reason="", hashrate_hs=inf,
        hashrate_reported_hs=1e3, hashrate_devices_hs=inf, power_w=-inf,
        hashrate_median_24h_hs=nan_or_inf, hive_password_hash="", hive_detected_buses="[]",
        hive_hello="{}", hive_host="{}", created_at=now,
    )  # fmt: skip
    gpu_id = _insert(
        "rigs_gpu", rig_id=rig_id, kind="gpu", index=0, name="", vendor="",
        hashrate_hs=inf, temperature_c=61.0, fan_pct=nan_or_inf,
    )  # fmt: skip
    bad_sample = _insert("rigs_gpusample", gpu_id=gpu_id, ts=now, hashrate_hs=inf)
    good_sample = _insert(
        "rigs_gpusample", gpu_id=gpu_id, ts=earlier, hashrate_hs=30e6, power_w=inf,
        temperature_c=60.0,
    )  # fmt: skip
    _insert("rigs_rigsample", rig_id=rig_id, ts=now, hashrate_hs=inf, gpus_reporting=1)
    _insert(
        "rigs_rigsample", rig_id=rig_id, ts=earlier, hashrate_hs=30e6, gpus_reporting=1,
        power_w=-inf,
    )  # fmt: skip
    metrics = {f"hashrate_{p}": 30e6 for p in ("avg", "min", "max", "last")}
    _insert(
        "rigs_gpurollup", gpu_id=gpu_id, resolution="5m", ts=earlier, samples=1,
        **(metrics | {"hashrate_max": inf}),
    )  # fmt: skip
    good_rollup = _insert(
        "rigs_rigrollup", rig_id=rig_id, resolution="1h", ts=earlier, samples=1,
        **metrics, power_avg=inf,
    )  # fmt: skip
    _insert(
        "rigs_rigrollup", rig_id=rig_id, resolution="5m", ts=earlier - timedelta(hours=1),
        samples=1, **(metrics | {"hashrate_avg": nan_or_inf}),
    )  # fmt: skip

    # Every app: migrating rigs back also took back the migrations that depend on it (pools).
    call_command("migrate", verbosity=0)

    rig = Rig.objects.get(pk=rig_id)
    assert (rig.hashrate_hs, rig.hashrate_devices_hs, rig.power_w) == (None, None, None)
    assert rig.hashrate_reported_hs == 1e3  # finite: kept
    assert rig.hashrate_median_24h_hs is None
    assert rig.rollups_stale_from == earlier - timedelta(hours=1)
    gpu = Gpu.objects.get(pk=gpu_id)
    assert (gpu.hashrate_hs, gpu.fan_pct, gpu.temperature_c) == (None, None, 61.0)
    assert not GpuSample.objects.filter(pk=bad_sample).exists()
    kept = GpuSample.objects.get(pk=good_sample)
    assert (kept.hashrate_hs, kept.power_w, kept.temperature_c) == (30e6, None, 60.0)
    assert list(RigSample.objects.values_list("ts", "power_w")) == [(earlier, None)]
    assert GpuRollup.objects.count() == 0
    assert list(RigRollup.objects.values_list("pk", "power_avg")) == [(good_rollup, None)]
    with pytest.raises(IntegrityError), transaction.atomic():
        RigSample.objects.filter(rig_id=rig_id).update(power_w=inf)
    api = APIClient()
    api.credentials(
        HTTP_AUTHORIZATION=f"Bearer {ApiTokenFactory(farm=Farm.objects.get(pk=farm_id)).raw}"
    )
    assert_history_answers(api, rig)


def _last_id(table):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX(id) FROM {table}")
        return cursor.fetchone()[0]


def _insert(table, **values):
    """A row written with raw SQL, as any writer could before the constraints; its id."""
    values = {
        column: connection.ops.adapt_datetimefield_value(value)
        if isinstance(value, datetime)
        else value
        for column, value in values.items()
    }
    columns = ", ".join(connection.ops.quote_name(c) for c in values)
    marks = ", ".join(["%s"] * len(values))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) VALUES ({marks})",
            list(values.values()),
        )
    return _last_id(table)
