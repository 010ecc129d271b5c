"""Request-level bad input gets a 4xx in the API's error shape, and nothing is stored: time-zone
offsets PostgreSQL cannot take, format suffixes on every action route, JSON nested past any
parser, oversized bodies; every error under /api/ and /worker/ is JSON, whoever answered it."""

import json
from datetime import UTC, datetime

import httpx
import pytest
from django.http import HttpResponse, HttpResponseNotAllowed, HttpResponseServerError
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from rest_framework.test import APIClient

from ethdash.middleware import JsonErrorsMiddleware
from ethdash.parsers import MAX_JSON_DEPTH, json_nests_deeper_than
from ethdash.timeseries import parse_instant
from ethdash.views import csrf_failure
from rigs.models import GpuSample
from rigs.services import hive_agent
from tests.api_world import seed_api_world
from tests.servers import serve


@pytest.fixture
def world(db):
    return seed_api_world()


@pytest.fixture
def writer(world):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.write_token}")
    return client


def assert_error_shape(answer, status, code):
    assert answer.status_code == status, answer.content[:300]
    assert answer["Content-Type"].startswith("application/json")
    body = answer.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    return body


# -- time-zone offsets ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "utc"),
    [
        ("2026-12-01T20:00:00+20:00", datetime(2026, 12, 1, 0, 0, tzinfo=UTC)),
        ("2026-12-01T00:00:00-23:59", datetime(2026, 12, 1, 23, 59, tzinfo=UTC)),
        ("2026-12-01T12:00:00", datetime(2026, 12, 1, 12, 0, tzinfo=UTC)),
    ],
)
def test_offsets_beyond_what_postgresql_takes_are_applied_before_any_query(raw, utc):
    value = parse_instant(raw, "from")
    assert value == utc
    assert value.utcoffset().total_seconds() == 0  # never handed on with the caller's offset


def test_offsets_in_the_range_parameters_answer_the_range_in_utc(world, writer):
    rig = world.farm_world.rig
    answer = writer.get(
        f"/api/v1/rigs/{rig.pk}/series/",
        {"from": "2000-01-01T20:00:00+20:00", "to": "2100-01-01T00:00:00-20:00"},
    )
    assert answer.status_code == 200, answer.content[:300]


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-12-01T00:00:00+99:99"},  # no such offset
        {"from": "0001-01-01T00:00:00+05:00"},  # before year 1 in UTC
        {"to": "9999-12-31T23:00:00-05:00"},  # after year 9999 in UTC
        {"to": "0001-01-01T00:30:00Z"},  # the default range would start before year 1
        {"from": "2026-12-02T00:00:00Z", "to": "2026-12-01T00:00:00Z"},
    ],
)
def test_impossible_ranges_are_400(world, writer, params):
    rig = world.farm_world.rig
    for path in (f"/api/v1/rigs/{rig.pk}/samples/", f"/api/v1/rigs/{rig.pk}/series/"):
        body = assert_error_shape(writer.get(path, params), 400, "invalid")
        assert set(body["errors"]) <= {"from", "to"}


# -- format suffixes on the routers' action routes --------------------------------------------


def _suffixed_action_routes():
    """(url name, methods) of every router action route under /api/v1/ with a format suffix."""
    routes = []

    def walk(patterns):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns)
            elif isinstance(entry, URLPattern) and "(?P<format>" in str(entry.pattern):
                actions = getattr(entry.callback, "actions", None) or {}
                standard = {"list", "create", "retrieve", "update", "partial_update", "destroy"}
                if set(actions.values()) - standard:
                    routes.append((entry.name, sorted(actions)))

    walk(get_resolver().url_patterns)
    return routes


