"""What a rig and its GPUs can be watched for: the alert kinds this app lends the core
(registered in RigsConfig.ready). Each observe() reads this app's own models only, set-based (a
query or two however many rigs a batch touched), scoped to the farm and to the rigs of `ids`
when given: for every kind here, GPU kinds included, `ids` are rig ids, as the stored hook
names what ingest touched.

A kind observes every object it watches in scope, with a value on the good side when nothing
is wrong, so an alert resolves on the store that shows its object fine again. An object the
kind cannot judge (a rig offline has no current hashrate) is left out: the core then resolves a
rig kind's alert of a rig the store named, and leaves a GPU kind's alert as it was until the
GPU reports again (its `ids` name rigs, not GPUs).
"""

import statistics
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from ethdash.registry import AlertKind, Observation, register_alert_kind
from rigs.models import Gpu, GpuRollup, Resolution, Rig, RigRollup, RigSample

TOPIC = "rig"
# A rig whose figures are current: the offline sweep and a failing poll stop them.
REPORTING = (Rig.Status.ONLINE, Rig.Status.DEGRADED)
MEDIAN_WINDOW = timedelta(hours=1)
# Fewer shares than this in the window say nothing about the pool's verdicts.
MIN_SHARES = 10


def _rigs(farm_id, ids):
    rigs = Rig.objects.filter(farm_id=farm_id)
    return rigs if ids is None else rigs.filter(pk__in=ids)


RIG_COLUMNS = (
    "id", "name", "status", "status_reason", "last_seen_at", "protocol", "last_error",
    "last_error_kind", "hashrate_hs", "gpus_reporting", "last_sample_at",
)  # fmt: skip


def _rig_rows(farm_id, ids, params):
    """The rigs in scope with every column the rig kinds read (and `known`, their devices),
    read once per evaluation however many kinds ask (params["memo"], see AlertKind): nine
    kinds reading a rig each after every push cost twice the push's own store."""
    memo = params.get("memo", {})
    key = ("rigs", farm_id, None if ids is None else tuple(ids))
    if key not in memo:
        memo[key] = list(
            _rigs(farm_id, ids).annotate(known=Count("gpus")).only(*RIG_COLUMNS).order_by("pk")
        )
    return memo[key]


def _rig_url(rig_id):
    return reverse("rigs:detail", args=[rig_id])


def _gpu_url(gpu_id):
    return reverse("rigs:gpu-detail", args=[gpu_id])


def _gpu_name(gpu):
    return f"{gpu.rig.name} / {gpu.label}"


GPU_COLUMNS = (
    "id", "index", "kind", "last_seen_at",
    "rig__id", "rig__name", "rig__cadence_s", "rig__last_sample_at",
)  # fmt: skip


GPU_FIGURES = ("hashrate_hs", "temperature_c", "memory_temperature_c")


def _current_gpus(farm_id, ids, params):
    """The GPUs (not CPU devices) of the farm's reporting rigs whose own figures are as new as
    their rig's latest reading allows: a card that stopped reporting keeps its last figures,
    which say nothing about it now (the devices-lost kind speaks for it). Read once per
    evaluation for the four GPU kinds (see _rig_rows)."""
    memo = params.get("memo", {})
    key = ("gpus", farm_id, None if ids is None else tuple(ids))
    if key in memo:
        return memo[key]
    gpus = (
        Gpu.objects.filter(rig__farm_id=farm_id, kind=Gpu.Kind.GPU, rig__status__in=REPORTING)
        .select_related("rig")
        .only(*GPU_COLUMNS, *GPU_FIGURES)
        .order_by("rig_id", "index")
    )
    if ids is not None:
        gpus = gpus.filter(rig_id__in=ids)
    current = []
    for gpu in gpus:
        rig = gpu.rig
        if gpu.last_seen_at is None or rig.last_sample_at is None:
            continue
        stale_s = rig.cadence_s * settings.ETHDASH_OFFLINE_AFTER_CADENCES
        if (rig.last_sample_at - gpu.last_seen_at).total_seconds() > stale_s:
            continue
        current.append(gpu)
    memo[key] = current
    return current


# -- rig offline, rig unreachable ---------------------------------------------------------------


