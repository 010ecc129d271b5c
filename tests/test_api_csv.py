"""CSV answers (docs/api.md#csv): every list and every GET action under /api/v1/ answers
?format=csv with a header and a row per item, a page's next page in a Link header that keeps
the format, series as one row per time; errors stay JSON; the income CSV pages take the farm's
token; and ?ordering= on the lists."""

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from ethdash.api import api_list_routes
from rigs.models import Rig
from tests import factories as f
from tests.api_world import seed_api_world
from tests.test_api_bad_requests import _action_path, _suffixed_action_routes


@pytest.fixture
def world(db):
    return seed_api_world()


@pytest.fixture
def reader(world):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.farm_world.token('read')}")
    return client


def read_csv(answer):
    assert answer.status_code == 200, answer.content[:300]
    assert answer["Content-Type"] == "text/csv; charset=utf-8"
    assert answer["Content-Disposition"].startswith('attachment; filename="')
    assert answer["Content-Disposition"].endswith('.csv"')
    return list(csv.reader(io.StringIO(answer.content.decode())))


def items_of(body):
    """How many rows the CSV of a JSON body has."""
    if isinstance(body, list):
        return len(body)
    if "results" in body:
        return len(body["results"])
    if "rig" in body and "gpus" in body:  # a rig's series: one row per time of any trace
        times = set(body["rig"]["ts"])
        for gpu in body["gpus"]:
            times |= set(gpu["ts"])
        return len(times)
    if "ts" in body:
        return len(body["ts"])
    return 1


def _get_action_paths(world):
    paths = []
    for url_name, methods in _suffixed_action_routes():
        if "get" in methods:
            paths.append(_action_path(world, url_name) + "/")
    return paths


def _wide_range():
    now = timezone.now()
    return {"from": (now - timedelta(hours=3)).isoformat(), "to": now.isoformat()}


def test_every_list_answers_csv_with_a_header_and_a_row_per_item(world, reader):
    routes = api_list_routes()
    assert {"rigs", "gpus", "pools", "pool-accounts", "alerts", "alert-rules"} <= set(routes)
    for prefix in routes:
        path = f"/api/v1/{prefix}/"
        answer = reader.get(path)
        if answer.status_code == 403:  # memberships and tokens: not for a read token
            refused = reader.get(path, {"format": "csv"})
            assert refused.status_code == 403 and refused["Content-Type"] == "application/json"
            continue
        body = answer.json()
        rows = read_csv(reader.get(path, {"format": "csv"}))
        assert rows and rows[0], path  # a header, even for an empty list
        assert len(rows) - 1 == items_of(body), path
        assert read_csv(reader.get(f"/api/v1/{prefix}.csv")) == rows, path
        if items_of(body):
            assert "id" in rows[0] or "key" in rows[0], (path, rows[0])


def test_every_get_action_answers_csv_with_a_row_per_item(world, reader):
    paths = _get_action_paths(world)
    rig = world.farm_world.rig
    paths.append(f"/api/v1/pool-workers/series/?rig={rig.pk}&")
    assert len(paths) >= 8  # samples, series, payouts, stats, days, epochs, proposals, ...
    for path in paths:
        base, _, query = path.partition("?")
        params = dict(p.split("=") for p in query.strip("&").split("&") if p)
        if base.endswith(("/series/", "/samples/", "/stats/")):
            params |= _wide_range()
        body = reader.get(base, params).json()
        rows = read_csv(reader.get(base, params | {"format": "csv"}))
        assert len(rows) - 1 == items_of(body), (path, rows[:3], body)
        # The same with a .csv suffix (the routers' routes) and with Accept: text/csv.
        if "pool-workers" not in base:
            suffixed = base.rstrip("/") + ".csv"
            assert read_csv(reader.get(suffixed, params)) == rows, path
        assert read_csv(reader.get(base, params, HTTP_ACCEPT="text/csv")) == rows, path


def test_nested_objects_are_dotted_columns_and_units_stay_in_the_names(world, reader):
    rows = read_csv(reader.get("/api/v1/rigs/", {"format": "csv"}))
    header = rows[0]
    assert header[:3] == ["id", "farm", "name"]  # the serializer's order
    assert {"hashrate_hs", "power_w", "gpus.0.index", "gpus.0.hashrate_hs"} <= set(header)
    row = dict(zip(header, rows[1], strict=True))
    assert row["name"] == world.farm_world.rig.name


