from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import make_farm, sample_batch


@pytest.fixture
def reader(api, alpha):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('read')}")
    return api


def _push(api, world, **kwargs):
    # A client of its own: the reader's credentials would override this token.
    APIClient().post(
        f"/api/v1/rigs/{world.rig.pk}/telemetry/",
        sample_batch(**kwargs),
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {world.token('telemetry')}",
    )


def test_rig_list_and_detail(reader, alpha):
    listing = reader.get("/api/v1/rigs/").json()
    assert listing["count"] == 1
    rig = listing["results"][0]
    assert rig["name"] == "alpha-rig-1"
    assert [g["index"] for g in rig["gpus"]] == [0, 1, 2, 3]
    assert reader.get(f"/api/v1/rigs/{alpha.rig.pk}/").json() == rig


def test_session_user_reads_the_api(owner_client, alpha):
    assert owner_client.get("/api/v1/rigs/").json()["count"] == 1


def test_samples_in_range_oldest_first_with_cursor_pages(api, reader, alpha):
    start = timezone.now().replace(microsecond=0) - timedelta(minutes=10)
    _push(api, alpha, gpu_count=4, ticks=10, start=start, step_s=60)
    url = f"/api/v1/rigs/{alpha.rig.pk}/samples/"

    page = reader.get(url, {"from": (start - timedelta(seconds=1)).isoformat(), "page_size": 25})
    body = page.json()
    assert len(body["results"]) == 25
    assert body["results"][0]["ts"] <= body["results"][-1]["ts"]
    rest = reader.get(body["next"]).json()
    assert len(rest["results"]) == 15
    assert rest["next"] is None

    window = reader.get(
        url,
        {
            "from": (start + timedelta(minutes=2)).isoformat(),
            "to": (start + timedelta(minutes=3)).isoformat(),
            "gpu": 2,
        },
    ).json()["results"]
    assert [(s["gpu"], s["ts"][11:16]) for s in window] == [
        (2, f"{(start + timedelta(minutes=m)):%H:%M}") for m in (2, 3)
    ]


def test_samples_answer_what_the_sample_serializer_says(api, reader, alpha):
    from rigs.api.serializers import GpuSampleSerializer
    from rigs.models import GpuSample

    _push(api, alpha, gpu_count=4, ticks=3)
    GpuSample.objects.filter(gpu__index=1).update(temperature_c=None, shares_accepted=2**40)
    results = reader.get(f"/api/v1/rigs/{alpha.rig.pk}/samples/").json()["results"]

    stored = GpuSample.objects.filter(gpu__rig=alpha.rig).select_related("gpu").order_by("ts", "id")
    assert len(results) == 12
    assert results == GpuSampleSerializer(stored, many=True).data
    assert [list(row) for row in results] == [list(GpuSampleSerializer().fields)] * 12


def test_samples_default_to_the_last_hour(api, reader, alpha):
    _push(api, alpha, ticks=2, start=timezone.now() - timedelta(hours=2))
    _push(api, alpha, ticks=1)
    results = reader.get(f"/api/v1/rigs/{alpha.rig.pk}/samples/").json()["results"]
    assert len(results) == 4


@pytest.mark.parametrize(
    "params",
    [
        {"from": "last tuesday"},
        {"to": "2026-13-45"},
        {"from": "2026-01-02", "to": "2026-01-01"},
        {"gpu": "x"},
    ],
)
def test_bad_sample_queries_get_400(reader, alpha, params):
    response = reader.get(f"/api/v1/rigs/{alpha.rig.pk}/samples/", params)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_unknown_rig_is_404(reader, db):
    assert reader.get("/api/v1/rigs/999999/").status_code == 404


def test_anonymous_api_is_401(api, alpha):
    response = api.get("/api/v1/rigs/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_schema_and_docs_served_without_cdn(reader, owner_client):
    schema = owner_client.get("/api/schema/", {"format": "json"}).json()
    assert "/api/v1/rigs/{id}/telemetry/" in schema["paths"]
    assert "bearerAuth" in schema["components"]["securitySchemes"]
    docs = owner_client.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs
    assert "cdn" not in docs.lower()
    assert "//unpkg" not in docs


def test_other_farm_rigs_not_listed(reader, alpha, db):
    make_farm("Bravo")
    assert [r["name"] for r in reader.get("/api/v1/rigs/").json()["results"]] == ["alpha-rig-1"]


def test_gpus_filter_by_rig_and_kind_within_the_callers_farms(reader, alpha, bravo):
    from tests.factories import GpuFactory, RigFactory

    second = RigFactory(farm=alpha.farm, name="alpha-rig-2")
    GpuFactory(rig=second, index=0)
    GpuFactory(rig=second, index=1, kind="cpu")

    def indices(query):
        body = reader.get(f"/api/v1/gpus/?{query}").json()
        return sorted((g["rig"], g["index"]) for g in body["results"])

    assert indices(f"rig={alpha.rig.pk}") == [(alpha.rig.pk, i) for i in range(4)]
    assert indices(f"rig={second.pk}&kind=cpu") == [(second.pk, 1)]
    assert indices(f"rig={bravo.rig.pk}") == []  # another farm's rig: nothing
    for junk in ("x", "1.5", "-5.84089265130784e+36", str(2**63)):
        assert reader.get(f"/api/v1/gpus/?rig={junk}").status_code == 400
    assert reader.get("/api/v1/gpus/?kind=asic").status_code == 400


def test_rigs_filter_by_status_as_the_api_shows_it(reader, alpha):
    from rigs.models import Rig
    from tests.factories import RigFactory

    now = timezone.now()
    silent = RigFactory(farm=alpha.farm, name="silent")
    Rig.objects.filter(pk=alpha.rig.pk).update(status="online", stale_at=now + timedelta(minutes=1))
    Rig.objects.filter(pk=silent.pk).update(status="online", stale_at=now - timedelta(seconds=1))

    def names(status):
        body = reader.get(f"/api/v1/rigs/?status={status}").json()
        return [(r["name"], r["status"]) for r in body["results"]]

    assert names("online") == [("alpha-rig-1", "online")]
    assert names("offline") == [("silent", "offline")]  # past its stale_at: offline when read
    assert reader.get("/api/v1/rigs/?status=asleep").status_code == 400
    assert reader.get("/api/v1/rigs/?farm=-1.7976931348623157e308").status_code == 400
