"""A rig past its stale_at reads as offline on every page and in the API before the offline
sweep has run (a dead worker never makes a silent rig look online), and reading writes nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from rigs.models import Rig
from rigs.services.freshness import figures_stale


def _online(rig, *, stale_in_s, status=Rig.Status.ONLINE):
    now = timezone.now()
    Rig.objects.filter(pk=rig.pk).update(
        status=status,
        status_reason="",
        status_changed_at=now - timedelta(hours=1),
        last_seen_at=now - timedelta(seconds=100),
        stale_at=now + timedelta(seconds=stale_in_s),
        hashrate_hs=240e6,
        power_w=480.0,
    )


@pytest.fixture
def reader(alpha):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('read')}")
    return client


@pytest.mark.parametrize("status", [Rig.Status.ONLINE, Rig.Status.DEGRADED])
def test_a_rig_past_its_stale_at_reads_offline_and_nothing_is_written(alpha, status):
    _online(alpha.rig, stale_in_s=-100, status=status)
    rig = Rig.objects.get(pk=alpha.rig.pk)

    assert rig.current_status == Rig.Status.OFFLINE
    assert rig.get_current_status_display() == "Offline"
    assert rig.current_status_reason == "Nothing received for 90 s (3 reporting intervals)."
    assert rig.current_status_changed_at == rig.stale_at
    assert figures_stale(rig)
    assert Rig.objects.get(pk=alpha.rig.pk).status == status  # the sweep's to write


def test_a_rig_before_its_stale_at_reads_as_stored(alpha):
    _online(alpha.rig, stale_in_s=30)
    rig = Rig.objects.get(pk=alpha.rig.pk)

    assert rig.current_status == Rig.Status.ONLINE
    assert rig.current_status_changed_at == rig.status_changed_at


@pytest.mark.parametrize("status", [Rig.Status.NEW, Rig.Status.UNREACHABLE, Rig.Status.OFFLINE])
def test_other_statuses_are_never_rewritten_on_read(alpha, status):
    _online(alpha.rig, stale_in_s=-100, status=status)
    assert Rig.objects.get(pk=alpha.rig.pk).current_status == status


def test_the_api_shows_a_silent_rig_offline(reader, alpha):
    _online(alpha.rig, stale_in_s=-100)

    for body in (
        reader.get("/api/v1/rigs/").json()["results"][0],
        reader.get(f"/api/v1/rigs/{alpha.rig.pk}/").json(),
    ):
        assert body["status"] == "offline"
        assert body["status_reason"].startswith("Nothing received for 90 s")


def test_the_pages_show_a_silent_rig_offline(owner_client, alpha):
    _online(alpha.rig, stale_in_s=-100)

    detail = owner_client.get(f"/rigs/{alpha.rig.pk}/").content.decode()
    assert 'class="status status-offline" id="rig-status">Offline<' in detail
    listing = owner_client.get("/rigs/").content.decode()
    assert 'data-status="offline"' in listing
    assert "status status-online" not in listing
    overview = owner_client.get("/").content.decode()
    assert '<span id="rigs-online">0</span> / 1' in overview


def test_the_overview_counts_a_rig_before_its_stale_at_online(owner_client, alpha):
    _online(alpha.rig, stale_in_s=30)

    overview = owner_client.get("/").content.decode()
    assert '<span id="rigs-online">1</span> / 1' in overview
