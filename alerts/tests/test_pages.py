from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Alert, AlertRule, Notification, NotificationChannel
from tests.factories import (
    AlertFactory,
    AlertRuleFactory,
    NotificationChannelFactory,
    logged_in,
)

HOOK_TOKEN = "Zq8xR2mN4vB7kP1wT6yH3jL9"
HOOK = f"https://hooks.example.com/services/T01/B02/{HOOK_TOKEN}"


@pytest.fixture
def rule(alpha):
    return AlertRuleFactory(farm=alpha.farm, kind="test_temperature", threshold=85)


def _alert(rule, **fields):
    return AlertFactory(rule=rule, **fields)


def _ids(rows):
    return [alert.pk for alert in rows]


def test_open_alerts_come_first_newest_first_and_pending_ones_are_not_shown(owner_client, rule):
    now = timezone.now()
    older = _alert(rule, object_id=1, opened_at=now - timedelta(hours=2))
    newer = _alert(rule, object_id=2, opened_at=now - timedelta(minutes=5))
    pending = _alert(rule, object_id=3, state=Alert.State.PENDING, opened_at=None)
    resolved = _alert(rule, object_id=4, state=Alert.State.RESOLVED, resolved_at=now)

    response = owner_client.get("/alerts/")

    assert _ids(response.context["open"]) == [newer.pk, older.pk]
    assert _ids(response.context["history"]) == [resolved.pk]
    html = response.content.decode()
    assert html.index(newer.message) < html.index(resolved.message)
    assert f'data-alert-id="{pending.pk}"' not in html
    assert 'id="open-alert-count"' in html and ">2</span>" in html


def test_the_history_shows_the_value_an_alert_resolved_at(owner_client, rule):
    now = timezone.now()
    _alert(rule, object_id=1, value=96.5, state=Alert.State.RESOLVED, resolved_at=now,
           resolved_value=79.0, dedupe=None)  # fmt: skip
    _alert(rule, object_id=2, value=91.0, state=Alert.State.RESOLVED, resolved_at=now, dedupe=None)

    html = owner_client.get("/alerts/").content.decode()

    assert '96.50 <span class="sub" title="the value it resolved at">→ 79</span>' in html
    assert '91 <span class="sub" title="the value it resolved at">→ gone</span>' in html


def test_the_list_filters_by_kind_object_type_severity_and_state(owner_client, alpha, rule):
    offline = AlertRuleFactory(farm=alpha.farm, kind="test_offline", severity="critical")
    hot = _alert(rule, object_type="gpu", object_id=7)
    down = _alert(offline, object_type="rig", object_id=alpha.rig.pk, severity="critical")
    gone = _alert(
        rule, object_type="gpu", object_id=8, state=Alert.State.RESOLVED, resolved_at=timezone.now()
    )

    def listed(**query):
        context = owner_client.get("/alerts/", query).context
        return _ids(context["open"]), _ids(context["history"])

    assert listed(kind="test_offline") == ([down.pk], [])
    assert listed(object_type="gpu") == ([hot.pk], [gone.pk])
    assert listed(severity="critical") == ([down.pk], [])
    assert listed(state="resolved") == ([], [gone.pk])
    assert listed(state="open") == ([down.pk, hot.pk], [])


def test_acknowledge_and_mute_from_the_page(owner_client, alpha, rule):
    alert = _alert(rule)
    response = owner_client.post(
        f"/alerts/{alert.pk}/acknowledge/", {"next": "/alerts/?state=open"}
    )
    assert response.status_code == 302 and response.url == "/alerts/?state=open"
    alert.refresh_from_db()
    assert alert.acknowledged_by == alpha.owner and alert.acknowledged_at is not None
    assert "alpha-owner" in owner_client.get("/alerts/").content.decode()

    before = timezone.now()
    owner_client.post(f"/alerts/{alert.pk}/mute/", {"minutes": "240"})
    alert.refresh_from_db()
    assert timedelta(hours=4) <= alert.muted_until - before < timedelta(hours=4, seconds=30)


def test_a_mute_outside_the_offered_durations_changes_nothing(owner_client, rule):
    alert = _alert(rule)
    owner_client.post(f"/alerts/{alert.pk}/mute/", {"minutes": "99999"})
    alert.refresh_from_db()
    assert alert.muted_until is None


