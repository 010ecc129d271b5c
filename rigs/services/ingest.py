"""Storing rig telemetry: the only writer of GPU and rig samples.

Two entry points share everything after parsing:
- ingest_telemetry: a batch of GPU samples from an agent (ethdash's own format), any instants;
- store_readings: whole-rig snapshots (a polled miner API or a Hive OS agent's stats), many rigs
  at once, taken at one instant.
"""

import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from ethdash import live, registry
from ethdash.db import bulk_update_columns, insert_rows
from ethdash.timeseries import iso
from rigs import limits
from rigs.formats import MinerError, hiveos
from rigs.models import Gpu, GpuSample, Rig, RigSample
from rigs.services import status_rules

SAMPLE_FIELDS = (
    "hashrate_hs",
    "temperature_c",
    "memory_temperature_c",
    "fan_pct",
    "power_w",
    "shares_accepted",
    "shares_rejected",
    "shares_stale",
    "shares_invalid",
)
SHARE_FIELDS = ("shares_accepted", "shares_rejected", "shares_stale", "shares_invalid")
RIG_TOTAL_FIELDS = (
    "hashrate_hs",
    "hashrate_reported_hs",
    "hashrate_devices_hs",
    "power_w",
    "temperature_max_c",
    "gpus_reporting",
    *SHARE_FIELDS,
)
RIG_INFO_FIELDS = ("miner", "miner_version", "algorithm", "pool_url")
BACKFILL_AFTER = timedelta(minutes=5)
BATCH = 1000


def sample_time_problem(ts, now):
    """Why a sample's timestamp cannot be stored, or None when it can."""
    if ts > now + timedelta(seconds=settings.ETHDASH_MAX_FUTURE_S):
        limit = settings.ETHDASH_MAX_FUTURE_S
        return f"is more than {limit} s in the future (server time {iso(now)})."
    retention = timedelta(days=settings.ETHDASH_RAW_RETENTION_DAYS)
    if ts < now - retention:
        return f"is older than the raw-sample retention of {retention.days} days."
    return None


@dataclass(frozen=True)
class IngestResult:
    received: int
    status: str


def ingest_telemetry(*, rig, samples, now=None):
    """Stores a validated batch of GPU samples of one rig in one transaction.

    `samples` are dicts with `gpu` (a Gpu of this rig), `ts` and SAMPLE_FIELDS. A sample whose
    (gpu, ts) is already stored is skipped, so a resent batch stores nothing twice. The rig's
    totals per instant are recomputed from the stored GPU samples (a batch may complete an
    instant another one started), the rig's status is re-evaluated, and the farm's browsers get
    the newest figures after commit.
    """
    now = now or timezone.now()
    if not samples:
        return IngestResult(received=0, status=rig.status)
    started = time.perf_counter()
    with transaction.atomic():
        locked = Rig.objects.select_for_update().get(pk=rig.pk)
        _insert_gpu_samples(samples)
        totals = _rig_totals_from_stored(
            locked, min(s["ts"] for s in samples), max(s["ts"] for s in samples)
        )
        _upsert_rig_samples(totals)
        gpus_known = locked.gpus.count()
        previous_newest = locked.last_sample_at
        fresh = [s for s in samples if previous_newest is None or s["ts"] > previous_newest]
        newest_per_gpu = list(_newest_per_gpu(fresh))
        _update_current_gpus([(s["gpu"], s["ts"], s) for s in newest_per_gpu])
        events = [_gpu_event(s["gpu"], s["ts"], s) for s in newest_per_gpu]
        _apply_report(locked, newest=totals[-1], gpus_known=gpus_known, now=now)
        _mark_backfill(locked, min(s["ts"] for s in samples), now)
        if fresh:
            events.append(_rig_sample_event(locked))
        events.extend(_status_events(locked, now))
        Rig.objects.filter(pk=locked.pk).update(**_report_fields(locked))
        live.push(locked.farm_id, *events)
        registry.stored(locked.farm_id, "rig", [locked.pk], since=started)
    return IngestResult(received=len(samples), status=locked.status)


_SAMPLE_COLUMNS = ("gpu_id", "ts", *SAMPLE_FIELDS)


