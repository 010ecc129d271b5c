"""What a rig's latest figures say about its health. Pure functions, no database."""

from rigs.models import Rig

DEGRADED_HASHRATE_SHARE = 0.8


def evaluate(
    *, hashrate_hs, median_24h_hs, gpus_reporting, gpus_known, missing=(), off=(), noun="GPUs"
):
    """(status, reason) for a rig that just reported: degraded when a device the miner listed is
    off (named in `off`), when fewer devices report than it has (`missing` names those that
    did not), or when its hashrate is under 80 % of its own 24-hour median; online otherwise."""
    if off or (gpus_known and gpus_reporting < gpus_known):
        details = []
        if missing:
            details.append(f"not reporting: {', '.join(missing)}")
        if off:
            details.append(f"off in the miner: {', '.join(off)}")
        detail = f" ({'; '.join(details)})" if details else ""
        return Rig.Status.DEGRADED, f"{gpus_reporting} of {gpus_known} {noun} reporting{detail}."
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
