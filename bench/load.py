"""Load benchmark: the read API, page views and telemetry ingest together on the production
processes for a bounded time, with the Celery worker killed and restarted once and Redis
restarted once in the middle; nothing acknowledged may be lost or stored twice.

The processes are production's, each its own: granian for pages and the API, a second granian
for the agents' pushes as docs/deploy.md's proxy routes them (`--ingest-workers 0`: one server
for all), uvicorn (/ws/live/), a Celery worker and beat, PostgreSQL, and a Redis server of the
bench's own on a free port (so restarting it disturbs nobody else's). The load, open-loop and
steady:
- `--agents` rig agents of 8 GPUs push one batch of `--ticks` readings each per interval, the
  interval set so the samples arrive at `--samples-per-s` (3,400 by default: twice the 1,699 of
  bench/ingest.py's one-tick run in docs/performance.md). A push that fails is sent again, as the
  rig agent does, until it is acknowledged;
- `--readers` clients read the API with a read token (rigs, a rig, its GPUs, its samples) and
  the pages as the logged-in owner (overview, rigs, a rig), one request after another;
- `--sockets` websockets follow the farm's live events and reconnect when dropped, as the page's
  script does.
Faults: the worker's whole process group SIGKILLed at `--worker-kill-at` s and started again
`--worker-down-s` later; Redis stopped at `--redis-restart-at` s and started again
`--redis-down-s` later, empty (it keeps nothing on disk).

Measured: `lost` (readings generated and never stored after the agents' retries), `duplicated`
(rows stored twice for one GPU and instant), `read_p99_ms` outside the fault windows (each from
the fault to `--recovery-s` after its end) and over the whole run, `ingest_samples_per_s`
(stored samples over the run), and whether every socket received events again after Redis came
back (`sockets_reconnected`). `server_errors` counts the error lines the processes logged, and
those outside the fault windows (`outside_fault_windows`: an error while Redis is down is expected,
one after it is not).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ethdash \
        .venv/bin/python bench/load.py [--seconds 600]

The last line of output is one JSON object.
"""

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    BIN,
    DEFAULT_DATABASE_URL,
    Process,
    Server,
    cpu_cores,
    cpu_snapshot,
    drop_database,
    free_port,
    group_cpu_s,
    logger,
    loopback_url,
    manage,
    migrate_fresh,
    parse_bench_args,
    print_result,
    process_cores,
    stop_on_sigterm,
    wait_for_http,
    with_db,
)

log = logger("load")

GPUS_PER_RIG = 8
# Readings lie within the raw retention (14 days) and before now, whatever the run's length.
START_AGO = timedelta(days=10)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--agents", type=int, default=16)
    parser.add_argument("--ticks", type=int, default=10, help="readings per GPU in one push")
    parser.add_argument("--samples-per-s", type=float, default=3400.0)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--sockets", type=int, default=4)
    parser.add_argument("--worker-kill-at", type=float, default=150.0)
    parser.add_argument("--worker-down-s", type=float, default=60.0)
    parser.add_argument("--redis-restart-at", type=float, default=360.0)
    parser.add_argument("--redis-down-s", type=float, default=15.0)
    parser.add_argument("--recovery-s", type=float, default=30.0)
    parser.add_argument(
        "--no-faults",
        action="store_true",
        help="neither kill the worker nor restart Redis (a diagnostic run, not the issue's)",
    )
    parser.add_argument("--workers", type=int, default=1, help="web server processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per web process")
    parser.add_argument(
        "--ingest-workers",
        type=int,
        default=1,
        help="a second WSGI server of this many processes for the agents' pushes, as a proxy "
        "routes /api/v1/rigs/<id>/telemetry/ to it (docs/deploy.md); 0: one server for all",
    )
    args = parse_bench_args(parser, "ethdash_bench_load")
    if not 60 <= args.seconds <= 900:
        parser.error("--seconds must be in [60, 900]")
    if min(args.agents, args.ticks, args.readers, args.sockets) < 1 or args.samples_per_s <= 0:
        parser.error("agents, ticks, readers, sockets and the rate must be positive")
    if args.ticks * GPUS_PER_RIG > 5000:
        parser.error("a push holds at most 5000 samples")
    return args