def observe_offline(farm_id, ids, params):
    """1 for a rig the offline sweep (rigs.services.status) declared offline, else 0. The sweep
    calls the stored hook for the rigs it marks, so the alert's grace runs from that moment."""
    for rig in _rig_rows(farm_id, ids, params):
        if rig.status == Rig.Status.NEW:
            continue
        offline = rig.status == Rig.Status.OFFLINE
        detail = ""
        if offline:
            seen = rig.last_seen_at
            detail = rig.status_reason + (
                f" Last seen {seen:%Y-%m-%d %H:%M:%S} UTC." if seen else ""
            )
        yield Observation(
            object_id=rig.pk, name=rig.name, value=1 if offline else 0,
            url=_rig_url(rig.pk), detail=detail,
        )  # fmt: skip


def observe_unreachable(farm_id, ids, params):
    """1 for a polled rig whose last poll of its miner API failed, else 0."""
    for rig in _rig_rows(farm_id, ids, params):
        if not rig.protocol:
            continue
        failing = bool(rig.last_error_kind)
        yield Observation(
            object_id=rig.pk, name=rig.name, value=1 if failing else 0,
            url=_rig_url(rig.pk), detail=rig.last_error if failing else "",
        )  # fmt: skip


# -- hashrate against its own median ------------------------------------------------------------


# A 1-hour median of 5-minute averages moves once a rollup lands (rigs.rollups, every 60 s): it
# is kept in the cache that long, so the evaluation after every push does not read the hour's
# rollups again (two queries of the nine kinds' seven; bench/alerts.py).
MEDIAN_CACHE_S = 60


def _medians(model, owner, owner_ids):
    """{owner id: median of its 5-minute average hashrates over the last hour}: from the cache,
    else in one query for those missing (an owner without rollups is remembered as None)."""
    keys = {owner_id: f"alerts:median:{owner}:{owner_id}" for owner_id in owner_ids}
    cached = cache.get_many(keys.values())
    found = {owner_id: cached[key] for owner_id, key in keys.items() if key in cached}
    missing = [owner_id for owner_id in owner_ids if owner_id not in found]
    if missing:
        values = defaultdict(list)
        rows = model.objects.filter(
            **{f"{owner}_id__in": missing},
            resolution=Resolution.FIVE_MINUTES,
            ts__gte=timezone.now() - MEDIAN_WINDOW,
        ).values_list(f"{owner}_id", "hashrate_avg")
        for owner_id, hashrate_hs in rows:
            values[owner_id].append(hashrate_hs)
        computed = {
            owner_id: statistics.median(values[owner_id]) if values[owner_id] else None
            for owner_id in missing
        }
        cache.set_many({keys[i]: m for i, m in computed.items()}, MEDIAN_CACHE_S)
        found.update(computed)
    return {owner_id: median for owner_id, median in found.items() if median is not None}


def _share_of_median(hashrate_hs, median_hs):
    return 100.0 * hashrate_hs / median_hs


def _mhs(hashrate_hs):
    return f"{hashrate_hs / 1e6:,.1f} MH/s"


def observe_rig_hashrate(farm_id, ids, params):
    """A reporting rig's current hashrate as a percentage of its own median over the last hour
    (of its 5-minute rollups); none for a rig without a median yet."""
    rigs = [
        rig
        for rig in _rig_rows(farm_id, ids, params)
        if rig.status in REPORTING and rig.hashrate_hs is not None
    ]
    medians = _medians(RigRollup, "rig", [rig.pk for rig in rigs])
    for rig in rigs:
        median_hs = medians.get(rig.pk)
        if not median_hs:
            continue
        yield Observation(
            object_id=rig.pk, name=rig.name, url=_rig_url(rig.pk),
            value=_share_of_median(rig.hashrate_hs, median_hs),
            detail=f"{_mhs(rig.hashrate_hs)} against a 1-hour median of {_mhs(median_hs)}",
        )  # fmt: skip


