"""Rig status from the time its telemetry last arrived."""

import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ethdash import live, registry
from ethdash.db import bulk_update_columns
from rigs.models import Rig
from rigs.services.ingest import status_event

# Unreachable rigs are left alone: their poll error says more than "offline" would.
REPORTING = (Rig.Status.ONLINE, Rig.Status.DEGRADED)


def mark_offline_rigs(*, now=None):
    """Marks offline every online or degraded rig silent for 3 of its cadences, once: rows are
    claimed with SKIP LOCKED, so concurrent sweeps on several workers never both flip (and
    announce) the same rig. Returns the ids it marked."""
    now = now or timezone.now()
    started = time.perf_counter()
    with transaction.atomic():
        stale = list(
            Rig.objects.select_for_update(skip_locked=True)
            .filter(status__in=REPORTING, stale_at__lt=now)
            .only("id", "farm_id", "status", "cadence_s", "status_changed_at", "status_reason")
        )
        if not stale:
            return []
        events = []
        for rig in stale:
            silence = rig.cadence_s * settings.ETHDASH_OFFLINE_AFTER_CADENCES
            rig.previous_status = rig.status
            rig.status = Rig.Status.OFFLINE
            rig.status_changed_at = now
            rig.status_reason = f"Nothing received for {silence} s (3 reporting intervals)."
            events.append((rig.farm_id, status_event(rig, rig.previous_status, rig.status, now,
                                                     reason=rig.status_reason)))  # fmt: skip
        # One statement however many rigs went quiet at once (a farm's uplink failing).
        bulk_update_columns(stale, ["status", "status_changed_at", "status_reason"])
        marked = {}
        for farm_id, event in events:
            live.push(farm_id, event)
            marked.setdefault(farm_id, []).append(event["id"])
        # Once per farm: its listeners (the alert evaluation) run on commit, so an offline
        # alert's grace runs from the moment the rig was declared offline.
        for farm_id, rig_ids in marked.items():
            registry.stored(farm_id, "rig", rig_ids, since=started)
    return [rig.pk for rig in stale]