SEED = """
import json
from django.contrib.auth import get_user_model
from django.test import Client
from accounts.models import ApiToken, Farm, Membership
from rigs.models import Gpu, Rig

owner = get_user_model().objects.create_user("bench")
farm = Farm.objects.create(name="Load bench")
Membership.objects.create(user=owner, farm=farm, role=Membership.Role.OWNER)
rigs = []
for i in range({agents}):
    rig = Rig.objects.create(farm=farm, name=f"load-{{i:03d}}", cadence_s=30)
    gpus = Gpu.objects.bulk_create(
        [Gpu(rig=rig, index=j, name=f"GPU {{j}}") for j in range({gpus})]
    )
    rigs.append({{"id": rig.pk, "gpus": [g.pk for g in gpus]}})
_, push = ApiToken.issue(farm=farm, name="agents", scopes=[ApiToken.Scope.TELEMETRY])
_, read = ApiToken.issue(farm=farm, name="reader", scopes=[ApiToken.Scope.READ])
client = Client()
client.force_login(owner)
print("SEED " + json.dumps({{"rigs": rigs, "push": push, "read": read,
                            "session": client.cookies["sessionid"].value}}))
"""


class Redis:
    """A redis-server of the bench's own on a free loopback port, nothing kept on disk."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None

    def start(self):
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--loglevel", "warning"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


class Run:
    """What the clients did, on the bench's one event loop."""

    def __init__(self, args, seeded, web_url, ws_url, started, ingest_url=None):
        self.args, self.seeded, self.web_url, self.ws_url = args, seeded, web_url, ws_url
        self.ingest_url = ingest_url or web_url
        self.started = started  # monotonic
        self.base_ts = datetime.now(UTC).replace(microsecond=0) - START_AGO
        self.generated = 0  # readings (GPU x instant) the agents made
        self.acknowledged = 0
        self.push_failures = 0
        self.pending = []  # batches waiting to be sent again
        self.reads = []  # (seconds since start, latency s, ok, what was read)
        self.read_errors = []
        self.socket_events = [[] for _ in range(args.sockets)]  # seconds since start per event
        self.socket_connects = [0] * args.sockets
        self.stop = asyncio.Event()

    def now(self):
        return time.monotonic() - self.started

    # -- agents -----------------------------------------------------------------------------

    def body(self, first_tick):
        samples = []
        for tick in range(first_tick, first_tick + self.args.ticks):
            ts = (self.base_ts + timedelta(seconds=tick)).isoformat().replace("+00:00", "Z")
            for gpu in range(GPUS_PER_RIG):
                samples.append(
                    {"ts": ts, "gpu": gpu, "hashrate_hs": 30e6 + gpu * 1e5 + tick,
                     "temperature_c": 60.0 + gpu, "power_w": 120.0, "shares_accepted": tick,
                     "shares_rejected": 0, "shares_stale": 0}
                )  # fmt: skip
        return json.dumps({"samples": samples}, separators=(",", ":")).encode()

    async def agent(self, client, index):
        rig = self.seeded["rigs"][index]
        url = f"{self.ingest_url}/api/v1/rigs/{rig['id']}/telemetry/"
        headers = {"Authorization": f"Bearer {self.seeded['push']}",
                   "Content-Type": "application/json"}  # fmt: skip
        per_push = self.args.ticks * GPUS_PER_RIG
        interval = self.args.agents * per_push / self.args.samples_per_s
        await asyncio.sleep(interval * index / self.args.agents)  # spread the agents
        tick, backlog = 0, []
        next_at = time.monotonic()
        while not self.stop.is_set():
            backlog.append(tick)
            tick += self.args.ticks
            self.generated += per_push
            # Oldest first, as the rig agent sends what it buffered; at most a few per slot.
            for first in list(backlog[:4]):
                try:
                    response = await client.post(url, content=self.body(first), headers=headers)
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if not ok:
                    self.push_failures += 1
                    break
                backlog.remove(first)
                self.acknowledged += per_push
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        # After the run: what is still buffered goes until acknowledged, for a bounded time.
        deadline = time.monotonic() + 120
        while backlog and time.monotonic() < deadline:
            first = backlog[0]
            try:
                response = await client.post(url, content=self.body(first), headers=headers)
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                backlog.pop(0)
                self.acknowledged += per_push
            else:
                await asyncio.sleep(1)
        self.pending.extend(backlog)

    # -- readers -----------------------------------------------------------------------------

    async def reader(self, client, index):
        rigs = self.seeded["rigs"]
        token = {"Authorization": f"Bearer {self.seeded['read']}"}
        cookie = {"Cookie": f"sessionid={self.seeded['session']}"}
        n = index
        while not self.stop.is_set():
            rig = rigs[n % len(rigs)]["id"]
            paths = [
                ("/api/v1/rigs/", token, "api rigs"),
                (f"/api/v1/rigs/{rig}/", token, "api rig"),
                (f"/api/v1/gpus/?rig={rig}", token, "api gpus of a rig"),
                (f"/api/v1/rigs/{rig}/samples/", token, "api rig samples"),
                ("/", cookie, "page overview"),
                ("/rigs/", cookie, "page rigs"),
                (f"/rigs/{rig}/", cookie, "page rig"),
            ]
            path, headers, what = paths[n % len(paths)]
            n += 1
            at = self.now()
            started = time.perf_counter()
            try:
                response = await client.get(f"{self.web_url}{path}", headers=headers)
                ok = response.status_code == 200
                if not ok and len(self.read_errors) < 10:
                    self.read_errors.append(f"{at:.0f} s {path}: {response.status_code}")
            except httpx.HTTPError as exc:
                ok = False
                if len(self.read_errors) < 10:
                    self.read_errors.append(f"{at:.0f} s {path}: {exc!r}")
            self.reads.append((at, time.perf_counter() - started, ok, what))

    # -- sockets -----------------------------------------------------------------------------

    async def socket(self, index):
        import websockets

        headers = {"Cookie": f"sessionid={self.seeded['session']}"}
        while not self.stop.is_set():
            try:
                async with websockets.connect(
                    self.ws_url, origin=self.web_url, additional_headers=headers, open_timeout=10
                ) as ws:
                    self.socket_connects[index] += 1
                    while not self.stop.is_set():
                        try:
                            await asyncio.wait_for(ws.recv(), timeout=1.0)
                        except TimeoutError:
                            continue
                        self.socket_events[index].append(self.now())
            except asyncio.CancelledError:
                raise
            except Exception:  # a dropped socket: the page's script reconnects after a second
                await asyncio.sleep(1.0)


