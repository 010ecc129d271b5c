"""Rollups benchmark: the periodic rollup step (rigs.services.rollups.update_rollups, run by beat
every minute) over a farm's recent samples, on PostgreSQL.

    .venv/bin/python bench/rollups.py [--rigs 500] [--gpus 8] [--cadence-s 10] [--hours 3]

On PostgreSQL (DATABASE_URL, loopback only; its own database, --db, dropped at the end). The
samples are seeded with SQL (generate_series): --rigs rigs of --gpus GPUs, one GPU sample per
GPU and one rig sample per rig every --cadence-s seconds for the last --hours hours, ending now.
Then every bucket of that history is rolled up once (the backfill path: one rebuild per
resolution over the whole range), and the periodic step is timed --runs times (each rebuilds
the current and previous bucket of every resolution: the last 5 to 10 minutes of raw samples,
the last one to two hours of 5-minute rollups, the last one to two days of hourly ones).

The baseline, measured in the same run, is one plain aggregate over the raw samples the
periodic step reads (count and average hashrate of the last two 5-minute buckets, GPU and rig
samples): what merely reading those rows costs the database on this machine now. The last line
is one JSON object.
"""

import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402

log = harness.logger("rollups")


def parse_args():
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rigs", type=int, default=500)
    parser.add_argument("--gpus", type=int, default=8, help="GPUs per rig")
    parser.add_argument("--cadence-s", type=int, default=10, help="seconds between samples")
    parser.add_argument("--hours", type=float, default=3.0, help="hours of history")
    parser.add_argument("--runs", type=int, default=5, help="timed periodic steps")
    args = harness.parse_bench_args(parser, "ethdash_bench_rollups")
    if min(args.rigs, args.gpus, args.cadence_s, args.runs) < 1 or not 0 < args.hours <= 48:
        raise SystemExit("--rigs, --gpus, --cadence-s and --runs at least 1, --hours in (0, 48]")
    return args


def seed(args, now):
    """The farm, its rigs and GPUs, and the samples (SQL); returns (GPU rows, rig rows)."""
    from django.db import connection

    from accounts.models import Farm
    from rigs.models import Gpu, Rig

    farm = Farm.objects.create(name="bench")
    rigs = Rig.objects.bulk_create(Rig(farm=farm, name=f"rig-{i:05d}") for i in range(args.rigs))
    Gpu.objects.bulk_create(
        Gpu(rig=rig, index=index, name=f"GPU {index}") for rig in rigs for index in range(args.gpus)
    )
    start = now - timedelta(hours=args.hours)
    steps = int(args.hours * 3600 // args.cadence_s)
    with connection.cursor() as cursor:
        # Values vary by GPU and instant; temperature and power are sometimes missing, as a
        # card that stops reporting a sensor does.
        cursor.execute(
            """
            INSERT INTO rigs_gpusample (gpu_id, ts, hashrate_hs, temperature_c, power_w,
                fan_pct, shares_accepted, shares_rejected, shares_stale, shares_invalid)
            SELECT g.id, %s::timestamptz + make_interval(secs => s * %s),
                30e6 + (g.id * 7919 + s * 104729) %% 1000 * 1e4,
                CASE WHEN (g.id + s) %% 97 = 0 THEN NULL ELSE 50 + (g.id + s) %% 30 END,
                CASE WHEN (g.id + s) %% 89 = 0 THEN NULL ELSE 120 + (g.id * 3 + s) %% 60 END,
                40 + (g.id + s) %% 50, s, s / 100, s / 500, 0
            FROM rigs_gpu g CROSS JOIN generate_series(1, %s) AS s
            """,
            [start, args.cadence_s, steps],
        )
        gpu_rows = cursor.rowcount
        cursor.execute(
            """
            INSERT INTO rigs_rigsample (rig_id, ts, hashrate_hs, power_w, temperature_max_c,
                gpus_reporting, shares_accepted, shares_rejected, shares_stale, shares_invalid)
            SELECT r.id, %s::timestamptz + make_interval(secs => s * %s),
                %s * 30e6 + (r.id + s) %% 1000 * 1e4, %s * 150.0, 60 + (r.id + s) %% 20,
                %s, s * %s, s / 100, s / 500, 0
            FROM rigs_rig r CROSS JOIN generate_series(1, %s) AS s
            """,
            [start, args.cadence_s, args.gpus, args.gpus, args.gpus, args.gpus, steps],
        )
        rig_rows = cursor.rowcount
        cursor.execute("ANALYZE rigs_gpusample; ANALYZE rigs_rigsample")
    return start, gpu_rows, rig_rows


def baseline_s(now):
    """One plain aggregate over the raw rows the periodic step reads (the last two 5-minute
    buckets), GPU and rig samples."""
    from django.db import connection

    from rigs.services.rollups import bucket_start

    since = bucket_start(now, 300) - timedelta(seconds=300)
    began = time.perf_counter()
    with connection.cursor() as cursor:
        for table in ("rigs_gpusample", "rigs_rigsample"):
            cursor.execute(
                f"SELECT count(*), avg(hashrate_hs) FROM {table} WHERE ts >= %s AND ts <= %s",
                [since, now],
            )
            cursor.fetchall()
    return time.perf_counter() - began


def main():
    args = parse_args()
    with harness.django_bench_database(args.db, log, keep=args.keep_db):
        measure(args)


def measure(args):
    from django.db import connection
    from django.utils import timezone

    from rigs.models import GpuRollup, Resolution, RigRollup
    from rigs.services import rollups

    now = timezone.now()
    log(f"seeding {args.rigs} rigs x {args.gpus} GPUs, {args.hours} h at {args.cadence_s} s")
    start, gpu_rows, rig_rows = seed(args, now)
    log(f"{gpu_rows} GPU samples, {rig_rows} rig samples")

    began = time.perf_counter()
    for resolution in (Resolution.FIVE_MINUTES, Resolution.HOUR, Resolution.DAY):
        rollups.rebuild(resolution, since=start, until=now)
    backfill_s = time.perf_counter() - began
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE rigs_gpurollup; ANALYZE rigs_rigrollup")
    log(f"backfill of the whole history: {backfill_s:.2f} s")

    step_s, base_s = [], []
    for _ in range(args.runs):
        base_s.append(baseline_s(now))
        began = time.perf_counter()
        rollups.update_rollups(now=now)
        step_s.append(time.perf_counter() - began)
        log(f"periodic step {step_s[-1] * 1000:.0f} ms (baseline {base_s[-1] * 1000:.0f} ms)")
    step_ms, base_ms = statistics.median(step_s) * 1000, statistics.median(base_s) * 1000
    window_rows = int(min(600, args.hours * 3600) // args.cadence_s) * args.rigs * (args.gpus + 1)
    harness.print_result(
        {
            "bench": "rollups",
            "rigs": args.rigs,
            "gpus_per_rig": args.gpus,
            "cadence_s": args.cadence_s,
            "hours": args.hours,
            "gpu_samples": gpu_rows,
            "rig_samples": rig_rows,
            "rollup_rows": GpuRollup.objects.count() + RigRollup.objects.count(),
            "window_raw_rows_max": window_rows,
            "backfill_s": round(backfill_s, 2),
            "step_median_ms": round(step_ms, 1),
            "step_max_ms": round(max(step_s) * 1000, 1),
            "baseline_median_ms": round(base_ms, 1),
            "ratio_to_baseline": round(step_ms / base_ms, 1),
            "nproc": os.cpu_count(),
        }
    )


if __name__ == "__main__":
    main()
