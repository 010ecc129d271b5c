"""Telemetry ingest benchmark: rig agents push GPU samples through the real HTTP endpoint.

N agents (one rig of 8 GPUs each) POST batches to /api/v1/rigs/{id}/telemetry/ on the production
configuration (WSGI server, PostgreSQL, channels-redis) for a bounded time. The same run then
COPYs the same rows straight into PostgreSQL as the baseline, because this machine is shared and
noisy: the ratio holds where absolute figures drift (DESIGN.md, "Benchmarks").

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ethdash REDIS_URL=redis://127.0.0.1:6379/15 \
        .venv/bin/python bench/ingest.py [--server granian|gunicorn] [--agents 8] [--ticks 30]

The database named in DATABASE_URL is never touched: the bench drops and recreates its own
(--db, default ethdash_bench) on the same PostgreSQL. The last line of output is one JSON object.
"""

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_URL,
    Server,
    cpu_cores,
    cpu_snapshot,
    drop_database,
    free_port,
    logger,
    loopback_url,
    manage,
    migrate_fresh,
    parse_bench_args,
    print_result,
    process_cores,
    stop_on_sigterm,
    with_db,
)

log = logger("ingest")

GPUS_PER_RIG = 8
COPY_COLUMNS = (
    "gpu_id",
    "ts",
    "hashrate_hs",
    "temperature_c",
    "fan_pct",
    "power_w",
    "shares_accepted",
    "shares_rejected",
    "shares_stale",
)
# Timestamps must lie within the 14-day raw retention; 12 days back leaves room for about a
# million ticks per agent, far more than any bounded run sends.
START_AGO = timedelta(days=12)
MAX_TICKS = int(timedelta(days=11).total_seconds())


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=["granian", "gunicorn"], default="granian")
    parser.add_argument("--agents", type=int, default=8, help="concurrent rig agents (one rig)")
    parser.add_argument("--ticks", type=int, default=30, help="readings per GPU in one batch")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the timed phase")
    parser.add_argument("--max-requests", type=int, default=5000, help="hard cap, timed phase")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up requests per agent")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--threads", type=int, default=0, help="threads per worker (0: auto)")
    parser.add_argument("--baseline-rounds", type=int, default=3, help="COPY rounds (median)")
    args = parse_bench_args(parser, "ethdash_bench")
    counts = (args.agents, args.ticks, args.workers, args.max_requests, args.baseline_rounds)
    if min(counts) < 1:
        parser.error(
            "--agents, --ticks, --workers, --max-requests and --baseline-rounds must be at least 1"
        )
    if args.ticks * GPUS_PER_RIG > 5000:
        parser.error("a batch holds at most 5000 samples: --ticks must be at most 625")
    if not 0 < args.seconds <= 600:
        parser.error("--seconds must be in (0, 600]")
    # Enough threads that every agent's request is served at once; more would only add DB
    # connections, since each thread keeps its own.
    args.threads = args.threads or math.ceil(args.agents / args.workers)
    return args


SEED = """
import json
from accounts.models import ApiToken, Farm
from rigs.models import Gpu, Rig
farm = Farm.objects.create(name="bench")
rigs = []
for i in range({agents}):
    rig = Rig.objects.create(farm=farm, name=f"bench-{{i:03d}}", cadence_s=30)
    gpus = Gpu.objects.bulk_create(
        [Gpu(rig=rig, index=j, name=f"GPU {{j}}") for j in range({gpus})]
    )
    rigs.append({{"id": rig.pk, "gpu_ids": [g.pk for g in gpus]}})
token, raw = ApiToken.issue(farm=farm, name="bench", scopes=["telemetry"])
print("SEED " + json.dumps({{"rigs": rigs, "token": raw}}))
"""


def seed(env, agents):
    out = manage(env, "shell", "-c", SEED.format(agents=agents, gpus=GPUS_PER_RIG))
    line = next(x for x in out.splitlines() if x.startswith("SEED "))
    return json.loads(line[len("SEED ") :])


def count_samples(url):
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM rigs_gpusample").fetchone()[0]


# --- samples -------------------------------------------------------------------------------------


def reading(gpu, tick):
    """One GPU's reading at a tick, without the timestamp: the same values feed the HTTP bodies
    and the COPY baseline, so both store identical rows."""
    return (
        30_000_000.0 + gpu * 125_000.0 + (tick % 97) * 1_000.0,
        55.0 + gpu + (tick % 7),
        50.0 + (tick % 11),
        115.0 + gpu * 2.0 + (tick % 5),
        tick,
        tick // 500,
        tick // 1000,
    )


