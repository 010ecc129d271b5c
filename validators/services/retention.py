"""Retention: imperfect-epoch rows and the farm's per-epoch totals are kept for
ETHDASH_VALIDATOR_EPOCH_RETENTION_DAYS; day rows, proposals, sync duties, withdrawals and status
changes are kept for good (they are what income reports and histories are made of)."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from validators.models import BeaconNode, EpochSummary, ValidatorEpoch


def cutoff_epochs(*, now=None) -> dict[int, int]:
    """Per farm, the first epoch still kept."""
    now = now or timezone.now()
    keep_from = now - timedelta(days=settings.ETHDASH_VALIDATOR_EPOCH_RETENTION_DAYS)
    out = {}
    for node in BeaconNode.objects.filter(genesis_time__isnull=False).order_by("farm", "priority"):
        if node.farm_id in out:
            continue
        seconds = keep_from.timestamp() - node.genesis_time
        out[node.farm_id] = max(0, int(seconds // (node.seconds_per_slot * node.slots_per_epoch)))
    return out


def purge_expired(*, now=None) -> dict:
    deleted = {"epochs": 0, "summaries": 0}
    for farm_id, first_kept in cutoff_epochs(now=now).items():
        deleted["epochs"] += ValidatorEpoch.objects.filter(
            validator__farm_id=farm_id, epoch__lt=first_kept
        ).delete()[0]
        deleted["summaries"] += EpochSummary.objects.filter(
            farm_id=farm_id, epoch__lt=first_kept
        ).delete()[0]
    return deleted