def _insert_gpu_samples(samples):
    """INSERTs a batch's GPU samples, skipping any (gpu, ts) already stored. The values are
    validated numbers already: Django's bulk_create built a model instance and prepared each of
    an 80-sample push's 880 values one by one, a quarter of the push's CPU (bench/load.py)."""
    fields = [GpuSample._meta.get_field(name) for name in _SAMPLE_COLUMNS]
    adapt_ts = connection.ops.adapt_datetimefield_value
    insert_rows(
        GpuSample,
        [field.column for field in fields],
        [(s["gpu"].pk, adapt_ts(s["ts"]), *(s.get(f) for f in SAMPLE_FIELDS)) for s in samples],
        array_types=[field.db_type(connection) for field in fields],
        on_conflict='ON CONFLICT ("gpu_id", "ts") DO NOTHING',
    )


def ingest_hiveos(*, rig, body, now=None):
    """Stores a Hive OS agent's stats body pushed for `rig`, as a whole-rig reading taken now.
    Raises MinerError, storing nothing, when the body is not one the agent builds, or when a
    figure in it is outside its limits (rigs.limits): the sender is wrong, and is told what."""
    # The agent's own temp/fan/power arrays follow its detection order, known from its hello.
    reading = hiveos.parse_stats(
        body,
        detected_buses=rig.hive_detected_buses,
        cpu_model=(rig.hive_hello or {}).get("cpu_model", ""),
    )
    problems = limits.reading_problems(reading)
    if problems:
        shown = "; ".join(problems[:5]) + (
            f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        )
        raise MinerError("bad_answer", f"Figures outside their limits, nothing stored: {shown}.")
    store_readings([(rig, reading)], now=now)
    Rig.objects.filter(pk=rig.pk).update(hive_host=hiveos.parse_host(body))
    rig.refresh_from_db(fields=["status"])
    return IngestResult(received=len(reading.gpus), status=rig.status)


def store_readings(readings, *, now=None):
    """Stores whole-rig readings taken at `now`: [(rig, RigReading)], for any number of rigs, in
    one transaction with a fixed number of queries. GPUs are matched by PCI bus, else by index,
    and created when new; uptime going back counts a restart. Re-stored instants are skipped."""
    now = now or timezone.now()
    if not readings:
        return
    for _, reading in readings:
        # One miner's junk figure is dropped, as "off" is: it must not fail the batch's insert.
        # (A Hive OS body was refused whole before, so this changes nothing of it.)
        limits.drop_out_of_range(reading)
    rig_ids = [rig.pk for rig, _ in readings]
    started = time.perf_counter()
    with transaction.atomic():
        rigs = {
            r.pk: r for r in Rig.objects.select_for_update().filter(pk__in=rig_ids).order_by("pk")
        }
        gpus_by_rig = {}
        for gpu in Gpu.objects.filter(rig_id__in=rig_ids).order_by("index"):
            gpus_by_rig.setdefault(gpu.rig_id, []).append(gpu)
        matched, created = {}, []
        for rig, reading in readings:
            known = gpus_by_rig.setdefault(rig.pk, [])
            matched[rig.pk] = _match_gpus(rigs[rig.pk], known, reading, created)
        # New GPUs (a rig's first reading, a card added) in one insert for the whole cycle.
        Gpu.objects.bulk_create(created, batch_size=BATCH)
        samples, totals, events = [], [], {}
        for rig, reading in readings:
            locked = rigs[rig.pk]
            pairs = matched[rig.pk]
            if locked.last_sample_at is not None and now <= locked.last_sample_at:
                continue
            # A GPU the miner lists without a hashrate yet (xmrig's windows are null just after
            # start) is reporting, but has no sample to store. One the miner reports as off is
            # stored at 0 H/s (the adapters set it so).
            samples += [
                GpuSample(gpu=gpu, ts=now, **{f: getattr(g, f, None) for f in SAMPLE_FIELDS})
                for gpu, g in pairs
                if g.hashrate_hs is not None
            ]
            total = _rig_totals_from_reading(locked, now, reading, [g for _, g in pairs])
            totals.append(total)
            _apply_info(locked, reading)
            reporting = {gpu.pk for gpu, _ in pairs}
            known = gpus_by_rig[rig.pk]
            missing = [_gpu_label(g) for g in known if g.pk not in reporting]
            off = [_off_label(gpu, g) for gpu, g in pairs if g.off]
            _apply_report(
                locked,
                newest=total,
                gpus_known=len(known),
                now=now,
                missing=missing,
                off=off,
                noun="devices" if any(g.kind == Gpu.Kind.CPU for g in known) else "GPUs",
            )
            locked.last_poll_at = now
            locked.last_error = ""
            locked.last_error_kind = ""
            farm_events = events.setdefault(locked.farm_id, [])
            farm_events += [_gpu_event(gpu, now, g) for gpu, g in pairs]
            farm_events.append(_rig_sample_event(locked))
            farm_events += _status_events(locked, now)
        GpuSample.objects.bulk_create(samples, ignore_conflicts=True)
        _upsert_rig_samples(totals)
        _update_current_gpus([(gpu, now, g) for pairs in matched.values() for gpu, g in pairs])
        bulk_update_columns(
            rigs.values(),
            [*_REPORT_FIELDS, *RIG_INFO_FIELDS, "uptime_s", "restarts", "last_poll_at",
             "last_error", "last_error_kind"],
        )  # fmt: skip
        for farm_id, farm_events in events.items():
            live.push(farm_id, *farm_events)
        _announce_stored(rigs.values(), since=started)


