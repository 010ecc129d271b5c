"""Figures whose source has stopped are rendered stale, never as current: the rule
(rigs.services.freshness) and what the pages render before any live event arrives."""

from datetime import timedelta

import pytest
from django.utils import timezone

from rigs.models import Gpu, Rig
from rigs.services.freshness import figures_stale, stale_after_s


def rig_seen(seconds_ago, status=Rig.Status.ONLINE, cadence_s=30):
    now = timezone.now()
    return Rig(
        status=status, cadence_s=cadence_s, last_seen_at=now - timedelta(seconds=seconds_ago)
    )


@pytest.mark.parametrize(
    ("seconds_ago", "status", "stale"),
    [
        (5, Rig.Status.ONLINE, False),
        (5, Rig.Status.DEGRADED, False),
        (89, Rig.Status.ONLINE, False),
        (91, Rig.Status.ONLINE, True),  # silent for 3 cadences: stale before the sweep says so
        (5, Rig.Status.OFFLINE, True),
        (5, Rig.Status.UNREACHABLE, True),
    ],
)
def test_the_rule(seconds_ago, status, stale):
    assert figures_stale(rig_seen(seconds_ago, status)) is stale


def test_a_rig_that_never_reported_has_nothing_stale():
    assert figures_stale(Rig(status=Rig.Status.NEW, cadence_s=30)) is False


def test_a_gpu_silent_on_a_reporting_rig_is_stale():
    rig = rig_seen(5)
    assert figures_stale(rig, last_seen_at=timezone.now() - timedelta(minutes=5)) is True
    assert stale_after_s(rig) == 90


def make_offline(world):
    now = timezone.now()
    Rig.objects.filter(pk=world.rig.pk).update(
        status=Rig.Status.OFFLINE,
        status_reason="Nothing received for 90 s (3 reporting intervals).",
        last_seen_at=now - timedelta(minutes=3),
        last_sample_at=now - timedelta(minutes=3),
        hashrate_hs=240e6,
        gpus_reporting=4,
    )
    Gpu.objects.filter(rig=world.rig).update(
        last_seen_at=now - timedelta(minutes=3), hashrate_hs=60e6, temperature_c=61.0
    )


def row_of(html, rig):
    start = html.index(f'data-rig="{rig.pk}"')
    return html[html.rindex("<tr", 0, start) : html.index("</tr>", start)]


@pytest.mark.parametrize("url", ["/rigs/", "/"])
def test_an_offline_rig_row_keeps_its_figures_marked_stale_with_its_reason(
    alpha, owner_client, url
):
    make_offline(alpha)
    row = row_of(owner_client.get(url).content.decode(), alpha.rig)
    assert 'class="live-source stale"' in row
    assert "240.00 MH/s" in row and "4 / 4" in row
    assert "stale, as of" in row
    assert 'data-field="status_reason">Nothing received for 90 s' in row
    assert "3 min ago" in row and 'data-ago="' in row
    assert 'data-stale-after-s="90"' in row


def test_a_current_rig_row_is_not_stale_and_has_an_empty_reason_line_to_fill(alpha, owner_client):
    Rig.objects.filter(pk=alpha.rig.pk).update(
        status=Rig.Status.ONLINE, status_reason="", last_seen_at=timezone.now()
    )
    row = row_of(owner_client.get("/rigs/").content.decode(), alpha.rig)
    assert 'class="live-source"' in row
    # Present though empty, so that a status event's reason has a line to go to.
    assert '<div class="sub reason" data-field="status_reason"></div>' in row


def test_the_rig_page_marks_its_figures_stale(alpha, owner_client):
    make_offline(alpha)
    html = owner_client.get(f"/rigs/{alpha.rig.pk}/").content.decode()
    assert 'id="rig-live" class="live-source stale"' in html
    assert 'id="rig-hashrate" data-figure>240.00 MH/s' in html
    assert 'id="rig-last-seen-ago" data-ago="' in html


def test_the_gpu_pages_mark_a_stopped_gpus_figures_stale(alpha, owner_client):
    make_offline(alpha)
    gpu = alpha.gpus[0]
    html = owner_client.get(f"/rigs/gpus/{gpu.pk}/").content.decode()
    assert 'id="gpu-live" class="live-source stale"' in html
    listing = owner_client.get("/rigs/gpus/").content.decode()
    row = listing[listing.index(f'data-gpu="{gpu.pk}"') :]
    assert row.startswith(f'data-gpu="{gpu.pk}" class="live-source stale"')
