"""Throttling (ethdash.throttling) and the login lockout (django-axes): 429 with Retry-After per
token, user and address; telemetry on its own budget per rig; the Hive OS agent's endpoint; a
locked-out login with its message, and an admin unlocking it."""

import json
import uuid
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core.cache.backends.locmem import LocMemCache
from django.test import Client, RequestFactory, override_settings
from rest_framework.throttling import SimpleRateThrottle

from rigs.services import hive_agent
from tests.factories import GpuFactory, RigFactory, logged_in, make_user, sample_batch


@pytest.fixture(autouse=True)
def throttle_cache(monkeypatch):
    # A cache of this test's own: counts of other tests (or runs, on Redis) never leak in.
    cache = LocMemCache(f"throttle-tests-{uuid.uuid4()}", {})  # locmem shares one name's data
    monkeypatch.setattr(SimpleRateThrottle, "cache", cache)
    return cache


def _get(api, path, token=None, **extra):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return api.get(path, **headers, **extra)


# -- the API, per token, user and address ------------------------------------------------------


def test_a_token_past_its_rate_gets_429_with_retry_after(api, alpha, settings):
    settings.ETHDASH_THROTTLE_API = "5/min"
    token = alpha.token("read")
    for _ in range(5):
        assert _get(api, "/api/v1/rigs/", token).status_code == 200
    response = _get(api, "/api/v1/rigs/", token)
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json()["code"] == "throttled"
    # Another token of the same farm has a budget of its own.
    assert _get(api, "/api/v1/rigs/", alpha.token("read")).status_code == 200


def test_nine_hundred_requests_of_one_token_meet_429_at_the_default_rate(api, alpha):
    """The probe of the issue (900 API requests, no 429), at the documented default rate."""
    from django.conf import settings as django_settings

    with override_settings(ETHDASH_THROTTLE_API="600/min"):
        token = alpha.token("read")
        statuses = [_get(api, "/api/v1/rigs/", token).status_code for _ in range(900)]
    assert statuses[:600] == [200] * 600
    assert set(statuses[600:]) == {429}
    assert django_settings.ETHDASH_THROTTLE_API is None  # the tests' own setting is back