def record_poll_failures(failures, *, now=None):
    """Marks rigs whose miner API failed as unreachable, with the error the rig page shows:
    [(rig, MinerError)]. Samples are untouched; the offline sweep does not apply to them."""
    now = now or timezone.now()
    if not failures:
        return
    errors = {rig.pk: error for rig, error in failures}
    started = time.perf_counter()
    with transaction.atomic():
        rigs = list(Rig.objects.select_for_update().filter(pk__in=errors).order_by("pk"))
        events = {}
        for rig in rigs:
            error = errors[rig.pk]
            rig.last_poll_at = now
            rig.last_error = str(error)[:500]
            rig.last_error_kind = error.kind
            rig.last_error_at = now
            rig._previous_status = rig.status
            if rig.status != Rig.Status.UNREACHABLE:
                rig.status = Rig.Status.UNREACHABLE
                rig.status_changed_at = now
            rig.status_reason = f"Miner API: {error}"[:300]
            events.setdefault(rig.farm_id, []).extend(_status_events(rig, now))
        bulk_update_columns(
            rigs,
            ["last_poll_at", "last_error", "last_error_kind", "last_error_at", "status",
             "status_changed_at", "status_reason"],
        )  # fmt: skip
        for farm_id, farm_events in events.items():
            live.push(farm_id, *farm_events)
        _announce_stored(rigs, since=started)


def _announce_stored(rigs, *, since):
    """The core's stored hook, once per farm of the batch (its listeners run on commit)."""
    by_farm = {}
    for rig in rigs:
        by_farm.setdefault(rig.farm_id, []).append(rig.pk)
    for farm_id, rig_ids in by_farm.items():
        registry.stored(farm_id, "rig", rig_ids, since=since)


# -- shared steps -----------------------------------------------------------------------------

_REPORT_FIELDS = (
    "rollups_stale_from",
    "last_seen_at",
    "stale_at",
    "last_sample_at",
    *RIG_TOTAL_FIELDS,
    "status",
    "status_reason",
    "status_changed_at",
)


def _report_fields(rig):
    return {f: getattr(rig, f) for f in _REPORT_FIELDS}


def _apply_report(rig, *, newest, gpus_known, now, missing=(), off=(), noun="GPUs"):
    """Updates the rig in memory from its newest totals: figures, last seen, status."""
    rig._previous_status = rig.status
    rig.last_seen_at = now
    rig.stale_at = now + timedelta(seconds=rig.cadence_s * settings.ETHDASH_OFFLINE_AFTER_CADENCES)
    if rig.last_sample_at is None or newest.ts >= rig.last_sample_at:
        rig.last_sample_at = newest.ts
        for field in RIG_TOTAL_FIELDS:
            setattr(rig, field, getattr(newest, field))
    status, reason = status_rules.evaluate(
        hashrate_hs=rig.hashrate_hs,
        median_24h_hs=rig.hashrate_median_24h_hs,
        gpus_reporting=rig.gpus_reporting or 0,
        gpus_known=gpus_known,
        missing=missing,
        off=off,
        noun=noun,
    )
    if status != rig.status:
        rig.status = status
        rig.status_changed_at = now
    rig.status_reason = reason


def _mark_backfill(rig, oldest, now):
    # The periodic rollup step rebuilds only the latest buckets; older ones an agent's buffered
    # batch touched are rebuilt once, from here.
    if oldest < now - BACKFILL_AFTER:
        current = rig.rollups_stale_from
        rig.rollups_stale_from = oldest if current is None else min(current, oldest)