def _object_for(world, url_name):
    farm_world = world.farm_world
    farm = world.farm
    prefixes = {
        "rig": farm_world.rig,
        "gpu": farm_world.gpus[0],
        "pool-account": farm_world.pool_account,
        "pool": farm_world.pool_account.pool,
        "validator-api": farm.validators.order_by("pk").first(),
        "validator-group-api": farm.validator_groups.first(),
        "beacon-node-api": farm.beacon_nodes.first(),
        "alert": farm.alerts.order_by("pk").first(),
        "alert-rule": farm.alert_rules.first(),
        "notification-channel": farm.notification_channels.first(),
    }
    basename = max((p for p in prefixes if url_name.startswith(p + "-")), key=len)
    return prefixes[basename]


def test_every_action_route_takes_a_format_suffix_without_a_server_error(world, writer):
    routes = _suffixed_action_routes()
    assert len(routes) >= 10  # rigs, pools, validators and alerts each have actions
    samples_before = GpuSample.objects.count()
    for url_name, methods in routes:
        path = _action_path(world, url_name)
        for method in methods:
            answer = getattr(writer, method)(f"{path}.json", {}, format="json")
            assert answer.status_code < 500, (path, method, answer.content[:300])
            assert answer["Content-Type"].startswith("application/json"), (path, method)
    assert GpuSample.objects.count() == samples_before


def test_an_actions_own_list_never_takes_the_lists_ordering(world, writer):
    """`?ordering=` orders a viewset's list; an action's list (samples, days, payouts) keeps its
    own order, and a field of the list never reaches its cursor pagination (that was a 500)."""
    checked = 0
    for url_name, methods in _suffixed_action_routes():
        path = f"{_action_path(world, url_name)}.json"
        fields = getattr(resolve(path).func.cls, "ordering_fields", None) or []
        for field in fields if "get" in methods else []:
            answer = writer.get(path, {"ordering": f"-{field}"})
            assert answer.status_code < 500, (path, field, answer.content[:300])
            checked += 1
    assert checked > 10


def _action_path(world, url_name):
    from django.urls import reverse

    pattern = next(
        entry
        for entry in get_resolver().url_patterns
        if isinstance(entry, URLResolver)
        for entry in entry.url_patterns
        if getattr(entry, "name", None) == url_name
    )
    kwargs = {"format": "json"}
    if "(?P<pk>" in str(pattern.pattern):
        kwargs["pk"] = _object_for(world, url_name).pk
    return reverse(url_name, kwargs=kwargs).removesuffix(".json")


# -- JSON nested past any parser --------------------------------------------------------------


def test_json_nested_100000_deep_is_a_parse_error_and_stores_nothing(world, writer):
    rig = world.farm_world.rig
    samples_before = GpuSample.objects.count()
    deep = "[" * 100_000 + "]" * 100_000
    answer = writer.post(f"/api/v1/rigs/{rig.pk}/telemetry/", deep, content_type="application/json")
    assert_error_shape(answer, 400, "parse_error")
    assert GpuSample.objects.count() == samples_before


def test_json_nested_past_the_api_limit_is_a_parse_error(world, writer):
    nested = {"samples": []}
    for _ in range(MAX_JSON_DEPTH):
        nested = {"samples": [nested]}
    answer = writer.post(
        f"/api/v1/rigs/{world.farm_world.rig.pk}/telemetry/", nested, format="json"
    )
    body = assert_error_shape(answer, 400, "parse_error")
    assert str(MAX_JSON_DEPTH) in body["detail"]


@pytest.mark.parametrize(
    ("raw", "deeper"),
    [
        (b"[" * 64 + b"]" * 64, False),
        (b"[" * 65 + b"]" * 65, True),
        (b'{"a": {"b": [1, {"c": []}]}}', False),
        (b'{"a": "' + b"[" * 1000 + b'"}', False),  # brackets in a string are no nesting
        (b'["\\"' + b"[" * 100 + b'"]', False),  # nor after an escaped quote
        (b"[1," * 100 + b"]" * 100, True),
        (b"[]" * 100_000, False),
        (b"[" * 100_000, True),  # unbalanced: still refused before the parser
    ],
)
def test_nesting_is_measured_on_the_bytes_before_parsing(raw, deeper):
    assert json_nests_deeper_than(raw, MAX_JSON_DEPTH) is deeper