def test_a_viewer_sees_alerts_but_changes_nothing(alpha, rule):
    alert = _alert(rule)
    channel = NotificationChannelFactory(farm=alpha.farm)
    viewer = logged_in(alpha.viewer)

    html = viewer.get("/alerts/").content.decode()
    assert alert.message in html
    assert f"/alerts/{alert.pk}/acknowledge/" not in html and "Mute</button>" not in html
    assert viewer.post(f"/alerts/{alert.pk}/acknowledge/").status_code == 403
    assert viewer.post(f"/alerts/{alert.pk}/mute/", {"minutes": "60"}).status_code == 403
    assert viewer.get("/alerts/rules/add/").status_code == 403
    assert viewer.post(f"/alerts/rules/{rule.pk}/delete/").status_code == 403
    assert viewer.post(f"/alerts/channels/{channel.pk}/test/").status_code == 403
    assert viewer.post(f"/alerts/channels/{channel.pk}/delete/").status_code == 403
    alert.refresh_from_db()
    assert alert.acknowledged_at is None and alert.muted_until is None
    assert AlertRule.objects.filter(pk=rule.pk).exists()
    assert NotificationChannel.objects.filter(pk=channel.pk).exists()
    assert not Notification.objects.exists()


def _rule_form(**fields):
    return {
        "kind": "test_temperature",
        "target": "all",
        "severity": "warning",
        "grace_count": "1",
        "daily_cap": "100",
        "enabled": "on",
        **fields,
    }


def test_a_rule_is_added_with_its_minutes_in_seconds(owner_client, alpha):
    channel = NotificationChannelFactory(farm=alpha.farm)
    response = owner_client.post(
        "/alerts/rules/add/",
        _rule_form(
            farm=alpha.farm.pk,
            threshold="90",
            grace_minutes="5",
            window_minutes="15",
            cooldown_minutes="30",
            channels=[channel.pk],
        ),
    )
    assert response.status_code == 302, response.content.decode()
    rule = AlertRule.objects.get(farm=alpha.farm, kind="test_temperature")
    assert (rule.threshold, rule.grace_s, rule.window_s, rule.cooldown_s) == (90, 300, 900, 1800)
    assert list(rule.channels.all()) == [channel]


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"threshold": "500"}, "threshold", "from 30 to 110"),
        ({"kind": "no_such_kind"}, "kind", "valid choice"),
        ({"kind": "test_offline", "threshold": "1"}, "threshold", "takes no threshold"),
        ({"target": "object"}, "target_id", "Name the group's or the object's id"),
    ],
)
def test_the_rule_form_refuses_what_a_rule_cannot_be_and_saves_nothing(
    owner_client, alpha, fields, field, words
):
    response = owner_client.post("/alerts/rules/add/", _rule_form(farm=alpha.farm.pk, **fields))
    assert response.status_code == 400
    assert words in " ".join(response.context["form"].errors[field])
    assert not AlertRule.objects.exists()


def test_a_rule_takes_only_its_own_farms_channels(owner_client, alpha, bravo):
    theirs = NotificationChannelFactory(farm=bravo.farm)
    response = owner_client.post(
        "/alerts/rules/add/", _rule_form(farm=alpha.farm.pk, channels=[theirs.pk])
    )
    assert response.status_code == 400
    assert not AlertRule.objects.exists()


def test_a_rule_is_edited_and_deleted(owner_client, rule):
    response = owner_client.post(
        f"/alerts/rules/{rule.pk}/edit/", _rule_form(threshold="70", severity="critical")
    )
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.threshold, rule.severity) == (70, "critical")
    bad = owner_client.post(f"/alerts/rules/{rule.pk}/edit/", _rule_form(threshold="5"))
    assert bad.status_code == 400
    rule.refresh_from_db()
    assert rule.threshold == 70
    assert owner_client.post(f"/alerts/rules/{rule.pk}/delete/").status_code == 302
    assert not AlertRule.objects.filter(pk=rule.pk).exists()


def test_the_rule_form_shows_each_kinds_unit_and_defaults(owner_client, alpha):
    html = owner_client.get("/alerts/rules/add/").content.decode()
    assert "GPU too hot (test)" in html
    assert "alerts above 80°C; threshold 30 to 110°C" in html
    assert "yes or no: no threshold" in html


def test_another_farms_rules_and_channels_are_404(intruder_client, alpha, rule):
    channel = NotificationChannelFactory(farm=alpha.farm)
    alert = _alert(rule)
    for url in (
        f"/alerts/rules/{rule.pk}/edit/",
        f"/alerts/channels/{channel.pk}/edit/",
    ):
        assert intruder_client.get(url).status_code == 404
    for url in (
        f"/alerts/rules/{rule.pk}/delete/",
        f"/alerts/channels/{channel.pk}/delete/",
        f"/alerts/channels/{channel.pk}/test/",
        f"/alerts/{alert.pk}/acknowledge/",
    ):
        assert intruder_client.post(url).status_code == 404
    assert alert.message not in intruder_client.get("/alerts/").content.decode()
    assert AlertRule.objects.filter(pk=rule.pk).exists()


@pytest.mark.parametrize(
    ("kind", "target"),
    [("email", "not an address"), ("webhook", "ftp://hooks.example.com/x"), ("webhook", "")],
)
def test_the_channel_form_refuses_a_bad_target_and_saves_nothing(owner_client, alpha, kind, target):
    response = owner_client.post(
        "/alerts/channels/add/",
        {"farm": alpha.farm.pk, "name": "ops", "kind": kind, "target": target, "enabled": "on"},
    )
    assert response.status_code == 400
    # The words are alerts.services.channels.channel_problem's (or the required field's).
    assert response.context["form"].errors["target"]
    assert not NotificationChannel.objects.exists()