def _apply_info(rig, reading):
    rig.miner = reading.miner[:60]
    rig.miner_version = reading.version[:60]
    rig.algorithm = reading.algorithm[:60]
    rig.pool_url = reading.pool_url[:255]
    if reading.uptime_s is not None:
        if rig.uptime_s is not None and reading.uptime_s < rig.uptime_s:
            rig.restarts += 1
        rig.uptime_s = reading.uptime_s


def _match_gpus(rig, known, reading, created):
    """Pairs each GPU of the reading with its Gpu row, by PCI bus where the miner gives one, else
    by index; new GPUs are appended to `created` (saved by the caller in one insert), and a GPU
    whose index changed is followed."""
    by_bus = {g.pci_bus: g for g in known if g.pci_bus is not None}
    by_index = {g.index: g for g in known}
    pairs, moved, seen, created_here = [], [], set(), []
    for g in reading.gpus:
        gpu = by_bus.get(g.pci_bus) if g.pci_bus is not None else None
        if gpu is None and g.index in by_index and g.index not in seen:
            candidate = by_index[g.index]
            # A device without a bus (the CPU) never takes over a GPU that has one.
            if (g.pci_bus is None or candidate.pci_bus is None) and (
                candidate.kind == g.kind or candidate.pci_bus is None
            ):
                gpu = candidate
        if gpu is None or gpu.pk in seen or gpu in created_here:
            gpu = _new_gpu(rig, known, g)
            created.append(gpu)
            created_here.append(gpu)
        else:
            changed = _refresh_gpu(gpu, g)
            if gpu.index != g.index and g.index not in {x.index for x in known if x is not gpu}:
                gpu.index = g.index
                changed = True
            if changed:
                moved.append(gpu)
        if gpu.pk is not None:
            seen.add(gpu.pk)
        pairs.append((gpu, g))
    if moved:
        Gpu.objects.bulk_update(
            moved, ["index", "kind", "pci_bus", "name", "vendor", "memory_mb"], batch_size=BATCH
        )
    return pairs


def _new_gpu(rig, known, g):
    taken = {x.index for x in known}
    index = g.index if g.index not in taken else max(taken) + 1
    gpu = Gpu(
        rig=rig,
        index=index,
        kind=g.kind,
        pci_bus=g.pci_bus,
        name=g.name[:120],
        vendor=g.vendor[:40],
        memory_mb=g.memory_mb,
    )
    known.append(gpu)
    return gpu


def _refresh_gpu(gpu, g):
    changed = False
    for field, value in (
        ("kind", g.kind),
        ("pci_bus", g.pci_bus),
        ("name", g.name[:120]),
        ("vendor", g.vendor[:40]),
        ("memory_mb", g.memory_mb),
    ):
        if value not in (None, "") and getattr(gpu, field) != value:
            setattr(gpu, field, value)
            changed = True
    return changed


GPU_CURRENT_FIELDS = ("hashrate_hs", "temperature_c", "memory_temperature_c", "fan_pct", "power_w")


def _update_current_gpus(items):
    """[(gpu, ts, values)] -> the GPUs' newest figures and last_seen_at, in one query."""
    gpus = []
    for gpu, ts, values in items:
        gpu.last_seen_at = ts
        for field in GPU_CURRENT_FIELDS:
            setattr(gpu, field, _value(values, field))
        gpus.append(gpu)
    if gpus:
        bulk_update_columns(gpus, ["last_seen_at", *GPU_CURRENT_FIELDS])


def _gpu_label(gpu):
    return gpu.label + (f" (bus {gpu.pci_bus})" if gpu.pci_bus is not None else "")


def _off_label(gpu, reading):
    return _gpu_label(gpu) + (f": {reading.off_reason}" if reading.off_reason else "")


