"""Rig status from the time its telemetry last arrived."""

from django.db import transaction
from django.utils import timezone

from ethdash import live
from rigs.models import Rig
from rigs.services.ingest import status_event


def mark_offline_rigs(*, now=None):
    """Marks offline every online rig that has not reported for 3 of its cadences, once: rows
    are claimed with SKIP LOCKED, so concurrent sweeps on several workers never both flip (and
    announce) the same rig. Returns the ids it marked."""
    now = now or timezone.now()
    with transaction.atomic():
        stale = list(
            Rig.objects.select_for_update(skip_locked=True)
            .filter(status=Rig.Status.ONLINE, stale_at__lt=now)
            .only("id", "farm_id", "status")
        )
        if not stale:
            return []
        Rig.objects.filter(pk__in=[rig.pk for rig in stale]).update(
            status=Rig.Status.OFFLINE, status_changed_at=now
        )
        for rig in stale:
            live.push(rig.farm_id, status_event(rig, rig.status, Rig.Status.OFFLINE, now))
    return [rig.pk for rig in stale]