def test_a_rig_series_is_one_row_per_time_with_each_gpu_side_by_side(world, reader):
    rig = world.farm_world.rig
    params = _wide_range() | {"resolution": "raw"}
    body = reader.get(f"/api/v1/rigs/{rig.pk}/series/", params).json()
    rows = read_csv(reader.get(f"/api/v1/rigs/{rig.pk}/series/", params | {"format": "csv"}))
    header = rows[0]
    assert header[:4] == ["resolution", "ts", "rig.hashrate_hs", "rig.power_w"]
    assert {"gpu.0.hashrate_hs", "gpu.3.temperature_c"} <= set(header)
    assert [row[1] for row in rows[1:]] == body["rig"]["ts"]  # oldest first, one per time
    first = dict(zip(header, rows[1], strict=True))
    assert float(first["gpu.0.hashrate_hs"]) == body["gpus"][0]["hashrate_hs"][0]


def test_a_page_links_to_the_next_page_keeping_the_format(world, reader):
    rig = world.farm_world.rig
    params = _wide_range() | {"format": "csv", "page_size": 2}
    answer = reader.get(f"/api/v1/rigs/{rig.pk}/samples/", params)
    rows = read_csv(answer)
    assert len(rows) == 3
    link = answer["Link"]
    assert link.startswith("<http://testserver/api/v1/rigs/") and link.endswith('>; rel="next"')
    next_url = link[1 : link.index(">")]
    assert "format=csv" in next_url and "cursor=" in next_url
    following = reader.get(next_url)
    assert read_csv(following)[0] == rows[0]
    assert 'rel="prev"' in following["Link"]

    f.RigFactory(farm=world.farm, name="second")
    answer = reader.get("/api/v1/rigs/", {"format": "csv", "page_size": 1})
    assert len(read_csv(answer)) == 2
    assert "format=csv" in answer["Link"] and "page=2" in answer["Link"]


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/api/v1/rigs/999999/", {}, 404),
        ("/api/v1/rigs/", {"page_size": "0"}, 400),
        ("/api/v1/gpus/", {"kind": "asic"}, 400),
        ("/api/v1/rigs/{rig}/series/", {"resolution": "weekly"}, 400),
        ("/api/v1/validators/{validator}/days/", {"from": "yesterday"}, 400),
    ],
)
def test_an_error_asked_for_as_csv_is_the_json_error(world, reader, path, params, status):
    path = path.format(
        rig=world.farm_world.rig.pk, validator=world.farm.validators.order_by("pk").first().pk
    )
    for answer in (
        reader.get(path, params | {"format": "csv"}),
        reader.get(path, params, HTTP_ACCEPT="text/csv"),
    ):
        assert answer.status_code == status
        assert answer["Content-Type"] == "application/json"
        assert "Content-Disposition" not in answer
        assert set(answer.json()) >= {"detail", "code"}


def test_unauthenticated_csv_is_the_json_401(world):
    answer = APIClient().get("/api/v1/rigs/", {"format": "csv"})
    assert answer.status_code == 401
    assert answer["Content-Type"] == "application/json"
    assert answer.json()["code"] == "not_authenticated"


def test_every_action_route_takes_a_csv_suffix_without_a_server_error(world):
    writer = APIClient()
    writer.credentials(HTTP_AUTHORIZATION=f"Bearer {world.write_token}")
    for url_name, methods in _suffixed_action_routes():
        path = _action_path(world, url_name)
        for method in methods:
            answer = getattr(writer, method)(f"{path}.csv", {}, format="json")
            assert answer.status_code < 500, (path, method, answer.content[:300])
            if answer.status_code >= 400:
                assert answer["Content-Type"] == "application/json", (path, method)


# -- series stay bounded ----------------------------------------------------------------------


def test_an_explicit_resolution_over_too_long_a_range_is_a_400(world, reader):
    rig = world.farm_world.rig
    now = timezone.now()
    too_long = {"from": (now - timedelta(days=30)).isoformat(), "to": now.isoformat()}
    for path in (f"/api/v1/rigs/{rig.pk}/series/", f"/api/v1/gpus/{rig.gpus.first().pk}/series/"):
        answer = reader.get(path, too_long | {"resolution": "raw"})
        assert answer.status_code == 400
        assert "resolution" in answer.json()["errors"]
        assert reader.get(path, too_long).status_code == 200  # auto picks a coarser one
        assert reader.get(path, too_long | {"resolution": "1h"}).status_code == 200


