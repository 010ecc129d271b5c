"""The evaluation engine on a kind of our own: an alert opens once after its grace, resolves past
the hysteresis, says so once per change, a flap within the grace says nothing, an event is
alerted once per occurrence, and two evaluations of the same store open one alert."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from alerts.models import Alert, AlertRule, Notification, NotificationChannel
from alerts.services import evaluate as engine
from alerts.services.defaults import default_rule
from ethdash import registry
from ethdash.registry import AlertKind, Observation

READINGS: dict[int, float] = {}
EVENTS: list[Observation] = []


def observe(farm_id, ids, params):
    return [
        Observation(object_id=i, name=f"thing {i}", value=v, url=f"/things/{i}/", groups=(7,))
        for i, v in READINGS.items()
        if ids is None or i in ids
    ]


HOT = AlertKind(
    name="test_hot",
    label="Too hot",
    topic="thing",
    object_type="thing",
    observe=observe,
    unit=" °C",
    threshold=85.0,
    limits=(0.0, 150.0),
    hysteresis=3.0,
)
BANG = AlertKind(
    name="test_bang",
    label="Bang",
    topic="thing",
    object_type="thing",
    observe=lambda farm_id, ids, params: list(EVENTS),
    event=True,
    severity="info",
)


@pytest.fixture(autouse=True)
def kinds():
    READINGS.clear()
    EVENTS.clear()
    registry.register_alert_kind(HOT)
    registry.register_alert_kind(BANG)
    yield
    registry._alert_kinds.pop(HOT.name, None)
    registry._alert_kinds.pop(BANG.name, None)


@pytest.fixture
def farm(alpha):
    NotificationChannel.objects.create(
        farm=alpha.farm, name="hook", kind="webhook", target="https://example.com/h"
    )
    return alpha.farm


def rule(farm, kind=HOT, **fields):
    made = default_rule(farm.pk, kind)
    for name, value in fields.items():
        setattr(made, name, value)
    made.save()
    return made


def run(farm, at, ids=None):
    return engine.evaluate(farm.pk, [HOT, BANG], ids, now=at)


def sent(change):
    return Notification.objects.filter(change=change, suppressed="").count()


T0 = timezone.now().replace(microsecond=0)


def test_an_alert_opens_once_and_resolves_once_past_the_hysteresis(farm):
    rule(farm)
    READINGS[1] = 90.0
    assert [a.object_id for a in run(farm, T0).opened] == [1]
    assert run(farm, T0 + timedelta(seconds=10)).opened == []
    alert = Alert.objects.get()
    assert (alert.state, alert.value, alert.url) == ("open", 90.0, "/things/1/")
    assert alert.message == "Too hot: thing 1: 90 °C (above 85 °C)"
    READINGS[1] = 83.0  # under the threshold, not past the 3 °C hysteresis: still open
    assert run(farm, T0 + timedelta(seconds=20)).resolved == []
    READINGS[1] = 82.0
    assert [a.pk for a in run(farm, T0 + timedelta(seconds=30)).resolved] == [alert.pk]
    assert run(farm, T0 + timedelta(seconds=40)).resolved == []
    assert (sent("opened"), sent("resolved")) == (1, 1)
    # The value that tripped it is kept, the one it resolved at stored beside it.
    alert.refresh_from_db()
    assert (alert.state, alert.value, alert.resolved_value) == ("resolved", 90.0, 82.0)
    # Hot again: a new alert, said again.
    READINGS[1] = 95.0
    assert len(run(farm, T0 + timedelta(seconds=50)).opened) == 1
    assert Alert.objects.filter(state="open").count() == 1 and sent("opened") == 2


def test_a_flap_within_the_grace_period_says_nothing(farm):
    rule(farm, grace_s=300)
    for second, value in [(0, 90.0), (60, 80.0), (120, 91.0), (180, 70.0), (240, 99.0)]:
        READINGS[1] = value
        assert run(farm, T0 + timedelta(seconds=second)).opened == []
    assert Notification.objects.count() == 0
    assert Alert.objects.filter(state="open").count() == 0
    # Held for the whole grace: opens, counting from when it was first seen this time.
    assert run(farm, T0 + timedelta(seconds=500)).opened == []
    assert len(run(farm, T0 + timedelta(seconds=540)).opened) == 1
    assert sent("opened") == 1


def test_consecutive_evaluations_grace(farm):
    rule(farm, grace_count=3)
    READINGS[1] = 90.0
    assert run(farm, T0).opened == [] and run(farm, T0).opened == []
    assert len(run(farm, T0).opened) == 1


def test_targets_a_group_or_one_object_and_leaves_others_alone(farm):
    rule(farm, target=AlertRule.Target.OBJECT, target_id=2)
    READINGS.update({1: 99.0, 2: 99.0})
    assert [a.object_id for a in run(farm, T0).opened] == [2]
    AlertRule.objects.update(target=AlertRule.Target.GROUP, target_id=8)
    assert run(farm, T0).opened == []


def test_only_the_objects_a_store_touched_are_evaluated(farm):
    rule(farm)
    READINGS.update({1: 99.0, 2: 99.0})
    assert [a.object_id for a in run(farm, T0, ids=[2]).opened] == [2]
    # Object 2 is no longer observed at all (deleted): its alert resolves; 1 is left alone.
    del READINGS[2]
    assert len(run(farm, T0, ids=[2]).resolved) == 1
    assert not Alert.objects.filter(object_id=1).exists()


def test_an_event_is_alerted_once_per_occurrence(farm):
    rule(farm, kind=BANG)
    EVENTS.append(Observation(object_id=5, name="thing 5", value=1.0, key="slot:100"))
    assert len(run(farm, T0).events) == 1
    assert run(farm, T0).events == []
    EVENTS.append(Observation(object_id=5, name="thing 5", value=1.0, key="slot:132"))
    assert len(run(farm, T0).events) == 1
    assert sent("event") == 2
    assert Alert.objects.filter(state="open").count() == 0


def test_mute_and_daily_cap_record_without_sending(farm):
    rule(farm, daily_cap=1)
    READINGS.update({1: 99.0, 2: 99.0})
    run(farm, T0)
    assert sent("opened") == 1
    assert Notification.objects.filter(suppressed="cap").count() == 1
    alert = Alert.objects.get(object_id=1)
    Alert.objects.filter(pk=alert.pk).update(muted_until=T0 + timedelta(hours=1))
    READINGS[1] = 50.0
    run(farm, T0 + timedelta(seconds=5))
    # The cap counts the day's messages: the resolution of 1 is over it too.
    assert sent("resolved") == 0


def test_a_farms_channels_are_used_when_a_rule_names_none(farm, bravo):
    NotificationChannel.objects.create(
        farm=bravo.farm, name="other farm", kind="webhook", target="https://example.com/b"
    )
    rule(farm)
    READINGS[1] = 99.0
    run(farm, T0)
    assert list(Notification.objects.values_list("channel__name", flat=True)) == ["hook"]


def test_default_rules_cover_every_kind_once(farm):
    from alerts.services.defaults import ensure_default_rules

    made = ensure_default_rules(farm.pk)
    assert {r.kind for r in made} >= {HOT.name, BANG.name}
    assert ensure_default_rules(farm.pk) == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_two_workers_evaluating_the_same_store_open_one_alert():
    from tests.factories import make_farm

    world = make_farm("Race")
    # Committed here, so the farm got its default rules (one of this kind among them).
    assert AlertRule.objects.filter(farm=world.farm, kind=HOT.name).count() == 1
    AlertRule.objects.filter(farm=world.farm).delete()
    NotificationChannel.objects.create(
        farm=world.farm, name="hook", kind="webhook", target="https://example.com/h"
    )
    rule(world.farm)
    READINGS.update(dict.fromkeys(range(1, 31), 99.0))
    barrier = threading.Barrier(2)
    outcomes = []

    def worker():
        try:
            barrier.wait()
            outcomes.append(engine.evaluate(world.farm.pk, [HOT], None, now=T0))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(len(o.opened) for o in outcomes) == 30
    assert Alert.objects.filter(state="open").count() == 30
    assert Notification.objects.filter(change="opened").count() == 30


def test_ids_of_another_kind_of_object_never_resolve_what_was_not_observed(farm):
    """A store names rigs (the topic's ids); a kind watching their GPUs must not read a rig id
    as a GPU's: GPU 3's alert stays open when rig 3 is stored and GPU 3 is not observed."""
    gpu_hot = AlertKind(
        name="test_gpu_hot", label="GPU hot", topic="rig", object_type="gpu",
        observe=observe, threshold=85.0,
    )  # fmt: skip
    rule(farm, kind=gpu_hot)
    READINGS[3] = 99.0
    assert len(engine.evaluate(farm.pk, [gpu_hot], None, now=T0).opened) == 1
    del READINGS[3]
    READINGS[9] = 20.0
    outcome = engine.evaluate(farm.pk, [gpu_hot], [3], now=T0)
    assert outcome.resolved == [] and Alert.objects.get().state == "open"