def test_a_hive_os_body_nested_100000_deep_is_refused(world):
    rig = world.farm_world.rig
    hive_agent.set_hive_password(rig)
    samples_before = GpuSample.objects.count()
    answer = Client().post(
        f"/worker/api?id_rig={rig.pk}&method=stats",
        "[" * 100_000 + "]" * 100_000,
        content_type="",
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith("The body is not JSON")
    assert GpuSample.objects.count() == samples_before


# -- body size --------------------------------------------------------------------------------


def _ten_megabytes_of_samples():
    sample = {"ts": "2026-12-01T00:00:00Z", "gpu": 0, "hashrate_hs": 1.0}
    padding = " " * (10 * 1024 * 1024)
    return json.dumps({"samples": [sample]}) + padding


def test_a_10_mb_telemetry_body_is_413_and_nothing_is_stored(world, writer, settings):
    assert settings.ETHDASH_API_MAX_BODY_BYTES == 4 * 1024 * 1024
    samples_before = GpuSample.objects.count()
    answer = writer.post(
        f"/api/v1/rigs/{world.farm_world.rig.pk}/telemetry/",
        _ten_megabytes_of_samples(),
        content_type="application/json",
    )
    body = assert_error_shape(answer, 413, "request_too_large")
    assert "4,194,304" in body["detail"]
    assert GpuSample.objects.count() == samples_before


def test_a_10_mb_hive_os_body_is_413_and_nothing_is_stored(world):
    rig = world.farm_world.rig
    hive_agent.set_hive_password(rig)
    samples_before = GpuSample.objects.count()
    answer = Client().post(
        f"/worker/api?id_rig={rig.pk}&method=stats",
        _ten_megabytes_of_samples(),
        content_type="",
    )
    assert_error_shape(answer, 413, "request_too_large")
    assert GpuSample.objects.count() == samples_before


def test_the_body_limit_is_a_setting(world, writer, settings):
    settings.ETHDASH_API_MAX_BODY_BYTES = 2048
    answer = writer.post(
        f"/api/v1/rigs/{world.farm_world.rig.pk}/telemetry/",
        {"samples": [{"ts": "2026-12-01T00:00:00Z", "gpu": 0, "hashrate_hs": 1.0}] * 40},
        format="json",
    )
    assert_error_shape(answer, 413, "request_too_large")


def test_adding_validators_takes_a_paste_larger_than_the_api_limit(world, writer):
    # A paste of about 5 MB (one pubkey repeated: repeats are skipped, not errors): over the
    # usual limit, within the validators' own.
    pubkeys = ["0x" + "ab" * 48] * 50_000
    answer = writer.post(
        "/api/v1/validators/add/", {"ids": pubkeys, "farm": world.farm.pk}, format="json"
    )
    assert answer.status_code == 201, answer.content[:300]
    assert len(answer.json()["created"]) == 1


# -- JSON errors everywhere under /api/ -------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/nope/", "/api/nope", "/api/v1/rigs/1/nope/"])
def test_unknown_api_paths_answer_json_404(world, writer, path):
    assert_error_shape(writer.get(path), 404, "not_found")


def test_an_object_that_is_not_there_is_404_in_the_error_shape(world, writer):
    body = assert_error_shape(writer.get("/api/v1/rigs/999999/"), 404, "not_found")
    assert set(body) == {"detail", "code"}


def test_a_method_the_hive_os_endpoint_does_not_take_is_json_405(world):
    answer = Client().get("/worker/api")
    assert_error_shape(answer, 405, "method_not_allowed")
    assert answer["Allow"] == "POST"


def test_errors_django_makes_under_api_become_json_and_pages_keep_theirs():
    factory = RequestFactory()
    for response, status, code in [
        (HttpResponseServerError("<h1>Server Error (500)</h1>"), 500, "server_error"),
        (HttpResponseNotAllowed(["GET"]), 405, "method_not_allowed"),
        (HttpResponse("<h1>Bad Request (400)</h1>", status=400), 400, "bad_request"),
    ]:
        middleware = JsonErrorsMiddleware(lambda request, response=response: response)
        answer = middleware(factory.get("/api/v1/rigs/"))
        assert answer.status_code == status
        assert json.loads(answer.content)["code"] == code
        page = middleware(factory.get("/rigs/"))
        assert page is response


def test_a_csrf_failure_under_api_is_json():
    factory = RequestFactory()
    answer = csrf_failure(factory.post("/api/v1/rigs/"), reason="CSRF token missing.")
    assert answer.status_code == 403
    assert json.loads(answer.content) == {
        "detail": "CSRF check failed: CSRF token missing.",
        "code": "csrf_failed",
    }
    page = csrf_failure(factory.post("/accounts/login/"), reason="CSRF token missing.")
    assert page.status_code == 403
    assert page["Content-Type"].startswith("text/html")


def test_a_validation_error_without_a_field_still_has_errors_as_an_object(world, writer):
    answer = writer.post(
        "/api/v1/rigs/test-connection/", {"protocol": "", "host": "127.0.0.1"}, format="json"
    )
    body = assert_error_shape(answer, 400, "invalid")
    assert isinstance(body["errors"], dict)


# -- query parameters DRF would quietly ignore ------------------------------------------------


@pytest.mark.parametrize("page_size", ["null", "0", "-5", "1.5", ""])
def test_a_page_size_that_is_no_size_is_400(world, writer, page_size):
    rig = world.farm_world.rig
    for path in ("/api/v1/rigs/", f"/api/v1/rigs/{rig.pk}/samples/"):
        body = assert_error_shape(writer.get(path, {"page_size": page_size}), 400, "invalid")
        assert list(body["errors"]) == ["page_size"]


def test_a_page_size_above_the_maximum_is_cut_to_it(world, writer):
    answer = writer.get(f"/api/v1/rigs/{world.farm_world.rig.pk}/samples/", {"page_size": 10**9})
    assert answer.status_code == 200
    assert len(answer.json()["results"]) == 12  # every seeded sample: the page is 5,000


@pytest.mark.parametrize("name", ["from", "to"])
def test_an_empty_range_parameter_is_400(world, writer, name):
    answer = writer.get(f"/api/v1/rigs/{world.farm_world.rig.pk}/series/", {name: ""})
    body = assert_error_shape(answer, 400, "invalid")
    assert list(body["errors"]) == [name]


def test_a_chunked_body_without_content_length_is_held_to_the_limit_on_a_real_server(
    transactional_db,
):
    live_world = seed_api_world()
    rig = live_world.farm_world.rig
    hive_agent.set_hive_password(rig)

    def chunks():  # a generator body: httpx sends it chunked, with no Content-Length
        for _ in range(5):
            yield b" " * (1024 * 1024)

    samples_before = GpuSample.objects.count()
    with serve() as server, httpx.Client(base_url=server.url, timeout=30) as client:
        for path, headers in [
            (f"/worker/api?id_rig={rig.pk}&method=stats", {}),
            (
                f"/api/v1/rigs/{rig.pk}/telemetry/",
                {
                    "Authorization": f"Bearer {live_world.write_token}",
                    "Content-Type": "application/json",
                },
            ),
        ]:
            answer = client.post(path, content=chunks(), headers=headers)
            assert "content-length" not in answer.request.headers
            assert answer.status_code == 413, (path, answer.text[:300])
            assert answer.json()["code"] == "request_too_large"
    assert GpuSample.objects.count() == samples_before