def test_the_pool_workers_series_is_averaged_into_at_most_1500_points(world, reader):
    from pools.api.views import POOL_SERIES_MAX_POINTS
    from pools.models import PoolWorkerSample

    rig = world.farm_world.rig
    worker = rig.pool_workers.first()
    start = timezone.now().replace(microsecond=0) - timedelta(days=2)
    PoolWorkerSample.objects.bulk_create(
        PoolWorkerSample(
            worker=worker,
            ts=start + timedelta(minutes=i),
            current_hashrate_hs=100.0,
            reported_hashrate_hs=200.0,
        )
        for i in range(2000)
    )
    params = {"rig": rig.pk, "from": start.isoformat(), "to": timezone.now().isoformat()}
    body = reader.get("/api/v1/pool-workers/series/", params).json()
    assert 0 < len(body["ts"]) <= POOL_SERIES_MAX_POINTS
    assert body["bucket_s"] > 60
    assert set(body["effective"]) == {100.0} and set(body["reported"]) == {200.0}
    rows = read_csv(reader.get("/api/v1/pool-workers/series/", params | {"format": "csv"}))
    assert rows[0] == ["ts", "effective_hs", "reported_hs"]
    assert len(rows) - 1 == len(body["ts"])

    few = {"rig": rig.pk, "from": start.isoformat(), "to": (start + timedelta(hours=1)).isoformat()}
    body = reader.get("/api/v1/pool-workers/series/", few).json()
    assert body["bucket_s"] is None and len(body["ts"]) == 61  # every poll, unchanged


# -- the income CSV pages with a token --------------------------------------------------------


def _income_paths(world):
    validator = world.farm.validators.order_by("pk").first()
    group = world.farm.validator_groups.first()
    return [
        reverse("validator-income-csv", args=[validator.pk]),
        reverse("validator-group-income-csv", args=[group.pk]),
    ]


def test_the_income_csvs_take_a_read_token_of_the_farm(world):
    token = world.farm_world.token("read")
    for path in _income_paths(world):
        answer = Client().get(path, HTTP_AUTHORIZATION=f"Bearer {token}")
        assert answer.status_code == 200, path
        assert answer["Content-Type"] == "text/csv; charset=utf-8"
        lines = b"".join(answer.streaming_content).decode().splitlines()
        assert lines[0].startswith("date,validator_index,pubkey,consensus_income_gwei")
        assert len(lines) > 1


def test_the_income_csvs_of_another_farm_are_404_and_bad_tokens_401(world):
    other = f.make_farm("Beta")
    other_token = other.token("read")
    telemetry_only = world.farm_world.token("telemetry")
    for path in _income_paths(world):
        assert Client().get(path, HTTP_AUTHORIZATION=f"Bearer {other_token}").status_code == 404
        bad = Client().get(path, HTTP_AUTHORIZATION="Bearer edt_nosuchtoken")
        assert bad.status_code == 401 and bad["WWW-Authenticate"].startswith("Bearer")
        assert Client().get(path, HTTP_AUTHORIZATION=f"Bearer {telemetry_only}").status_code == 403


def test_the_income_csvs_without_credentials_go_to_the_login_and_take_a_session(world):
    for path in _income_paths(world):
        answer = Client().get(path)
        assert answer.status_code == 302 and "/login/" in answer["Location"]
        session = Client()
        session.force_login(world.farm_world.viewer)
        assert session.get(path).status_code == 200


def test_the_days_api_carries_the_income_csvs_figures(world, reader):
    validator = world.farm.validators.order_by("pk").first()
    rows = read_csv(reader.get(f"/api/v1/validators/{validator.pk}/days/", {"format": "csv"}))
    header = rows[0]
    # income.csv's consensus_income_gwei, execution_income_wei, withdrawals_gwei, deposits_gwei,
    # end_balance_gwei are the days' income, execution_income, withdrawals, deposits,
    # end_balance (docs/api.md#csv).
    assert {"day", "income", "execution_income", "withdrawals", "deposits", "end_balance"} <= set(
        header
    )
    page = Client()
    page.force_login(world.farm_world.viewer)
    income = list(
        csv.DictReader(
            io.StringIO(
                b"".join(
                    page.get(reverse("validator-income-csv", args=[validator.pk])).streaming_content
                ).decode()
            )
        )
    )
    days = [dict(zip(header, row, strict=True)) for row in rows[1:]]
    by_day = {row["day"]: row for row in days}
    assert len(income) == len(days)
    for line in income:
        day = by_day[line["date"]]
        assert line["consensus_income_gwei"] == day["income"]
        assert line["execution_income_wei"] == day["execution_income"]
        assert line["end_balance_gwei"] == day["end_balance"]