def _rig_totals_from_stored(rig, since, until):
    # From the stored rows rather than the batch, so a batch that brings the rest of an instant's
    # GPUs, or repeats some, still leaves the correct total.
    rows = (
        GpuSample.objects.filter(gpu__rig_id=rig.pk, ts__gte=since, ts__lte=until)
        .values("ts")
        .annotate(
            total_hashrate=Sum("hashrate_hs"),
            total_power=Sum("power_w"),
            # "Hottest GPU": a CPU device's temperature is no GPU's.
            max_temperature=Max("temperature_c", filter=Q(gpu__kind="gpu")),
            gpus=Count("id"),
            **{f"sum_{f}": Sum(f) for f in SHARE_FIELDS},
        )
        .order_by("ts")
    )
    # ethdash's own agent format sends devices only: the rig's hashrate is their sum. Sums of
    # in-range figures stay finite (rigs.limits); checked after the arithmetic all the same.
    return [
        RigSample(
            rig_id=rig.pk,
            ts=t["ts"],
            hashrate_hs=limits.finite_or_none(t["total_hashrate"]) or 0.0,
            hashrate_devices_hs=limits.finite_or_none(t["total_hashrate"]),
            power_w=limits.finite_or_none(t["total_power"]),
            temperature_max_c=t["max_temperature"],
            gpus_reporting=t["gpus"],
            **{f: limits.count_or_none(t[f"sum_{f}"]) for f in SHARE_FIELDS},
        )
        for t in rows
    ]


def _rig_totals_from_reading(rig, ts, reading, gpus):
    """The rig's figures from one reading: the miner's own totals kept as given, beside the sums
    over its devices; each share counter is the miner's total where it gives one, else the sum
    of its per-device counters."""

    # A device on another algorithm than the rig's miner (hiveos: MINER2 on the CPU) is shown
    # with its own figures but not added in.
    counted = [g for g in gpus if not g.other_algorithm]

    def device_sum(field):
        values = [getattr(g, field) for g in counted if getattr(g, field) is not None]
        # Finite for in-range figures (rigs.limits); checked after the arithmetic all the same.
        return limits.finite_or_none(sum(values)) if values else None

    def miner_else_devices(field):
        value = getattr(reading, field)
        return value if value is not None else limits.count_or_none(device_sum(field))

    # The rig's hottest GPU: a CPU's temperature is the host's, not a card's.
    temperatures = [
        g.temperature_c for g in gpus if g.temperature_c is not None and g.kind != Gpu.Kind.CPU
    ]
    devices_hs = device_sum("hashrate_hs")
    return RigSample(
        rig_id=rig.pk,
        ts=ts,
        # What the miner and Hive OS show as the rig's hashrate (docs/miners.md says why).
        hashrate_hs=_first_not_none(reading.hashrate_hs, devices_hs, 0.0),
        hashrate_reported_hs=reading.hashrate_hs,
        hashrate_devices_hs=devices_hs,
        power_w=device_sum("power_w"),
        temperature_max_c=max(temperatures) if temperatures else None,
        gpus_reporting=sum(1 for g in gpus if not g.off),
        **{f: miner_else_devices(f) for f in SHARE_FIELDS},
    )


def _first_not_none(*values):
    return next(v for v in values if v is not None)


def _upsert_rig_samples(rows):
    RigSample.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["rig", "ts"],
        update_fields=list(RIG_TOTAL_FIELDS),
    )


def _newest_per_gpu(samples):
    newest = {}
    for s in samples:
        current = newest.get(s["gpu"].pk)
        if current is None or s["ts"] > current["ts"]:
            newest[s["gpu"].pk] = s
    return newest.values()


def _value(source, field):
    return source.get(field) if isinstance(source, dict) else getattr(source, field, None)


def _gpu_event(gpu, ts, values):
    return {
        "type": "gpu.sample",
        "id": gpu.pk,
        "rig": gpu.rig_id,
        "index": gpu.index,
        "kind": gpu.kind,
        "ts": iso(ts),
        **{f: _value(values, f) for f in SAMPLE_FIELDS},
    }


def _rig_sample_event(rig):
    return {
        "type": "rig.sample",
        "id": rig.pk,
        "ts": iso(rig.last_sample_at),
        "last_seen_at": iso(rig.last_seen_at),
        "status": rig.status,
        "status_reason": rig.status_reason,
        **{f: getattr(rig, f) for f in RIG_TOTAL_FIELDS},
    }


def _status_events(rig, now):
    previous = getattr(rig, "_previous_status", rig.status)
    if previous == rig.status:
        return []
    return [status_event(rig, previous, rig.status, now, reason=rig.status_reason)]


def status_event(rig, previous, status, ts, reason=""):
    return {
        "type": "rig.status",
        "id": rig.pk,
        "ts": iso(ts),
        "status": str(status),
        "previous": str(previous),
        "reason": reason,
    }
