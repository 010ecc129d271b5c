"""A rig with no telemetry for 3 cadences turns offline, and back online when it reports."""

from datetime import timedelta

import pytest
from django.utils import timezone

from rigs.models import Rig
from rigs.services.status import mark_offline_rigs
from rigs.tasks import mark_offline_rigs as mark_offline_task
from tests.factories import sample_batch


@pytest.fixture
def pushed(monkeypatch):
    """The events sent to browsers, per farm, as they would leave after commit."""
    sent = []
    monkeypatch.setattr(
        "ethdash.live.send_now", lambda farm_id, events: sent.append((farm_id, events))
    )
    return sent


def _set_online(rig, *, stale_in_s):
    now = timezone.now()
    Rig.objects.filter(pk=rig.pk).update(
        status=Rig.Status.ONLINE, last_seen_at=now, stale_at=now + timedelta(seconds=stale_in_s)
    )


def test_stale_rig_turns_offline_once_with_an_event(
    alpha, pushed, django_capture_on_commit_callbacks
):
    _set_online(alpha.rig, stale_in_s=-1)

    with django_capture_on_commit_callbacks(execute=True):
        assert mark_offline_rigs() == [alpha.rig.pk]
    with django_capture_on_commit_callbacks(execute=True):
        assert mark_offline_rigs() == []

    assert Rig.objects.get(pk=alpha.rig.pk).status == Rig.Status.OFFLINE
    assert len(pushed) == 1
    farm_id, [event] = pushed[0]
    assert farm_id == alpha.farm.pk
    assert event | {"ts": None} == {
        "type": "rig.status",
        "id": alpha.rig.pk,
        "ts": None,
        "status": "offline",
        "previous": "online",
        "reason": "Nothing received for 90 s (3 reporting intervals).",
    }


def test_rig_within_its_cadences_stays_online(alpha, pushed):
    _set_online(alpha.rig, stale_in_s=30)
    assert mark_offline_rigs() == []
    assert Rig.objects.get(pk=alpha.rig.pk).status == Rig.Status.ONLINE


def test_new_rig_that_never_reported_is_left_alone(alpha):
    assert mark_offline_rigs() == []
    assert Rig.objects.get(pk=alpha.rig.pk).status == Rig.Status.NEW


def test_offline_after_three_cadences_of_silence(alpha, api, pushed):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('telemetry')}")
    api.post(f"/api/v1/rigs/{alpha.rig.pk}/telemetry/", sample_batch(), format="json")
    rig = Rig.objects.get(pk=alpha.rig.pk)

    assert rig.stale_at - rig.last_seen_at == timedelta(seconds=3 * rig.cadence_s)
    assert mark_offline_rigs(now=rig.stale_at - timedelta(seconds=1)) == []
    assert mark_offline_rigs(now=rig.stale_at + timedelta(seconds=1)) == [rig.pk]


def test_offline_rig_comes_back_online_with_an_event(
    alpha, api, pushed, django_capture_on_commit_callbacks
):
    Rig.objects.filter(pk=alpha.rig.pk).update(status=Rig.Status.OFFLINE)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('telemetry')}")

    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"/api/v1/rigs/{alpha.rig.pk}/telemetry/", sample_batch(), format="json")

    assert Rig.objects.get(pk=alpha.rig.pk).status == Rig.Status.ONLINE
    status_events = [e for _, events in pushed for e in events if e["type"] == "rig.status"]
    assert [(e["previous"], e["status"]) for e in status_events] == [("offline", "online")]


def test_celery_task_runs_the_sweep(alpha):
    _set_online(alpha.rig, stale_in_s=-1)
    mark_offline_task.apply()
    assert Rig.objects.get(pk=alpha.rig.pk).status == Rig.Status.OFFLINE


def test_backfill_is_stored_but_not_announced(
    alpha, api, pushed, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from rigs.models import GpuSample

    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('telemetry')}")
    url = f"/api/v1/rigs/{alpha.rig.pk}/telemetry/"
    with django_capture_on_commit_callbacks(execute=True):
        api.post(url, sample_batch(ticks=1), format="json")
    pushed.clear()
    old_start = timezone.now() - timedelta(minutes=10)

    with django_capture_on_commit_callbacks(execute=True):
        api.post(url, sample_batch(ticks=2, start=old_start), format="json")

    assert GpuSample.objects.count() == 4 * 3
    assert pushed == []
    rig = Rig.objects.get(pk=alpha.rig.pk)
    assert rig.last_sample_at > old_start + timedelta(minutes=5)
