"""What a rig's latest figures say about its health. Pure functions, no database."""

from rigs.models import Rig

DEGRADED_HASHRATE_SHARE = 0.8


def evaluate(*, hashrate_hs, median_24h_hs, gpus_reporting, gpus_known, missing=()):
    """(status, reason) for a rig that just reported: degraded when its hashrate is under 80 %
    of its own 24-hour median, or fewer GPUs report than it has; online otherwise."""
    if gpus_known and gpus_reporting < gpus_known:
        names = ", ".join(missing)
        detail = f" (not reporting: {names})" if names else ""
        return Rig.Status.DEGRADED, f"{gpus_reporting} of {gpus_known} GPUs reporting{detail}."
    if (
        median_24h_hs
        and hashrate_hs is not None
        and hashrate_hs < DEGRADED_HASHRATE_SHARE * median_24h_hs
    ):
        share = hashrate_hs / median_24h_hs
        return (
            Rig.Status.DEGRADED,
            f"Hashrate {hashrate_hs / 1e6:.1f} MH/s is {share:.0%} of its 24-hour median "
            f"({median_24h_hs / 1e6:.1f} MH/s).",
        )
    return Rig.Status.ONLINE, ""
