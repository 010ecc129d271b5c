from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Alert
from alerts.services import actions
from alerts.services.rules import kind_summary, rule_problems
from alerts.tests.conftest import OFFLINE, TEMPERATURE
from tests.factories import AlertFactory


def test_a_sound_rule_has_no_problem():
    assert rule_problems(kind="test_temperature", threshold=90, target="all", target_id=None) == {}
    assert (
        rule_problems(kind="test_temperature", threshold=None, target="object", target_id=4) == {}
    )
    assert rule_problems(kind="test_offline", threshold=None, target="group", target_id=2) == {}


@pytest.mark.parametrize(
    ("kind", "threshold", "target", "target_id", "field"),
    [
        ("nope", None, "all", None, "kind"),
        ("test_temperature", 29.9, "all", None, "threshold"),
        ("test_temperature", 110.1, "all", None, "threshold"),
        ("test_temperature", float("nan"), "all", None, "threshold"),
        ("test_offline", 0, "all", None, "threshold"),
        ("test_offline", None, "group", None, "target_id"),
        ("test_offline", None, "all", 3, "target_id"),
    ],
)
def test_what_a_rule_cannot_be(kind, threshold, target, target_id, field):
    """One problem each, named by its field."""
    problems = rule_problems(kind=kind, threshold=threshold, target=target, target_id=target_id)
    assert list(problems) == [field]


def test_the_kind_summary_names_unit_limits_and_defaults():
    assert kind_summary(TEMPERATURE) == "alerts above 80°C; threshold 30 to 110°C; warning"
    assert kind_summary(OFFLINE) == "yes or no: no threshold; critical"


def test_the_first_acknowledgement_stands(db, alpha, bravo):
    alert = AlertFactory(rule__farm=alpha.farm)
    first = timezone.now()
    actions.acknowledge(alert, alpha.owner, now=first)
    actions.acknowledge(alert, bravo.owner, now=first + timedelta(minutes=5))
    alert.refresh_from_db()
    assert (alert.acknowledged_by, alert.acknowledged_at) == (alpha.owner, first)


def test_a_mute_lasts_its_minutes_and_no_longer_than_a_week(db, alpha):
    alert = AlertFactory(rule__farm=alpha.farm)
    now = timezone.now()
    actions.mute(alert, 1440, now=now)
    assert Alert.objects.get(pk=alert.pk).muted_until == now + timedelta(days=1)
    for minutes in (0, 10081):
        with pytest.raises(ValueError):
            actions.mute(alert, minutes, now=now)
    assert Alert.objects.get(pk=alert.pk).muted_until == now + timedelta(days=1)


def test_pending_alerts_are_not_listed_and_open_ones_come_first(db, alpha):
    now = timezone.now()
    rule_kwargs = {"rule__farm": alpha.farm}
    resolved = AlertFactory(
        **rule_kwargs, state=Alert.State.RESOLVED, dedupe=None, opened_at=now, resolved_at=now
    )
    opened = AlertFactory(rule=resolved.rule, object_id=2, opened_at=now - timedelta(days=1))
    AlertFactory(rule=resolved.rule, object_id=3, state=Alert.State.PENDING, opened_at=None)
    listed = actions.open_first(actions.visible(Alert.objects.all()))
    assert list(listed) == [opened, resolved]


def test_a_hysteresis_is_a_distance_not_a_direction():
    rule = {"kind": "test_temperature", "threshold": 90, "target": "all", "target_id": None}
    assert rule_problems(**rule, hysteresis=-1) == {
        "hysteresis": "A distance back past the threshold: 0 or more."
    }
    assert rule_problems(**rule, hysteresis=0) == {}