async def drive(run, faults):
    limits = httpx.Limits(max_connections=run.args.agents + run.args.readers + 4)
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(30.0)) as client:
        tasks = [asyncio.ensure_future(run.agent(client, i)) for i in range(run.args.agents)]
        readers = [asyncio.ensure_future(run.reader(client, i)) for i in range(run.args.readers)]
        sockets = [asyncio.ensure_future(run.socket(i)) for i in range(run.args.sockets)]
        fault_task = asyncio.ensure_future(faults(run))
        await asyncio.sleep(run.args.seconds)
        run.stop.set()
        await fault_task
        for task in readers + sockets:
            task.cancel()
        await asyncio.gather(*readers, *sockets, return_exceptions=True)
        await asyncio.gather(*tasks)


def main():
    args = parse_args()
    stop_on_sigterm()
    db_parts = loopback_url(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL, "DATABASE_URL")
    admin_url, bench_url = with_db(db_parts, "postgres"), with_db(db_parts, args.db)
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    redis = Redis()
    redis.start()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ethdash.settings",
        "DATABASE_URL": bench_url,
        "REDIS_URL": redis.url,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "ETHDASH_DATA_DIR": str(work),
        "ETHDASH_MANIFEST_STATIC": "0",
        # Capacity under faults is measured, not the per-caller throttles (docs/api.md).
        "ETHDASH_THROTTLE_API": "off",
        "ETHDASH_THROTTLE_ANON": "off",
        "ETHDASH_THROTTLE_TELEMETRY": "off",
        "ETHDASH_THROTTLE_HIVE": "off",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "LOG_LEVEL": "WARNING",
    }
    processes, web, ingest = [], None, None
    try:
        log(f"database {args.db}: drop, create, migrate; Redis on {redis.url}")
        migrate_fresh(admin_url, args.db, env)
        out = manage(env, "shell", "-c", SEED.format(agents=args.agents, gpus=GPUS_PER_RIG))
        seeded = json.loads(next(x for x in out.splitlines() if x.startswith("SEED "))[5:])
        web = Server("granian", free_port(), workers=args.workers, threads=args.threads, env=env)
        web.start()
        if args.ingest_workers:
            ingest = Server(
                "granian", free_port(), workers=args.ingest_workers, threads=args.threads, env=env
            )
            ingest.start()
        ws_port = free_port()
        ws = Process(
            "uvicorn",
            [str(BIN / "uvicorn"), "ethdash.asgi:application", "--host", "127.0.0.1",
             "--port", str(ws_port), "--ws", "websockets-sansio", "--lifespan", "on",
             "--log-level", "warning"],
            env,
        ).start()  # fmt: skip
        worker_cmd = [str(BIN / "celery"), "-A", "ethdash", "worker", "--loglevel", "WARNING",
                      "--concurrency", "2"]  # fmt: skip
        worker = Process("worker", worker_cmd, env).start()
        beat = Process(
            "beat",
            [str(BIN / "celery"), "-A", "ethdash", "beat", "--loglevel", "WARNING",
             "-s", str(work / "celerybeat-schedule")],
            env,
        ).start()  # fmt: skip
        processes += [ws, worker, beat]
        wait_for_http(f"http://127.0.0.1:{ws_port}/healthz", ws)
        web_url = f"http://127.0.0.1:{web.port}"
        windows = []
        worker_cpu_s = {}  # the killed worker's CPU seconds, taken just before the kill

        async def faults(run):
            nonlocal worker
            if args.no_faults:
                return
            await asyncio.sleep(args.worker_kill_at)
            log(f"{run.now():.0f} s: worker killed")
            start = run.now()
            worker_cpu_s["killed"] = group_cpu_s(worker.proc.pid)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.proc.pid, signal.SIGKILL)
            await asyncio.sleep(args.worker_down_s)
            worker = Process("worker", worker_cmd, env).start()
            processes.append(worker)
            log(f"{run.now():.0f} s: worker started again")
            windows.append(("worker", start, run.now() + args.recovery_s))
            await asyncio.sleep(max(0.0, args.redis_restart_at - run.now()))
            log(f"{run.now():.0f} s: Redis stopped")
            start = run.now()
            redis.stop()
            await asyncio.sleep(args.redis_down_s)
            redis.start()
            log(f"{run.now():.0f} s: Redis started again (empty)")
            windows.append(("redis", start, run.now() + args.recovery_s))
            run.redis_back_at = run.now()

        log(
            f"{args.seconds:.0f} s: {args.agents} agents at {args.samples_per_s:.0f} samples/s, "
            f"{args.readers} readers, {args.sockets} sockets; web {web_url}"
        )
        ingest_url = f"http://127.0.0.1:{ingest.port}" if ingest else None
        run = Run(
            args, seeded, web_url, f"ws://127.0.0.1:{ws_port}/ws/live/", time.monotonic(),
            ingest_url=ingest_url,
        )  # fmt: skip
        run.redis_back_at = None
        run.started_wall = time.time() - run.now()  # log lines carry wall-clock times
        cpu_before, web_before = cpu_snapshot(web.proc.pid)
        others = {"websocket server": ws, "worker": worker, "beat": beat}
        if ingest is not None:
            others["ingest server"] = ingest
        others_before = {name: group_cpu_s(p.proc.pid) for name, p in others.items()}
        asyncio.run(drive(run, faults))
        elapsed = run.now()
        cpu_after, web_after = cpu_snapshot(web.proc.pid)
        others_after = {name: group_cpu_s(p.proc.pid) for name, p in others.items()}
        if "killed" in worker_cpu_s:
            # The worker started after the kill is another process group, counted from its
            # start, added to what the killed one used until the kill.
            others_after["worker"] = worker_cpu_s["killed"] + group_cpu_s(worker.proc.pid)
        result = measure(args, run, windows, bench_url, elapsed)
        # Where the two cores went: the web server's group ("server"), PostgreSQL, Redis, this
        # client, and the rest (the worker, beat, the websocket server, anything else).
        cpu = cpu_cores(cpu_before, cpu_after, elapsed)
        result["cpu_cores"] = {k: round(v, 2) for k, v in cpu.items()}
        result["web_process_cores"] = process_cores(web_before, web_after, elapsed)
        result["other_cores"] = {
            name: round(max(0.0, others_after[name] - others_before[name]) / elapsed, 2)
            for name in others
        }
        logs = [s.log_path.read_text(errors="replace") for s in (web, ingest) if s is not None]
        result["server_errors"] = server_errors(
            [*logs, *(p.text() for p in processes)], windows, run.started_wall
        )
        print_result(result)
    finally:
        for proc in processes:
            with contextlib.suppress(Exception):
                proc.stop()
        for server in (web, ingest):
            if server is not None:
                with contextlib.suppress(Exception):
                    server.stop()
        redis.stop()
        if not args.keep_db:
            drop_database(admin_url, args.db)


