from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Alert, AlertRule, Notification, NotificationChannel
from tests.factories import AlertFactory, AlertRuleFactory, NotificationChannelFactory

HOOK_TOKEN = "Zq8xR2mN4vB7kP1wT6yH3jL9"
HOOK = f"https://alice:hunter2@hooks.example.com/services/T01/B02/{HOOK_TOKEN}"


@pytest.fixture
def rule(alpha):
    return AlertRuleFactory(farm=alpha.farm, kind="test_temperature", threshold=85)


@pytest.fixture
def reader(api, alpha):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('read')}")
    return api


@pytest.fixture
def writer(api, alpha):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('read', 'write')}")
    return api


def _ids(response):
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def test_alerts_list_open_first_then_history_and_filters(reader, alpha, rule):
    now = timezone.now()
    gone = AlertFactory(
        rule=rule, object_type="gpu", object_id=1, state=Alert.State.RESOLVED, dedupe=None,
        opened_at=now, resolved_at=now,
    )  # fmt: skip
    older = AlertFactory(
        rule=rule, object_type="gpu", object_id=2, opened_at=now - timedelta(hours=1)
    )
    offline = AlertRuleFactory(farm=alpha.farm, kind="test_offline", severity="critical")
    down = AlertFactory(
        rule=offline, object_type="rig", object_id=alpha.rig.pk, severity="critical",
        opened_at=now - timedelta(minutes=30),
    )  # fmt: skip
    AlertFactory(rule=rule, object_id=3, state=Alert.State.PENDING, opened_at=None)

    assert _ids(reader.get("/api/v1/alerts/")) == [down.pk, older.pk, gone.pk]
    assert _ids(reader.get("/api/v1/alerts/", {"state": "open"})) == [down.pk, older.pk]
    assert _ids(reader.get("/api/v1/alerts/", {"state": "resolved"})) == [gone.pk]
    assert _ids(reader.get("/api/v1/alerts/", {"severity": "critical"})) == [down.pk]
    assert _ids(reader.get("/api/v1/alerts/", {"kind": "test_temperature"})) == [older.pk, gone.pk]
    query = {"object_type": "rig", "object_id": alpha.rig.pk}
    assert _ids(reader.get("/api/v1/alerts/", query)) == [down.pk]
    assert reader.get("/api/v1/alerts/", {"state": "pending"}).status_code == 400
    body = reader.get(f"/api/v1/alerts/{down.pk}/").json()
    assert body["state"] == "open" and body["acknowledged_by"] is None


def test_acknowledge_and_mute_need_a_write_token(reader, alpha, rule):
    alert = AlertFactory(rule=rule)
    assert reader.post(f"/api/v1/alerts/{alert.pk}/acknowledge/").status_code == 403
    assert reader.post(f"/api/v1/alerts/{alert.pk}/mute/", {"minutes": 60}).status_code == 403
    alert.refresh_from_db()
    assert alert.acknowledged_at is None and alert.muted_until is None

    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('read', 'write')}")
    body = reader.post(f"/api/v1/alerts/{alert.pk}/acknowledge/").json()
    assert body["acknowledged_at"] is not None
    before = timezone.now()
    response = reader.post(f"/api/v1/alerts/{alert.pk}/mute/", {"minutes": 60}, format="json")
    assert response.status_code == 200
    alert.refresh_from_db()
    assert timedelta(minutes=60) <= alert.muted_until - before < timedelta(minutes=61)
    too_long = reader.post(f"/api/v1/alerts/{alert.pk}/mute/", {"minutes": 99999}, format="json")
    assert too_long.status_code == 400
    assert reader.post(f"/api/v1/alerts/{alert.pk}/mute/", {}, format="json").status_code == 400


def test_a_session_viewer_cannot_acknowledge(api, alpha, rule):
    alert = AlertFactory(rule=rule)
    api.force_authenticate(alpha.viewer)
    assert api.post(f"/api/v1/alerts/{alert.pk}/acknowledge/").status_code == 403
    assert api.post("/api/v1/alert-rules/", {"kind": "test_offline"}).status_code == 403
    assert AlertRule.objects.count() == 1


