"""What each GPU and rig delivers and costs, from the hourly rollups of the last 24 hours.

- efficiency H/J: average hashrate over average power (H/s per W is H per J);
- energy per day: average measured power × 86,400 s, in J;
- cost per day: that energy in kWh × the rig's electricity price (else the farm's);
- share quality: rejected and stale shares as a percentage of all shares submitted, and invalid
  ones as a percentage of all shares found (submitted + invalid), from the miners' cumulative
  counters (a counter going back is a miner restart, not negative shares); a rig's come from its
  own counters (the miner's totals, else its devices' sums), a GPU's from the GPU's;
- uptime: the share of the window for which samples arrived at the rig's cadence.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.utils import timezone

from rigs.limits import finite_or_none
from rigs.models import GpuRollup, Resolution, RigRollup

DAY_S = 86400
J_PER_KWH = 3.6e6


@dataclass
class Figures:
    hashrate_hs: float | None = None
    power_w: float | None = None
    efficiency_hj: float | None = None
    energy_j_per_day: float | None = None
    cost_per_day: Decimal | None = None
    rejected_pct: float | None = None
    stale_pct: float | None = None
    invalid_pct: float | None = None
    uptime_pct: float | None = None


def counter_increase(values):
    """Total increase of a cumulative counter; a drop means the miner restarted from zero."""
    total, previous = 0, None
    for value in values:
        if value is None:
            continue
        if previous is not None:
            total += value - previous if value >= previous else value
        previous = value
    return total


def _weighted(rows, field):
    pairs = [(getattr(r, field), r.samples) for r in rows if getattr(r, field) is not None]
    weight = sum(n for _, n in pairs)
    return finite_or_none(sum(v * n for v, n in pairs) / weight) if weight else None


def _figures(rows, price_per_kwh, *, shares=True):
    figures = Figures(
        hashrate_hs=_weighted(rows, "hashrate_avg"), power_w=_weighted(rows, "power_avg")
    )
    # Figures of in-range rollups stay finite (rigs.limits); checked after the arithmetic all
    # the same, so a page never shows, nor a Decimal is made of, an infinity.
    if figures.hashrate_hs is not None and figures.power_w:
        figures.efficiency_hj = finite_or_none(figures.hashrate_hs / figures.power_w)
    figures.energy_j_per_day = finite_or_none(
        figures.power_w * DAY_S if figures.power_w is not None else None
    )
    if figures.energy_j_per_day is not None and price_per_kwh is not None:
        kwh = Decimal(str(figures.energy_j_per_day / J_PER_KWH))
        try:
            figures.cost_per_day = (kwh * price_per_kwh).quantize(Decimal("0.01"))
        except InvalidOperation:  # past a Decimal's 28 digits, which no in-range power reaches
            figures.cost_per_day = None
    if shares:
        _share_quality(figures, [rows])
    return figures


def _share_quality(figures, series):
    """Sets the share percentages from the counters of one or more rollup series (a rig's own,
    or each of its GPUs'), summing each series' increase."""

    def increase(field):
        return sum(counter_increase(getattr(r, field) for r in rows) for rows in series)

    accepted, rejected = increase("shares_accepted_last"), increase("shares_rejected_last")
    stale, invalid = increase("shares_stale_last"), increase("shares_invalid_last")
    submitted = accepted + rejected + stale
    if submitted:
        figures.rejected_pct = 100 * rejected / submitted
        figures.stale_pct = 100 * stale / submitted
    if submitted + invalid:
        figures.invalid_pct = 100 * invalid / (submitted + invalid)


def gpu_figures(gpus, *, now=None):
    """{gpu_id: Figures} over the last 24 hours, for GPUs with their rig and farm loaded."""
    now = now or timezone.now()
    rows = defaultdict(list)
    queryset = GpuRollup.objects.filter(
        gpu__in=gpus, resolution=Resolution.HOUR, ts__gte=now - timedelta(hours=24)
    ).order_by("ts")
    for row in queryset:
        rows[row.gpu_id].append(row)
    return {gpu.pk: _figures(rows[gpu.pk], gpu.rig.price_per_kwh) for gpu in gpus}


def rig_figures(rigs, *, now=None, days=1):
    """{rig_id: Figures} over the last `days` days, with uptime. Share quality comes from the
    rig's own counters; rollups from before the rig kept them fall back to its GPUs' sums."""
    now = now or timezone.now()
    since = now - timedelta(days=days)
    rig_rows, gpu_rows = defaultdict(list), defaultdict(list)
    for row in RigRollup.objects.filter(
        rig__in=rigs, resolution=Resolution.HOUR, ts__gte=since
    ).order_by("ts"):
        rig_rows[row.rig_id].append(row)
    for row in (
        GpuRollup.objects.filter(gpu__rig__in=rigs, resolution=Resolution.HOUR, ts__gte=since)
        .select_related("gpu")
        .order_by("ts")
    ):
        gpu_rows[(row.gpu.rig_id, row.gpu_id)].append(row)
    result = {}
    for rig in rigs:
        own = rig_rows[rig.pk]
        figures = _figures(own, rig.price_per_kwh, shares=False)
        if any(r.shares_accepted_last is not None for r in own):
            _share_quality(figures, [own])
        else:
            _share_quality(
                figures, [rows for (rig_id, _), rows in gpu_rows.items() if rig_id == rig.pk]
            )
        figures.uptime_pct = _uptime_pct(rig, [r.samples for r in own], since, now)
        result[rig.pk] = figures
    return result


def _uptime_pct(rig, samples_per_hour, since, now):
    """The share of [since, now] (from the rig's creation, if later) its hourly rollups' sample
    counts cover at the rig's cadence."""
    window_start = max(since, rig.created_at)
    hours = max((now - window_start).total_seconds() / 3600, 1 / 60)
    covered = sum(min(1.0, samples * rig.cadence_s / 3600) for samples in samples_per_hour)
    return min(100.0, 100 * covered / hours)


def rig_uptime_pct(rig, *, days, now=None):
    """rig_figures' uptime alone, from the rig's hourly sample counts only: a rig page's 30-day
    uptime read 30 days of every GPU's hourly rollups as model instances to throw them away."""
    now = now or timezone.now()
    since = now - timedelta(days=days)
    samples = RigRollup.objects.filter(
        rig=rig, resolution=Resolution.HOUR, ts__gte=since
    ).values_list("samples", flat=True)
    return _uptime_pct(rig, list(samples), since, now)