def test_a_logged_in_user_is_throttled_as_one_caller(alpha, settings):
    settings.ETHDASH_THROTTLE_API = "3/min"
    client = logged_in(alpha.viewer)
    assert [client.get("/api/v1/rigs/").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert logged_in(alpha.owner).get("/api/v1/rigs/").status_code == 200


def test_anonymous_requests_are_throttled_per_address(settings):
    settings.ETHDASH_THROTTLE_ANON = "2/min"
    settings.ETHDASH_API_DOCS_PUBLIC = True
    client = Client()
    statuses = [client.get("/api/schema/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    # Another address is another budget.
    assert client.get("/api/schema/", REMOTE_ADDR="192.0.2.7").status_code == 200


def test_the_address_behind_trusted_proxies(settings):
    from ethdash.throttling import client_ip

    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.9"
    )
    settings.ETHDASH_TRUSTED_PROXIES = 0
    assert client_ip(request) == "10.0.0.2"  # the header is anyone's to write
    settings.ETHDASH_TRUSTED_PROXIES = 1
    assert client_ip(request) == "198.51.100.9"  # what our proxy saw, not what the client wrote


# -- telemetry ---------------------------------------------------------------------------------


def _push(api, rig, token):
    body = sample_batch(gpu_count=4, ticks=1)
    return api.post(
        f"/api/v1/rigs/{rig.pk}/telemetry/",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_telemetry_has_its_own_budget_per_rig(api, alpha, settings):
    """An agent pushing every 5 s (12 a minute) is never throttled by the reads' rate, nor by
    another rig's agent using the same token."""
    settings.ETHDASH_THROTTLE_API = "2/min"
    settings.ETHDASH_THROTTLE_TELEMETRY = "12/min"
    token = alpha.token("telemetry", "read")
    other_rig = RigFactory(farm=alpha.farm, name="alpha-rig-2")
    for index in range(4):
        GpuFactory(rig=other_rig, index=index)
    for _ in range(12):
        assert _push(api, alpha.rig, token).status_code == 200
        assert _push(api, other_rig, token).status_code == 200
    refused = _push(api, alpha.rig, token)
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    # Reads are counted on their own: the pushes spent none of them.
    assert _get(api, "/api/v1/rigs/", token).status_code == 200


def test_the_default_telemetry_rate_leaves_an_agent_five_times_its_pace(settings):
    from ethdash.settings import env_rate

    count, _, period = env_rate("UNSET_RATE_FOR_TEST", "60/min").partition("/")
    agent_per_minute = 60 / 5  # a rig agent pushing every 5 s
    assert period.startswith("m") and int(count) >= 5 * agent_per_minute


# -- the Hive OS agent -------------------------------------------------------------------------


def test_the_hive_endpoint_is_throttled_before_the_password_is_checked(db, settings):
    settings.ETHDASH_THROTTLE_HIVE = "3/min"
    rig = RigFactory(name="hive-rig")
    hive_agent.set_hive_password(rig)
    client = Client()
    body = json.dumps({"method": "stats", "params": {"rig_id": str(rig.pk), "passwd": "wrong"}})
    url = f"/worker/api?id_rig={rig.pk}&method=stats"
    statuses = [client.post(url, body, content_type="").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    refused = client.post(url, body, content_type="")
    assert int(refused["Retry-After"]) >= 1
    assert refused.json()["error"]["code"] == -32003


# -- logins ------------------------------------------------------------------------------------


def _login(client, username, password):
    return client.post("/accounts/login/", {"username": username, "password": password})


@pytest.fixture
def member(db):
    user = make_user("miner")
    user.set_password("right-horse-battery")
    user.save()
    return user


def test_forty_wrong_passwords_lock_the_login_out_with_a_message(member, settings):
    client = Client()
    for attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        response = _login(client, "miner", f"wrong-{attempt}")
        assert response.status_code == 200  # the form again, with its usual error
    for _ in range(40 - settings.AXES_FAILURE_LIMIT + 1):
        response = _login(client, "miner", "wrong")
        assert response.status_code == 429
    response = _login(client, "miner", "right-horse-battery")
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed logins for this username from your address" in page
    assert "locked for 15 minutes" in page
    assert int(response["Retry-After"]) == 15 * 60
    assert "_auth_user_id" not in client.session  # the right password did not log in
    assert client.get("/").status_code == 302  # still sent to the login page


def test_a_lockout_is_per_username_and_address(member, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(Client(), "miner", "wrong")
    # The same username from another address still logs in.
    other = Client(REMOTE_ADDR="192.0.2.50")
    assert _login(other, "miner", "right-horse-battery").status_code == 302


def test_a_right_password_before_the_limit_resets_the_count(member, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "miner", "wrong")
    assert _login(client, "miner", "right-horse-battery").status_code == 302
    client.post("/accounts/logout/")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "miner", "wrong")
    assert _login(client, "miner", "right-horse-battery").status_code == 302


def test_an_admin_unlocks_a_locked_out_login_in_the_admin(member, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "miner", "wrong")
    assert _login(client, "miner", "right-horse-battery").status_code == 429

    root = get_user_model().objects.create_superuser("root", "r@example.invalid", "x")
    admin = logged_in(root)
    listing = admin.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and "miner" in listing.content.decode()
    attempt = AccessAttempt.objects.get(username="miner")
    response = admin.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()

    assert _login(client, "miner", "right-horse-battery").status_code == 302


def test_without_a_cool_off_the_lockout_lasts_until_unlocked(member, settings):
    settings.AXES_COOLOFF_TIME = None
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "miner", "wrong")
    response = _login(client, "miner", "right-horse-battery")
    assert response.status_code == 429 and "Retry-After" not in response
    assert "locked until an administrator unlocks it" in response.content.decode()


def test_the_lockout_time_is_a_setting(member, settings):
    settings.AXES_COOLOFF_TIME = timedelta(minutes=1)
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "miner", "wrong")
    response = _login(client, "miner", "right-horse-battery")
    assert "locked for 1 minute." in response.content.decode()


def test_the_counts_live_in_the_default_cache(api, alpha, settings, monkeypatch):
    """Redis when REDIS_URL is set (every process shares the counts), process memory otherwise."""
    from django.core.cache import cache

    monkeypatch.setattr(SimpleRateThrottle, "cache", cache)
    settings.ETHDASH_THROTTLE_API = "2/min"
    token = alpha.token("read")
    assert [_get(api, "/api/v1/rigs/", token).status_code for _ in range(3)] == [200, 200, 429]
    from accounts.models import ApiToken

    key = f"throttle_api_token:{ApiToken.objects.get(farm=alpha.farm).pk}"
    assert len(cache.get(key)) == 2
    expected = "RedisCache" if settings.REDIS_URL else "LocMemCache"
    assert expected in settings.CACHES["default"]["BACKEND"]
    cache.delete(key)