LOG_TIME = re.compile(r"^\[?(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})[: ]")


def server_errors(texts, windows, started_wall):
    """Error lines of the processes' logs, and those outside the fault windows: an error is
    expected while Redis is down, not after. A line without a time of its own (a traceback's)
    takes the time of the last line before it that had one."""
    lines, outside = [], []
    for text in texts:
        at = None
        for line in text.splitlines():
            if match := LOG_TIME.match(line):
                stamp = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S").timestamp()
                at = stamp + int(match[2]) / 1000 - started_wall
            if "Traceback" in line or " ERROR " in line or "CRITICAL" in line:
                lines.append(line)
                if at is None or not any(start <= at <= end for _, start, end in windows):
                    outside.append(line)
    return {"count": len(lines), "first": lines[:8],
            "outside_fault_windows": len(outside), "first_outside": outside[:8]}  # fmt: skip


def p99_ms(latencies):
    if not latencies:
        return None
    ordered = sorted(latencies)
    return round(1000 * ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)], 1)


def measure(args, run, windows, bench_url, elapsed):
    with psycopg.connect(bench_url) as conn:
        stored, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT (gpu_id, ts)) FROM rigs_gpusample"
        ).fetchone()
    outside_reads = [
        (latency, what)
        for at, latency, ok, what in run.reads
        if ok and not any(start <= at <= end for _, start, end in windows)
    ]
    outside = [latency for latency, _ in outside_reads]
    # Which reads make the tail: p50 and p99 of each kind of read, outside the fault windows.
    by_what = {}
    for latency, what in outside_reads:
        by_what.setdefault(what, []).append(latency)
    back = run.redis_back_at
    sockets_back = sum(1 for events in run.socket_events if back and any(t > back for t in events))
    return {
        "bench": "load",
        "seconds": round(elapsed, 1),
        "agents": args.agents,
        "samples_per_push": args.ticks * GPUS_PER_RIG,
        "target_samples_per_s": args.samples_per_s,
        "generated": run.generated,
        "acknowledged": run.acknowledged,
        "stored": stored,
        "lost": run.generated - distinct,
        "duplicated": stored - distinct,
        "unsent_after_retries": len(run.pending) * args.ticks * GPUS_PER_RIG,
        "push_failures": run.push_failures,
        "ingest_samples_per_s": round(distinct / args.seconds, 1),
        "reads": len(run.reads),
        "read_failures": sum(1 for _, _, ok, _ in run.reads if not ok),
        "read_p99_ms": p99_ms(outside),
        "read_p50_ms": round(1000 * statistics.median(outside), 1) if outside else None,
        "read_p99_ms_all": p99_ms([lat for _, lat, ok, _ in run.reads if ok]),
        "read_ms_by_what": {
            what: {
                "n": len(lats),
                "p50": round(1000 * statistics.median(lats), 1),
                "p99": p99_ms(lats),
            }
            for what, lats in sorted(by_what.items())
        },
        "read_errors": run.read_errors,
        "fault_windows": [
            {"fault": name, "from_s": round(a, 1), "to_s": round(b, 1)} for name, a, b in windows
        ],
        "sockets": args.sockets,
        "socket_connects": run.socket_connects,
        "sockets_reconnected": sockets_back,
        "target_read_p99_ms": 250,
        "faults": not args.no_faults,
    }


if __name__ == "__main__":
    main()
