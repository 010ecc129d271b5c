"""History at any range: series API with resolution, GPU pages and the sortable GPU table."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from rigs.models import GpuRollup, Rig, RigRollup
from rigs.services.efficiency import counter_increase, rig_figures, rig_uptime_pct
from tests.factories import sample_batch


@pytest.fixture
def reader(api, alpha):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('read')}")
    return api


def _hourly(alpha, *, days, hashrate=60e6, power=120.0, accepted_per_hour=100, rejected_per_hour=2):
    """Hourly and 5-minute rollups for every GPU and the rig over `days`."""
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    gpu_rows, rig_rows = [], []
    for hour in range(days * 24):
        ts = now - timedelta(hours=hour + 1)
        for gpu in alpha.gpus:
            gpu_rows.append(
                GpuRollup(
                    gpu=gpu, resolution="1h", ts=ts, samples=120,
                    hashrate_avg=hashrate, hashrate_min=hashrate * 0.9, hashrate_max=hashrate * 1.1,
                    hashrate_last=hashrate, temperature_avg=60, temperature_min=58,
                    temperature_max=62, temperature_last=60, power_avg=power, power_min=power,
                    power_max=power, power_last=power, fan_avg=50,
                    shares_accepted_last=accepted_per_hour * (days * 24 - hour),
                    shares_rejected_last=rejected_per_hour * (days * 24 - hour),
                    shares_stale_last=0,
                )
            )  # fmt: skip
        rig_rows.append(
            RigRollup(
                rig=alpha.rig, resolution="1h", ts=ts, samples=120,
                hashrate_avg=hashrate * 4, hashrate_min=hashrate * 4, hashrate_max=hashrate * 4,
                hashrate_last=hashrate * 4, power_avg=power * 4, power_min=power * 4,
                power_max=power * 4, power_last=power * 4,
            )
        )  # fmt: skip
    GpuRollup.objects.bulk_create(gpu_rows)
    RigRollup.objects.bulk_create(rig_rows)


def test_a_30_day_chart_request_returns_at_most_1500_points_per_trace(reader, alpha):
    _hourly(alpha, days=30)
    since = (timezone.now() - timedelta(days=30)).isoformat()

    body = reader.get(f"/api/v1/rigs/{alpha.rig.pk}/series/", {"from": since}).json()

    assert body["resolution"] == "1h"
    assert 700 <= len(body["rig"]["ts"]) <= 1500
    assert all(len(gpu["ts"]) <= 1500 for gpu in body["gpus"])
    assert body["gpus"][0]["hashrate_hs"][0] == 60e6
    assert body["rig"]["ts"][0].endswith("Z")


def test_explicit_resolution_and_bad_resolution(reader, alpha):
    api_url = f"/api/v1/rigs/{alpha.rig.pk}/series/"
    reader.post  # noqa: B018  (the reader cannot push; telemetry comes from a separate client)
    from rest_framework.test import APIClient

    APIClient().post(
        f"/api/v1/rigs/{alpha.rig.pk}/telemetry/", sample_batch(ticks=3), format="json",
        HTTP_AUTHORIZATION=f"Bearer {alpha.token('telemetry')}",
    )  # fmt: skip
    raw = reader.get(api_url, {"resolution": "raw"}).json()
    assert raw["resolution"] == "raw"
    assert [len(g["ts"]) for g in raw["gpus"]] == [3, 3, 3, 3]
    response = reader.get(api_url, {"resolution": "2h"})
    assert response.status_code == 400
    assert "resolution" in response.json()["errors"]


def test_gpu_api_and_series(reader, alpha):
    _hourly(alpha, days=2)
    gpu = alpha.gpus[1]
    listing = reader.get("/api/v1/gpus/").json()
    assert [g["index"] for g in listing["results"]] == [0, 1, 2, 3]
    series = reader.get(
        f"/api/v1/gpus/{gpu.pk}/series/",
        {"from": (timezone.now() - timedelta(days=2)).isoformat(), "resolution": "1h"},
    ).json()
    assert series["resolution"] == "1h"
    assert len(series["ts"]) == 48
    assert series["hashrate_min"][0] == pytest.approx(54e6)


def test_efficiency_cost_and_share_quality(alpha):
    alpha.farm.electricity_price_per_kwh = Decimal("0.10")
    alpha.farm.save()
    _hourly(alpha, days=1, hashrate=60e6, power=120.0, accepted_per_hour=98, rejected_per_hour=2)
    Rig.objects.filter(pk=alpha.rig.pk).update(created_at=timezone.now() - timedelta(days=40))
    rig = Rig.objects.select_related("farm").get(pk=alpha.rig.pk)

    figures = rig_figures([rig])[rig.pk]

    assert figures.efficiency_hj == pytest.approx(60e6 / 120)  # 500 kH/J
    assert figures.energy_j_per_day == pytest.approx(480 * 86400)  # 11.52 kWh
    assert figures.cost_per_day == Decimal("1.15")
    assert figures.rejected_pct == pytest.approx(2.0)
    assert figures.uptime_pct == pytest.approx(100 * 24 * min(1, 120 * 30 / 3600) / 24, abs=5)


def test_a_rig_pages_30_day_uptime_is_rig_figures_uptime(owner_client, alpha):
    _hourly(alpha, days=3)
    Rig.objects.filter(pk=alpha.rig.pk).update(created_at=timezone.now() - timedelta(days=10))
    RigRollup.objects.filter(rig=alpha.rig, ts__lt=timezone.now() - timedelta(days=2)).delete()
    rig = Rig.objects.select_related("farm").get(pk=alpha.rig.pk)
    now = timezone.now()

    uptime = rig_uptime_pct(rig, days=30, now=now)

    assert uptime == rig_figures([rig], days=30, now=now)[rig.pk].uptime_pct
    assert 0 < uptime < 100  # two days of ten covered, in part
    page = owner_client.get(f"/rigs/{rig.pk}/").content.decode()
    assert f"{uptime:.1f}" in page


def test_counter_increase_survives_a_miner_restart():
    assert counter_increase([10, 15, 20, 3, 8, None, 9]) == 10 + 3 + 5 + 1


def test_gpu_table_sorts_by_any_column_worst_first(owner_client, alpha):
    _hourly(alpha, days=1)
    GpuRollup.objects.filter(gpu=alpha.gpus[2]).update(power_avg=200.0)

    rows = owner_client.get("/rigs/gpus/", {"sort": "efficiency"}).context["rows"]
    assert rows[0]["gpu"] == alpha.gpus[2]  # the least efficient first
    rows = owner_client.get("/rigs/gpus/", {"sort": "-power"}).context["rows"]
    assert rows[0]["gpu"] == alpha.gpus[2]
    assert owner_client.get("/rigs/gpus/", {"sort": "nonsense"}).status_code == 200


def test_rig_and_gpu_pages_with_ranges(owner_client, alpha):
    _hourly(alpha, days=7)
    rig_page = owner_client.get(f"/rigs/{alpha.rig.pk}/", {"range": "7d"})
    assert (
        rig_page.context["chart_data"]["resolution"] == "5m"
        or rig_page.context["chart_data"]["resolution"] == "1h"
    )
    assert rig_page.context["chart_data"]["live"] is False
    assert owner_client.get(f"/rigs/{alpha.rig.pk}/", {"range": "1y"}).status_code == 404
    gpu_page = owner_client.get(f"/rigs/gpus/{alpha.gpus[0].pk}/", {"range": "24h"})
    assert gpu_page.status_code == 200
    assert "kH/J" in gpu_page.content.decode()
