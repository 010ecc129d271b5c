"""Whether a rig's newest figures still come from a live source. The pages render figures
whose source has stopped as stale (greyed, "as of" their time), never as current; the browser
keeps the same judgement as time passes (static/js/format.js)."""

from django.conf import settings
from django.utils import timezone

from rigs.models import Rig

# The source has stopped: the sweep found the rig silent, or its miner API fails.
STOPPED = (Rig.Status.OFFLINE, Rig.Status.UNREACHABLE)


def stale_after_s(rig) -> int:
    """Silence after which the rig's figures are stale: the offline sweep's threshold."""
    return rig.cadence_s * settings.ETHDASH_OFFLINE_AFTER_CADENCES


def figures_stale(rig, *, last_seen_at=None, now=None) -> bool:
    """True when the rig is offline or unreachable, or nothing arrived within
    `stale_after_s` (the sweep may not have run yet). `last_seen_at`: a device's own, where the
    figures are a device's."""
    if rig.current_status in STOPPED:
        return True
    seen = last_seen_at or rig.last_seen_at
    if seen is None:
        return False  # never reported: there are no figures to call stale
    now = now or timezone.now()
    return (now - seen).total_seconds() > stale_after_s(rig)