def test_a_channels_token_is_never_shown(owner_client, alpha):
    response = owner_client.post(
        "/alerts/channels/add/",
        {"farm": alpha.farm.pk, "name": "hook", "kind": "webhook", "target": HOOK,
         "secret": "s3cret-signing", "enabled": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    channel = NotificationChannel.objects.get(name="hook")
    assert channel.target == HOOK

    listing = owner_client.get("/alerts/channels/").content.decode()
    assert HOOK_TOKEN not in listing
    assert "hooks.example.com" in listing  # masked, not hidden
    edit = owner_client.get(f"/alerts/channels/{channel.pk}/edit/").content.decode()
    assert HOOK_TOKEN not in edit and "s3cret-signing" not in edit

    # Left blank on edit, the target and the secret are kept.
    response = owner_client.post(
        f"/alerts/channels/{channel.pk}/edit/",
        {"name": "hook renamed", "kind": "webhook", "target": "", "secret": "", "enabled": "on"},
    )
    assert response.status_code == 302
    channel.refresh_from_db()
    assert (channel.name, channel.target, channel.secret) == (
        "hook renamed",
        HOOK,
        "s3cret-signing",
    )


def test_the_channels_page_shows_a_failing_channel_and_what_its_test_gave(
    owner_client, alpha, monkeypatch
):
    channel = NotificationChannelFactory(
        farm=alpha.farm, failing=True, failures=5, last_error="SMTP 550 mailbox unavailable"
    )
    html = owner_client.get("/alerts/channels/").content.decode()
    assert "failing" in html and "SMTP 550 mailbox unavailable" in html

    tested = []

    def send_test(channel):  # alerts.services.channels.send_test's contract: (ok, detail)
        tested.append(channel)
        return False, "connection refused by mail.example.com"

    monkeypatch.setattr("alerts.views.send_test", send_test)
    response = owner_client.post(f"/alerts/channels/{channel.pk}/test/", follow=True)
    assert tested == [channel]
    assert "failed: connection refused by mail.example.com" in response.content.decode()
    assert owner_client.post(f"/alerts/channels/{channel.pk}/delete/").status_code == 302
    assert not NotificationChannel.objects.exists()


def test_object_pages_show_their_open_alerts(owner_client, alpha, rule):
    offline = AlertRuleFactory(farm=alpha.farm, kind="test_offline")
    gpu = alpha.gpus[1]
    rig_alert = _alert(offline, object_type="rig", object_id=alpha.rig.pk, message="rig down now")
    gpu_alert = _alert(rule, object_type="gpu", object_id=gpu.pk, message="GPU 1 at 91 °C")
    _alert(rule, object_type="gpu", object_id=gpu.pk + 1000, message="someone else's GPU")
    _alert(
        rule, object_type="gpu", object_id=alpha.gpus[2].pk, state=Alert.State.RESOLVED,
        dedupe=None, resolved_at=timezone.now(), message="resolved already",
    )  # fmt: skip
    pool_alert = _alert(
        rule, object_type="pool_account", object_id=alpha.pool_account.pk, message="no payout"
    )

    rig_page = owner_client.get(f"/rigs/{alpha.rig.pk}/").content.decode()
    assert rig_alert.message in rig_page and gpu_alert.message in rig_page
    assert "someone else's GPU" not in rig_page and "resolved already" not in rig_page
    gpu_page = owner_client.get(f"/rigs/gpus/{gpu.pk}/").content.decode()
    assert gpu_alert.message in gpu_page and rig_alert.message not in gpu_page
    pool_page = owner_client.get(f"/pools/{alpha.pool_account.pk}/").content.decode()
    assert pool_alert.message in pool_page


def test_the_validator_page_shows_its_open_alerts(owner_client, alpha, rule):
    from tests.factories import ValidatorFactory

    validator = ValidatorFactory(farm=alpha.farm)
    alert = _alert(rule, object_type="validator", object_id=validator.pk, message="missed 3")
    html = owner_client.get(f"/validators/{validator.pk}/").content.decode()
    assert alert.message in html


def test_the_overview_lists_open_alerts(owner_client, rule):
    alert = _alert(rule, message="GPU 3 at 95 °C")
    html = owner_client.get("/").content.decode()
    assert 'id="overview-alerts"' in html and alert.message in html


def test_an_action_goes_back_only_to_this_site(owner_client, rule):
    alert = _alert(rule)
    for elsewhere in ("https://evil.example/", "//evil.example/", "/\\evil.example/"):
        response = owner_client.post(f"/alerts/{alert.pk}/acknowledge/", {"next": elsewhere})
        assert response.url == "/alerts/"
