"""Rig status from the time its telemetry last arrived."""

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ethdash import live
from rigs.models import Rig
from rigs.services.ingest import status_event

# Unreachable rigs are left alone: their poll error says more than "offline" would.
REPORTING = (Rig.Status.ONLINE, Rig.Status.DEGRADED)


def mark_offline_rigs(*, now=None):
    """Marks offline every online or degraded rig silent for 3 of its cadences, once: rows are
    claimed with SKIP LOCKED, so concurrent sweeps on several workers never both flip (and
    announce) the same rig. Returns the ids it marked."""
    now = now or timezone.now()
    with transaction.atomic():
        stale = list(
            Rig.objects.select_for_update(skip_locked=True)
            .filter(status__in=REPORTING, stale_at__lt=now)
            .only("id", "farm_id", "status", "cadence_s")
        )
        if not stale:
            return []
        for rig in stale:
            silence = rig.cadence_s * settings.ETHDASH_OFFLINE_AFTER_CADENCES
            reason = f"Nothing received for {silence} s (3 reporting intervals)."
            Rig.objects.filter(pk=rig.pk).update(
                status=Rig.Status.OFFLINE, status_changed_at=now, status_reason=reason
            )
            live.push(
                rig.farm_id, status_event(rig, rig.status, Rig.Status.OFFLINE, now, reason=reason)
            )
    return [rig.pk for rig in stale]