def observe_gpu_hashrate(farm_id, ids, params):
    """A GPU's current hashrate as a percentage of its own median over the last hour."""
    gpus = [g for g in _current_gpus(farm_id, ids, params) if g.hashrate_hs is not None]
    medians = _medians(GpuRollup, "gpu", [gpu.pk for gpu in gpus])
    for gpu in gpus:
        median_hs = medians.get(gpu.pk)
        if not median_hs:
            continue
        yield Observation(
            object_id=gpu.pk, name=_gpu_name(gpu), url=_gpu_url(gpu.pk),
            value=_share_of_median(gpu.hashrate_hs, median_hs),
            detail=f"{_mhs(gpu.hashrate_hs)} against a 1-hour median of {_mhs(median_hs)}",
        )  # fmt: skip


# -- devices ------------------------------------------------------------------------------------


def observe_devices_lost(farm_id, ids, params):
    """How many of the rig's known devices (GPUs, and the CPU where it mines) its latest reading
    did not report: listed by the miner and not off."""
    for rig in _rig_rows(farm_id, ids, params):
        if rig.status not in REPORTING or rig.gpus_reporting is None:
            continue
        missing = max(rig.known - rig.gpus_reporting, 0)
        yield Observation(
            object_id=rig.pk, name=rig.name, url=_rig_url(rig.pk), value=missing,
            detail=f"{rig.gpus_reporting} of {rig.known} devices reporting" if missing else "",
        )  # fmt: skip


def observe_gpu_temperature(farm_id, ids, params):
    for gpu in _current_gpus(farm_id, ids, params):
        if gpu.temperature_c is not None:
            yield Observation(
                object_id=gpu.pk, name=_gpu_name(gpu), url=_gpu_url(gpu.pk),
                value=gpu.temperature_c,
            )  # fmt: skip


def observe_gpu_memory_temperature(farm_id, ids, params):
    for gpu in _current_gpus(farm_id, ids, params):
        if gpu.memory_temperature_c is not None:
            yield Observation(
                object_id=gpu.pk, name=_gpu_name(gpu), url=_gpu_url(gpu.pk),
                value=gpu.memory_temperature_c,
            )  # fmt: skip


def observe_gpu_not_hashing(farm_id, ids, params):
    """1 for a GPU at 0 H/s in its rig's latest reading while the rig reports, else 0."""
    for gpu in _current_gpus(farm_id, ids, params):
        if gpu.hashrate_hs is not None:
            stopped = gpu.hashrate_hs <= 0
            yield Observation(
                object_id=gpu.pk, name=_gpu_name(gpu), url=_gpu_url(gpu.pk),
                value=1 if stopped else 0,
                detail="0 H/s while the rig is online" if stopped else "",
            )  # fmt: skip


# -- shares -------------------------------------------------------------------------------------


def observe_bad_shares(farm_id, ids, params):
    """Rejected and stale shares as a percentage of all shares the rig found over the last
    `window_s` of its own readings, from the cumulative counters it stores (RigSample.shares_*):
    the newest reading against the oldest one in the window (or the first since the miner
    restarted, its counters going back). None for a rig with fewer than `min_shares` shares
    counted."""
    window = timedelta(seconds=params.get("window_s") or 300)
    min_shares = params.get("min_shares", MIN_SHARES)
    rigs = [
        rig
        for rig in _rig_rows(farm_id, ids, params)
        if rig.status in REPORTING and rig.last_sample_at is not None
    ]
    if not rigs:
        return
    by_rig = {rig.pk: rig for rig in rigs}
    oldest = min(rig.last_sample_at for rig in rigs) - window
    first, last = {}, {}
    rows = (
        RigSample.objects.filter(rig_id__in=by_rig, ts__gte=oldest, shares_accepted__isnull=False)
        .order_by("rig_id", "ts")
        .values_list("rig_id", "ts", "shares_accepted", "shares_rejected", "shares_stale")
    )
    for rig_id, ts, *counters in rows:
        rig = by_rig[rig_id]
        if ts < rig.last_sample_at - window or ts > rig.last_sample_at:
            continue
        counters = [c or 0 for c in counters]
        previous = last.get(rig_id)
        # Counters going back: the miner restarted; count from its first reading since.
        if previous is None or any(c < p for c, p in zip(counters, previous[1], strict=True)):
            first[rig_id] = (ts, counters)
        last[rig_id] = (ts, counters)
    for rig_id, (since, before) in first.items():
        until, after = last[rig_id]
        accepted, rejected, stale = (b - a for a, b in zip(before, after, strict=True))
        total = accepted + rejected + stale
        if total < min_shares:
            continue
        rig = by_rig[rig_id]
        yield Observation(
            object_id=rig_id, name=rig.name, url=_rig_url(rig_id),
            value=100.0 * (rejected + stale) / total,
            detail=f"{rejected} rejected and {stale} stale of {total} shares in "
            f"{(until - since).total_seconds():.0f} s",
        )  # fmt: skip


