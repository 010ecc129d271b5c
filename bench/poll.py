"""Poll benchmark: one cycle over 1,000 simulated miner endpoints (mixed protocols, 8 GPUs each).

    .venv/bin/python bench/poll.py [--endpoints 1000] [--gpus 8] [--concurrency 256]

On the production configuration (PostgreSQL at DATABASE_URL, loopback only; its own database,
dropped at the end), a simulated fleet runs in a separate process; this process seeds a rig per
endpoint and runs the poll cycle exactly as the Celery task does: claim the due rigs, fetch all
concurrently, store every reading. Measured in the same run as the baseline: the same fetches
with parsing but without claiming or storing (the simulators' own answer time plus parsing).
The last line is JSON: endpoints, cycle_s (steady state), first_cycle_s (registering every GPU),
fetch_only_s, stored_samples, failed, ratio.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402

log = harness.logger("poll")


def parse_args():
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=1000)
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=256)
    return harness.parse_bench_args(parser, "ethdash_bench_poll")


def start_fleet(args, out_path):
    fleet = subprocess.Popen(
        [sys.executable, "-m", "simulators.fleet", "--count", str(args.endpoints),
         "--gpus", str(args.gpus), "--out", out_path],
        cwd=ROOT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if fleet.poll() is not None:
            raise RuntimeError("the simulated fleet exited early")
        if os.path.getsize(out_path) > 0:
            return fleet, json.loads(Path(out_path).read_text())
        time.sleep(0.2)
    raise RuntimeError("the simulated fleet did not start within 120 s")


def seed_rigs(endpoints, gpus):
    from django.utils import timezone

    from accounts.models import Farm
    from rigs.models import Rig

    farm = Farm.objects.create(name="poll bench")
    now = timezone.now()
    Rig.objects.bulk_create(
        [
            Rig(farm=farm, name=f"fleet-{i:04d}", protocol=e["protocol"], host="127.0.0.1",
                port=e["port"], cadence_s=30, next_poll_at=now)
            for i, e in enumerate(endpoints)
        ]
    )  # fmt: skip


def main():
    args = parse_args()
    fleet = None
    with tempfile.NamedTemporaryFile(prefix="ethdash-fleet-", suffix=".json", delete=False) as out:
        pass
    try:
        with harness.django_bench_database(args.db, log, keep=args.keep_db):
            log(f"starting {args.endpoints} simulated miners ({args.gpus} GPUs each)")
            fleet, endpoints = start_fleet(args, out.name)
            measure(args, endpoints)
    finally:
        if fleet is not None:
            os.killpg(fleet.pid, signal.SIGTERM)
            try:
                fleet.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(fleet.pid, signal.SIGKILL)
        os.unlink(out.name)


def measure(args, endpoints):
    """Seeds a rig per endpoint, times the fetches alone, then two poll cycles."""
    import asyncio

    from django.utils import timezone

    from rigs.models import GpuSample, Rig
    from rigs.services.polling import endpoint_for, fetch_all, poll_due_rigs

    seed_rigs(endpoints, args.gpus)
    rigs = list(Rig.objects.all())
    # Warm-up: one fetch pass registers nothing but opens the OS's socket paths.
    asyncio.run(fetch_all([endpoint_for(r) for r in rigs[:20]], concurrency=20))

    started = time.perf_counter()
    results = asyncio.run(fetch_all([endpoint_for(r) for r in rigs], concurrency=args.concurrency))
    fetch_only_s = time.perf_counter() - started
    fetch_errors = sum(1 for r in results if isinstance(r, Exception))

    # Cycle 1 registers every GPU (a fleet's first poll); cycle 2 is the steady state.
    cycles = []
    for _ in range(2):
        Rig.objects.update(next_poll_at=timezone.now())
        started = time.perf_counter()
        summary = poll_due_rigs(concurrency=args.concurrency)
        cycles.append((time.perf_counter() - started, summary))
        log(
            f"cycle {len(cycles)}: {summary.polled} polled, {summary.stored} stored, "
            f"{summary.failed} failed in {cycles[-1][0]:.2f} s"
        )
    (first_s, _), (cycle_s, summary) = cycles
    stored = GpuSample.objects.count()
    log(f"fetch only {fetch_only_s:.2f} s; {stored} GPU samples stored over both cycles")
    failures = list(Rig.objects.exclude(last_error="").values_list("name", "last_error")[:5])
    for name, error in failures:
        log(f"failed: {name}: {error}")
    harness.print_result(
        {
            "bench": "poll",
            "endpoints": len(endpoints),
            "gpus_per_endpoint": args.gpus,
            "cycle_s": round(cycle_s, 2),
            "first_cycle_s": round(first_s, 2),
            "fetch_only_s": round(fetch_only_s, 2),
            "ratio": round(fetch_only_s / cycle_s, 3),
            "polled": summary.polled,
            "stored_rigs": summary.stored,
            "stored_samples": stored,
            "failed": summary.failed,
            "fetch_only_errors": fetch_errors,
            "concurrency": args.concurrency,
            "nproc": os.cpu_count(),
        }
    )


if __name__ == "__main__":
    main()