# -- ordering ---------------------------------------------------------------------------------


def _names(reader, path, **params):
    answer = reader.get(path, params)
    assert answer.status_code == 200, answer.content[:300]
    return [item["name"] for item in answer.json()["results"]]


def test_lists_order_by_a_field_both_ways(world, reader):
    f.RigFactory(farm=world.farm, name="aaa-first")
    f.RigFactory(farm=world.farm, name="zzz-last")
    names = _names(reader, "/api/v1/rigs/", ordering="name")
    assert names == sorted(names) and names[0] == "aaa-first"
    assert _names(reader, "/api/v1/rigs/", ordering="-name") == names[::-1]
    by_id = list(Rig.objects.filter(farm=world.farm).order_by("id").values_list("name", flat=True))
    assert _names(reader, "/api/v1/rigs/", ordering="-id") == by_id[::-1]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/rigs/",
        "/api/v1/gpus/",
        "/api/v1/pools/",
        "/api/v1/pool-accounts/",
        "/api/v1/alerts/",
        "/api/v1/alert-rules/",
        "/api/v1/notification-channels/",
    ],
)
def test_an_unknown_ordering_keeps_the_default_order_and_never_fails(world, reader, path):
    default = [item["id"] for item in reader.get(path).json()["results"]]
    for ordering in ("nosuchfield", "-", ",", "farm__owner__password", "id;drop", "-id,-id"):
        answer = reader.get(path, {"ordering": ordering})
        assert answer.status_code == 200, (path, ordering)
        if ordering not in ("-id,-id",):
            assert [item["id"] for item in answer.json()["results"]] == default, ordering
    assert reader.get(path, {"ordering": "-id", "format": "csv"}).status_code == 200


def test_ordering_comes_before_the_page(world, reader):
    for i in range(5):
        f.RigFactory(farm=world.farm, name=f"rig-{i}")
    first = _names(reader, "/api/v1/rigs/", ordering="-name", page_size=2)
    second = _names(reader, "/api/v1/rigs/", ordering="-name", page_size=2, page=2)
    everything = _names(reader, "/api/v1/rigs/", ordering="-name")
    assert first + second == everything[:4]


def test_ordering_is_in_the_schema(world, reader):
    schema = reader.get("/api/schema/", {"format": "json"}).json()
    for path in ("/api/v1/rigs/", "/api/v1/alerts/", "/api/v1/notification-channels/"):
        names = [p["name"] for p in schema["paths"][path]["get"]["parameters"]]
        assert "ordering" in names, path
        content = schema["paths"][path]["get"]["responses"]["200"]["content"]
        assert content["text/csv"]["schema"]["type"] == "string"
        assert "text/csv" not in schema["paths"][path]["get"]["responses"]["404"]["content"]


def test_an_empty_list_has_its_header_and_an_empty_series_is_still_csv(world):
    other = f.make_farm("Beta")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {other.token('read')}")
    rows = read_csv(client.get("/api/v1/alerts/", {"format": "csv"}))
    assert rows[0][:3] == ["id", "farm", "rule"] and len(rows) == 1
    empty = client.get(f"/api/v1/rigs/{other.rig.pk}/samples/", {"format": "csv"})
    assert read_csv(empty) == [[]] and empty.content == b"\r\n"


def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_made_inert(world, reader):
    rig = world.farm_world.rig
    Rig.objects.filter(pk=rig.pk).update(name='=HYPERLINK("http://evil")')
    rows = read_csv(reader.get(f"/api/v1/rigs/{rig.pk}/", {"format": "csv"}))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["name"] == '\'=HYPERLINK("http://evil")'
    assert reader.get(f"/api/v1/rigs/{rig.pk}/").json()["name"].startswith("=")  # JSON as is