class Agent:
    def __init__(self, rig, start):
        self.rig_id = rig["id"]
        self.gpu_ids = rig["gpu_ids"]
        self.start = start
        self.next_tick = 0

    def take(self, ticks):
        first = self.next_tick
        if first + ticks > MAX_TICKS:
            raise RuntimeError("an agent ran out of timestamps inside the retention window")
        self.next_tick += ticks
        return first

    def body(self, first, ticks):
        samples = []
        for tick in range(first, first + ticks):
            ts = (self.start + timedelta(seconds=tick)).isoformat().replace("+00:00", "Z")
            for gpu in range(len(self.gpu_ids)):
                h, t, fan, p, acc, rej, stale = reading(gpu, tick)
                samples.append(
                    {
                        "ts": ts,
                        "gpu": gpu,
                        "hashrate_hs": h,
                        "temperature_c": t,
                        "fan_pct": fan,
                        "power_w": p,
                        "shares_accepted": acc,
                        "shares_rejected": rej,
                        "shares_stale": stale,
                    }
                )
        return json.dumps({"samples": samples}, separators=(",", ":")).encode()

    def rows(self, first, ticks):
        for tick in range(first, first + ticks):
            ts = self.start + timedelta(seconds=tick)
            for gpu, gpu_id in enumerate(self.gpu_ids):
                yield (gpu_id, ts, *reading(gpu, tick))


# --- load ----------------------------------------------------------------------------------------


class Load:
    def __init__(self, base_url, token, agents, ticks):
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.agents = agents
        self.ticks = ticks
        self.latencies = []
        self.errors = 0
        self.error_examples = []
        self.sent = []  # (agent, first tick) of every timed batch, replayed by the baseline

    async def post(self, client, agent, record):
        first = agent.take(self.ticks)
        # Built per request rather than all up front: a 240-sample body is ~44 KB and ~0.5 ms of
        # client CPU, while pre-building a capped run's worth could take hundreds of MB.
        body = agent.body(first, self.ticks)
        url = f"{self.base_url}/api/v1/rigs/{agent.rig_id}/telemetry/"
        started = time.perf_counter()
        try:
            response = await client.post(url, content=body, headers=self.headers)
            ok = response.status_code == 200
            detail = f"{response.status_code} {response.text[:300]}"
        except httpx.HTTPError as exc:
            ok, detail = False, repr(exc)
        elapsed = time.perf_counter() - started
        if record:
            self.sent.append((agent, first))
            if ok:
                self.latencies.append(elapsed)
        if not ok:
            self.errors += 1
            if len(self.error_examples) < 5:
                self.error_examples.append(f"rig {agent.rig_id}: {detail}")

    async def warm_up(self, client, per_agent):
        for _ in range(per_agent):
            await asyncio.gather(*(self.post(client, a, record=False) for a in self.agents))

    async def run(self, client, seconds, max_requests):
        deadline = time.perf_counter() + seconds
        budget = [max_requests]

        async def agent_loop(agent):
            # Closed loop, like a real agent: the next batch goes once the last one is answered.
            while time.perf_counter() < deadline and budget[0] > 0:
                budget[0] -= 1
                await self.post(client, agent, record=True)

        started = time.perf_counter()
        await asyncio.gather(*(agent_loop(a) for a in self.agents))
        return time.perf_counter() - started


async def drive(base_url, token, agents, args, on_timed_start):
    load = Load(base_url, token, agents, args.ticks)
    limits = httpx.Limits(max_connections=len(agents) * 2, max_keepalive_connections=len(agents))
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(60.0)) as client:
        await load.warm_up(client, args.warmup)
        warm_errors = load.errors
        if warm_errors:
            raise RuntimeError("warm-up failed:\n" + "\n".join(load.error_examples))
        on_timed_start()
        wall = await load.run(client, args.seconds, args.max_requests)
    return load, wall


# --- baseline ------------------------------------------------------------------------------------


def copy_baseline(url, sent, ticks, rounds):
    """COPY the rows the agents sent, batch for batch, into an empty twin of rigs_gpusample (same
    indexes and unique constraint), one transaction per batch as the endpoint commits per request.
    Only the COPY and commit are timed: building the Python tuples is the client's cost, not
    PostgreSQL's. A few rounds, each into a fresh table, because one round lasts about a second
    and a neighbour's burst on this shared machine can halve it; the caller takes the median."""
    copy = sql.SQL("COPY bench_copy_baseline ({}) FROM STDIN").format(
        sql.SQL(", ").join(map(sql.Identifier, COPY_COLUMNS))
    )
    rates = []
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(rounds):
            conn.execute("DROP TABLE IF EXISTS bench_copy_baseline")
            conn.execute("CREATE TABLE bench_copy_baseline (LIKE rigs_gpusample INCLUDING ALL)")
            rows = 0
            elapsed = 0.0
            for agent, first in sent:
                batch = list(agent.rows(first, ticks))
                started = time.perf_counter()
                with conn.transaction(), conn.cursor() as cur, cur.copy(copy) as cp:
                    for row in batch:
                        cp.write_row(row)
                elapsed += time.perf_counter() - started
                rows += len(batch)
            stored = conn.execute("SELECT count(*) FROM bench_copy_baseline").fetchone()[0]
            if stored != rows:
                raise RuntimeError(f"baseline stored {stored} of {rows} rows")
            rates.append(rows / elapsed)
        conn.execute("DROP TABLE bench_copy_baseline")
    return rates


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    rank = max(0, math.ceil(q * len(sorted_values)) - 1)
    return sorted_values[rank]