KINDS = (
    AlertKind(
        name="rig_offline",
        label="Rig offline",
        topic=TOPIC,
        object_type="rig",
        observe=observe_offline,
        grace_s=120,
        severity="critical",
        periodic=True,
        help="Nothing received from the rig for 3 reporting intervals (the rig's offline "
        "status), for longer than the grace.",
    ),
    AlertKind(
        name="rig_unreachable",
        label="Rig unreachable",
        topic=TOPIC,
        object_type="rig",
        observe=observe_unreachable,
        grace_s=120,
        severity="critical",
        periodic=True,
        help="Polling the rig's miner API fails (timeout, refused, bad answer).",
    ),
    AlertKind(
        name="rig_hashrate_low",
        label="Rig hashrate low",
        topic=TOPIC,
        object_type="rig",
        observe=observe_rig_hashrate,
        unit="%",
        above=False,
        threshold=80.0,
        limits=(1.0, 100.0),
        hysteresis=5.0,
        grace_s=300,
        help="The rig's hashrate below this percentage of its own median over the last hour.",
    ),
    AlertKind(
        name="gpu_hashrate_low",
        label="GPU hashrate low",
        topic=TOPIC,
        object_type="gpu",
        observe=observe_gpu_hashrate,
        unit="%",
        above=False,
        threshold=80.0,
        limits=(1.0, 100.0),
        hysteresis=5.0,
        grace_s=300,
        help="A GPU's hashrate below this percentage of its own median over the last hour.",
    ),
    AlertKind(
        name="rig_devices_lost",
        label="Rig lost a device",
        topic=TOPIC,
        object_type="rig",
        observe=observe_devices_lost,
        unit=" devices",
        threshold=0.0,
        limits=(0.0, 32.0),
        grace_s=120,
        help="More devices than this missing from the rig's reading (a card lost or off).",
    ),
    AlertKind(
        name="gpu_temperature_high",
        label="GPU temperature high",
        topic=TOPIC,
        object_type="gpu",
        observe=observe_gpu_temperature,
        unit=" °C",
        threshold=85.0,
        limits=(40.0, 120.0),
        hysteresis=3.0,
        grace_s=60,
        help="A GPU's core temperature above this limit.",
    ),
    AlertKind(
        name="gpu_memory_temperature_high",
        label="GPU memory temperature high",
        topic=TOPIC,
        object_type="gpu",
        observe=observe_gpu_memory_temperature,
        unit=" °C",
        threshold=100.0,
        limits=(50.0, 130.0),
        hysteresis=4.0,
        grace_s=60,
        help="A GPU's memory (VRAM junction) temperature above this limit.",
    ),
    AlertKind(
        name="gpu_not_hashing",
        label="GPU not hashing",
        topic=TOPIC,
        object_type="gpu",
        observe=observe_gpu_not_hashing,
        grace_s=120,
        severity="critical",
        help="A GPU at 0 H/s while its rig is online.",
    ),
    AlertKind(
        name="rig_shares_bad",
        label="Rejected and stale shares",
        topic=TOPIC,
        object_type="rig",
        observe=observe_bad_shares,
        unit="%",
        threshold=5.0,
        limits=(0.1, 100.0),
        hysteresis=1.0,
        window_s=300,
        grace_s=60,
        params={"min_shares": MIN_SHARES},
        help="Rejected and stale shares above this percentage of the rig's shares over the "
        f"window (at least {MIN_SHARES} shares).",
    ),
)


def register():
    for kind in KINDS:
        register_alert_kind(kind)