def test_rules_are_created_changed_and_deleted(writer, alpha):
    channel = NotificationChannelFactory(farm=alpha.farm)
    body = {"kind": "test_temperature", "threshold": 95, "grace_s": 300, "channels": [channel.pk]}
    response = writer.post("/api/v1/alert-rules/", body, format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["farm"] == alpha.farm.pk and created["channels"] == [channel.pk]
    url = f"/api/v1/alert-rules/{created['id']}/"
    assert writer.patch(url, {"threshold": 70}, format="json").json()["threshold"] == 70
    assert writer.patch(url, {"threshold": 5}, format="json").status_code == 400
    assert AlertRule.objects.get(pk=created["id"]).threshold == 70
    assert writer.delete(url).status_code == 204
    assert not AlertRule.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "test_temperature", "threshold": 500}, "threshold"),
        ({"kind": "no_such_kind"}, "kind"),
        ({"kind": "test_offline", "threshold": 1}, "threshold"),
        ({"kind": "test_temperature", "target": "group"}, "target_id"),
    ],
)
def test_the_rules_api_refuses_what_a_rule_cannot_be_and_saves_nothing(writer, body, field):
    response = writer.post("/api/v1/alert-rules/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not AlertRule.objects.exists()


def test_a_rule_takes_no_channel_of_another_farm(writer, bravo):
    theirs = NotificationChannelFactory(farm=bravo.farm)
    response = writer.post(
        "/api/v1/alert-rules/", {"kind": "test_offline", "channels": [theirs.pk]}, format="json"
    )
    assert response.status_code == 400
    # Refused as a channel that does not exist: another farm's ids are not confirmed.
    assert "does not exist" in str(response.json()["errors"]["channels"])
    assert not AlertRule.objects.exists()


def test_channels_show_their_target_masked_and_never_whole(writer, alpha):
    body = {"name": "hook", "kind": "webhook", "target": HOOK, "secret": "s3cret"}
    response = writer.post("/api/v1/notification-channels/", body, format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert "target" not in created and "secret" not in created
    shown = created["target_masked"]
    assert "hooks.example.com" in shown and HOOK_TOKEN not in shown and "hunter2" not in shown
    assert created["has_secret"] is True
    listing = writer.get("/api/v1/notification-channels/").content.decode()
    assert HOOK_TOKEN not in listing and "hunter2" not in listing and "s3cret" not in listing
    assert NotificationChannel.objects.get().target == HOOK


@pytest.mark.parametrize(
    ("kind", "target"),
    [("email", "nobody"), ("webhook", "ftp://hooks.example.com/x"), ("webhook", "https://")],
)
def test_the_channels_api_refuses_a_bad_target_and_saves_nothing(writer, kind, target):
    body = {"name": "bad", "kind": kind, "target": target}
    response = writer.post("/api/v1/notification-channels/", body, format="json")
    assert response.status_code == 400
    assert "target" in response.json()["errors"]
    assert not NotificationChannel.objects.exists()


def test_a_channel_is_changed_tested_and_deleted(writer, alpha):
    channel = NotificationChannelFactory(farm=alpha.farm, target="ops@example.com")
    url = f"/api/v1/notification-channels/{channel.pk}/"
    bad = writer.patch(url, {"kind": "webhook"}, format="json")  # the e-mail is no webhook URL
    assert bad.status_code == 400
    assert writer.patch(url, {"enabled": False}, format="json").json()["enabled"] is False
    assert writer.delete(url).status_code == 204


def test_a_channel_test_answers_what_sending_gave(writer, alpha, monkeypatch):
    channel = NotificationChannelFactory(farm=alpha.farm)
    monkeypatch.setattr("alerts.api.views.send_test", lambda c: (c == channel, "sent"))
    answer = writer.post(f"/api/v1/notification-channels/{channel.pk}/test/")
    assert answer.json() == {"ok": True, "detail": "sent"}


def test_another_farms_alerts_rules_and_channels_are_404(writer, bravo):
    rule = AlertRuleFactory(farm=bravo.farm)
    alert = AlertFactory(rule=rule)
    channel = NotificationChannelFactory(farm=bravo.farm)
    assert writer.get(f"/api/v1/alerts/{alert.pk}/").status_code == 404
    assert writer.post(f"/api/v1/alerts/{alert.pk}/acknowledge/").status_code == 404
    assert writer.patch(f"/api/v1/alert-rules/{rule.pk}/", {}, format="json").status_code == 404
    assert writer.delete(f"/api/v1/notification-channels/{channel.pk}/").status_code == 404
    assert writer.post(f"/api/v1/notification-channels/{channel.pk}/test/").status_code == 404
    assert _ids(writer.get("/api/v1/alerts/")) == []
    body = {"farm": bravo.farm.pk, "kind": "test_offline"}
    assert writer.post("/api/v1/alert-rules/", body, format="json").status_code == 404
    assert AlertRule.objects.count() == 1 and not Notification.objects.exists()


def test_the_schema_describes_the_alerts_endpoints(reader):
    paths = reader.get("/api/schema/", {"format": "json"}).json()["paths"]
    for path in (
        "/api/v1/alerts/",
        "/api/v1/alerts/{id}/acknowledge/",
        "/api/v1/alerts/{id}/mute/",
        "/api/v1/alert-rules/{id}/",
        "/api/v1/notification-channels/{id}/test/",
    ):
        assert path in paths
    assert {"alert-rules", "alerts", "notification-channels"} <= set(reader.get("/api/v1/").json())


def test_the_schema_validates_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
