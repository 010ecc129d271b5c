"""POST /api/v1/rigs/{id}/telemetry/: a batch is stored whole, once, or not at all."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ApiToken
from rigs.models import GpuSample, Rig, RigSample
from tests.factories import sample_batch


def url(rig):
    return f"/api/v1/rigs/{rig.pk}/telemetry/"


def push(api, rig, body, token):
    return api.post(
        url(rig),
        data=json.dumps(body) if not isinstance(body, str | bytes) else body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}" if token else "",
    )


def test_valid_batch_is_stored_with_rig_totals(api, alpha):
    token = alpha.token("telemetry")
    body = sample_batch(gpu_count=4, ticks=3, hashrate_hs=50e6)

    response = push(api, alpha.rig, body, token)

    assert response.status_code == 200, response.json()
    assert response.json() == {"received": 12, "status": "online"}
    assert GpuSample.objects.filter(gpu__rig=alpha.rig).count() == 12
    totals = list(RigSample.objects.filter(rig=alpha.rig).order_by("ts"))
    assert len(totals) == 3
    # 4 GPUs at 50 MH/s + their index (0..3) each, as the factory builds them.
    assert totals[-1].hashrate_hs == pytest.approx(4 * 50e6 + 6)
    assert totals[-1].power_w == pytest.approx(480)
    assert totals[-1].temperature_max_c == pytest.approx(63)
    assert totals[-1].gpus_reporting == 4
    rig = Rig.objects.get(pk=alpha.rig.pk)
    assert rig.status == Rig.Status.ONLINE
    assert rig.hashrate_hs == pytest.approx(4 * 50e6 + 6)
    assert rig.last_sample_at == totals[-1].ts
    assert rig.stale_at > rig.last_seen_at


def test_resent_batch_stores_nothing_twice(api, alpha):
    token = alpha.token("telemetry")
    body = sample_batch(gpu_count=4, ticks=3)

    assert push(api, alpha.rig, body, token).status_code == 200
    assert push(api, alpha.rig, body, token).status_code == 200

    assert GpuSample.objects.count() == 12
    assert RigSample.objects.count() == 3


def test_batch_completing_an_instant_updates_its_rig_total(api, alpha):
    token = alpha.token("telemetry")
    body = sample_batch(gpu_count=4, ticks=1, hashrate_hs=10e6)
    first, rest = body["samples"][:2], body["samples"][2:]

    push(api, alpha.rig, {"samples": first}, token)
    push(api, alpha.rig, {"samples": rest}, token)

    total = RigSample.objects.get(rig=alpha.rig)
    assert total.gpus_reporting == 4
    assert total.hashrate_hs == pytest.approx(4 * 10e6 + 6)


def test_write_token_may_push_too(api, alpha):
    response = push(api, alpha.rig, sample_batch(), alpha.token("write"))
    assert response.status_code == 200


def _one_sample(**overrides):
    body = sample_batch(gpu_count=1, ticks=1)
    body["samples"][0].update(overrides)
    return body


def _bad_inputs():
    now = timezone.now()
    return {
        "malformed json": (b'{"samples": [', 400, "parse_error"),
        "not an object": ("[1, 2]", 400, "invalid"),
        "no samples": ({"samples": []}, 400, "invalid"),
        "gpu not on rig": (_one_sample(gpu=9), 400, "invalid"),
        "gpu as string": (_one_sample(gpu="0"), 400, "invalid"),
        "negative hashrate": (_one_sample(hashrate_hs=-1), 400, "invalid"),
        "non-numeric hashrate": (_one_sample(hashrate_hs="fast"), 400, "invalid"),
        "numeric-string hashrate": (_one_sample(hashrate_hs="100"), 400, "invalid"),
        "boolean hashrate": (_one_sample(hashrate_hs=True), 400, "invalid"),
        "missing hashrate": (_one_sample(hashrate_hs=None), 400, "invalid"),
        "temperature of 500": (_one_sample(temperature_c=500), 400, "invalid"),
        "fan over 100": (_one_sample(fan_pct=101), 400, "invalid"),
        "negative shares": (_one_sample(shares_accepted=-3), 400, "invalid"),
        "bad timestamp": (_one_sample(ts="yesterday"), 400, "invalid"),
        "timestamp 6 minutes ahead": (
            _one_sample(ts=(now + timedelta(minutes=6)).isoformat()),
            400,
            "invalid",
        ),
        "timestamp older than retention": (
            _one_sample(ts=(now - timedelta(days=15)).isoformat()),
            400,
            "invalid",
        ),
        "same gpu twice at one ts": (
            {"samples": _one_sample()["samples"] * 2},
            400,
            "invalid",
        ),
        "5001 samples": (sample_batch(gpu_count=1, ticks=5001, step_s=1), 400, "invalid"),
    }


@pytest.mark.parametrize("case", list(_bad_inputs()))
def test_bad_input_is_rejected_and_nothing_stored(api, alpha, case):
    body, status, code = _bad_inputs()[case]
    # One valid sample in front proves the batch is all-or-nothing.
    if isinstance(body, dict) and body.get("samples") and case != "5001 samples":
        valid = sample_batch(gpu_count=2, ticks=1)["samples"][1]
        body = {"samples": [valid, *body["samples"]]}

    response = push(api, alpha.rig, body, alpha.token("telemetry"))

    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert response.json()["detail"]
    assert GpuSample.objects.count() == 0
    assert RigSample.objects.count() == 0
    assert Rig.objects.get(pk=alpha.rig.pk).status == Rig.Status.NEW


def test_field_errors_point_at_the_sample_and_field(api, alpha):
    body = sample_batch(gpu_count=2, ticks=1)
    body["samples"][1]["temperature_c"] = 500

    response = push(api, alpha.rig, body, alpha.token("telemetry"))

    assert response.json()["errors"] == {
        "samples": {"1": {"temperature_c": ["Ensure this value is less than or equal to 150."]}}
    }


@pytest.mark.parametrize(
    ("make_token", "status"),
    [
        (lambda world: None, 401),
        (lambda world: "edt_not-a-real-token", 401),
        (lambda world: world.token("telemetry", expires_at=timezone.now() - timedelta(1)), 401),
        (lambda world: world.token("read"), 403),
    ],
    ids=["missing", "wrong", "expired", "read-only"],
)
def test_token_problems_are_refused(api, alpha, make_token, status):
    response = push(api, alpha.rig, sample_batch(), make_token(alpha))

    assert response.status_code == status
    assert set(response.json()) == {"detail", "code"}
    assert GpuSample.objects.count() == 0


def test_malformed_authorization_header_is_refused(api, alpha):
    response = api.post(
        url(alpha.rig), data={}, format="json", HTTP_AUTHORIZATION="Bearer two words"
    )
    assert response.status_code == 401


def test_token_of_another_farm_gets_404(api, alpha, bravo):
    response = push(api, alpha.rig, sample_batch(), bravo.token("telemetry"))

    assert response.status_code == 404
    assert GpuSample.objects.count() == 0


def test_viewer_session_may_not_push(alpha):
    from tests.factories import logged_in

    client = logged_in(alpha.viewer)
    response = client.post(url(alpha.rig), data=sample_batch(), content_type="application/json")
    assert response.status_code == 403


def test_token_last_used_is_recorded(api, alpha):
    push(api, alpha.rig, sample_batch(), alpha.token("telemetry"))
    assert ApiToken.objects.get().last_used_at is not None