# --- main ----------------------------------------------------------------------------------------


def main():
    args = parse_args()
    db_parts = loopback_url(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL, "DATABASE_URL")
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    loopback_url(redis_url, "REDIS_URL")
    admin_url = with_db(db_parts, "postgres")
    bench_url = with_db(db_parts, args.db)

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ethdash.settings",
        "DATABASE_URL": bench_url,
        "REDIS_URL": redis_url,
        "DATABASE_CONN_MAX_AGE": "60",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # A benchmark measures capacity, not the per-caller throttles (docs/api.md).
        "ETHDASH_THROTTLE_API": "off",
        "ETHDASH_THROTTLE_TELEMETRY": "off",
        "ETHDASH_THROTTLE_HIVE": "off",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }

    stop_on_sigterm()
    server = None
    try:
        log(f"database {args.db}: drop, create, migrate, seed {args.agents} rigs")
        migrate_fresh(admin_url, args.db, env)
        seeded = seed(env, args.agents)
        start = (datetime.now(UTC) - START_AGO).replace(microsecond=0)
        agents = [Agent(rig, start) for rig in seeded["rigs"]]

        server = Server(args.server, free_port(), args.workers, args.threads, env)
        log(f"starting {server.version()}: {args.workers} workers x {args.threads} threads")
        server.start()
        base_url = f"http://127.0.0.1:{server.port}"

        marks = {}

        def on_timed_start():
            marks["count"] = count_samples(bench_url)
            marks["cpu"], marks["processes"] = cpu_snapshot(server.proc.pid)

        log(
            f"load: {args.agents} agents x {args.ticks * GPUS_PER_RIG} samples/batch, "
            f"{args.seconds:g} s (cap {args.max_requests} requests)"
        )
        load, wall = asyncio.run(drive(base_url, seeded["token"], agents, args, on_timed_start))
        cpu_after, processes_after = cpu_snapshot(server.proc.pid)
        cpu = cpu_cores(marks["cpu"], cpu_after, wall)
        server_processes = process_cores(marks["processes"], processes_after, wall)
        stored = count_samples(bench_url) - marks["count"]
        server.stop()

        for example in load.error_examples:
            log(f"error: {example}")
        log(f"baseline: COPY {len(load.sent)} batches of {args.ticks * GPUS_PER_RIG} rows")
        copy_rates = copy_baseline(bench_url, load.sent, args.ticks, args.baseline_rounds)
    finally:
        if server is not None:
            server.stop()
            server.log_path.unlink(missing_ok=True)
        if not args.keep_db:
            with contextlib.suppress(psycopg.Error):
                drop_database(admin_url, args.db)

    latencies = sorted(load.latencies)
    samples_per_s = stored / wall
    baseline = statistics.median(copy_rates) if load.sent else None
    result = {
        "bench": "ingest",
        "samples_per_s": round(samples_per_s),
        "baseline_copy_rows_per_s": round(baseline) if baseline else None,
        "ratio": round(samples_per_s / baseline, 3) if baseline else None,
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1) if latencies else None,
        "agents": args.agents,
        "batch_samples": args.ticks * GPUS_PER_RIG,
        "requests": len(load.sent),
        "errors": load.errors,
        "stored": stored,
        "baseline_rounds": [round(r) for r in copy_rates],
        "seconds": round(wall, 2),
        # Samples per CPU-second of the server's processes: it moves far less than samples_per_s
        # when neighbours take CPU away, so it shows code changes better on a noisy machine.
        "samples_per_server_cpu_s": round(samples_per_s / cpu["server"]) if cpu["server"] else None,
        "server": args.server,
        "workers": args.workers,
        "threads": args.threads,
        "cpu_cores": {k: round(v, 2) for k, v in cpu.items()},
        "server_process_cores": server_processes,
        "nproc": os.cpu_count(),
    }
    log(
        f"stored {stored} samples in {wall:.1f} s: {samples_per_s:,.0f}/s "
        f"(COPY baseline {baseline or 0:,.0f} rows/s), p50 {result['p50_ms']} ms, "
        f"p99 {result['p99_ms']} ms, {load.errors} errors; cores busy {result['cpu_cores']}"
    )
    if load.errors:
        log(f"WARNING: {load.errors} requests failed; figures are not comparable")
    if cpu["other"] > 0.3:
        log(f"note: other work kept {cpu['other']:.2f} cores busy during the run; expect drift")
    print_result(result)
    return 1 if load.errors else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
