"""Alerts benchmark: how long after a fault the alert is on the page and the message at the sink,
on the production configuration, and what the evaluation costs next to the store it follows.

Everything runs as in production, each in its own processes: the WSGI server (granian: pages,
API, the agents' telemetry), the ASGI server (uvicorn: /ws/live/), a Celery worker and beat,
the listeners, PostgreSQL and Redis. The outside world is simulated and faults are injected
into it on a schedule (simulators.faults.FaultCycle):

- rigs stop: the rig agent's `--flaky` rigs go silent together (a power cut), rig_offline;
- cards overheat: the `--overheat` rigs' GPU 0 loses its fan, gpu_temperature_high;
- a pool answers 502 (pool_world's "outage"), pool_no_data for each account on it;
- validators stop attesting (the beacon node's attestation outage), validator_missed_attestation.

The farm has the default rule of every kind (what a new farm gets) and one webhook channel to a
sink served by this process. The bench is logged in as the farm's owner on the websocket, as the
browser's page is, and takes the time an `alert.opened` event arrives; the sink takes the time
each message arrives. Each fault's moment comes from the world, not from ethdash: the stored
samples as the agent sent them (the card's first reading above the rule's threshold, the last
reading before a silence), the pool's answers as a probe of this process sees them, the beacon
node's genesis and the outage's epochs.

A rule's grace is the user's choice of how long to wait, not latency: each figure counts from
the end of the grace (a rig: 3 reporting intervals of silence, then the rule's grace_s; a card:
the rule's grace_s past its first hot reading; a pool: the rule's threshold in polls at the
pool's interval, the earliest the polls could have failed; validators: the rule's grace_count
in epochs, from the start of the first missed one). The raw figures (from the fault itself) are
reported too.

The evaluation cost comes from the servers' own timing log (ethdash.timing, one line per stored
batch: the store's time to commit, then its listeners' time), in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ethdash REDIS_URL=redis://127.0.0.1:6379/15 \
        .venv/bin/python bench/alerts.py [--seconds 600]

Its database (--db) is dropped and recreated; its Redis database (REDIS_URL's, 15 by default)
is flushed. The last line of output is one JSON object.
"""

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    BIN,
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_URL,
    Process,
    Server,
    drop_database,
    free_port,
    logger,
    loopback_url,
    manage,
    migrate_fresh,
    parse_bench_args,
    print_result,
    stop_on_sigterm,
    wait_for_file,
    wait_for_http,
    with_db,
)
from simulators.http_server import LoopThread, close_server
from simulators.webhook_sink import start_webhook_sink

log = logger("alerts")

CADENCE_S = 5  # the demo's agent cadence
GPUS_PER_RIG = 6
EPOCH_SLOTS, SLOT_S = 8, 2.0  # the demo's beacon chain: an epoch every 16 s
# Stagger: cards lose their fan from 20 s, for 180 s of every 300 s (past 85 °C about a minute
# in); the silent rigs stop pushing for the last 180 s of every 300 s; the pool answers 502 for
# 150 s of every 240 s from 30 s; the validators miss 4 epochs of every 10 from epoch 3.
OVERHEAT_CYCLE = (300, 180, 20)
FLAKY_EVERY_S, FLAKY_OFF_S = 300, 180
POOL_OUTAGE = (240, 150, 30)
VALIDATOR_OUTAGE = (10, 4, 3)
OUTAGE_VALIDATORS = [13, 14, 15, 16]
OUTAGE_FORMAT = "ethermine-v1"
# How long after a fault's grace the bench waits for its alert before it counts it missed.
GIVE_UP_S = 120


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="how long faults run")
    parser.add_argument("--overheating", type=int, default=4, help="rigs whose card overheats")
    parser.add_argument("--silent", type=int, default=4, help="rigs that go silent together")
    parser.add_argument("--healthy", type=int, default=2, help="rigs without faults")
    parser.add_argument("--pool-accounts", type=int, default=3, help="accounts on the 502 pool")
    args = parse_bench_args(parser, "ethdash_bench_alerts")
    if not 120 <= args.seconds <= 1800:
        parser.error("--seconds must be in [120, 1800]")
    if min(args.overheating, args.silent, args.pool_accounts) < 1 or args.healthy < 0:
        parser.error("at least one rig of each fault and one pool account")
    return args


# --- the world -----------------------------------------------------------------------------------


def rig_names(args):
    return (
        [f"hot-{i:02d}" for i in range(args.overheating)]
        + [f"silent-{i:02d}" for i in range(args.silent)]
        + [f"ok-{i:02d}" for i in range(args.healthy)]
    )


def world_spec(args):
    names = rig_names(args)
    accounts = []
    for n in range(args.pool_accounts):
        # Each account's workers are some of the rigs, so the pool kinds have workers to see.
        workers = dict.fromkeys(names[n :: args.pool_accounts], 300000000.0)
        accounts.append({"format": OUTAGE_FORMAT, "login": f"0x{n + 1:040x}", "workers": workers})
    every, length, at = POOL_OUTAGE
    return {
        "accounts": accounts,
        "beacon": {
            "seconds_per_slot": SLOT_S,
            "slots_per_epoch": EPOCH_SLOTS,
            "registry_size": 1_000_000,
            "attestation_outage": [OUTAGE_VALIDATORS, *VALIDATOR_OUTAGE],
        },
        "outage": {"format": OUTAGE_FORMAT, "every_s": every, "for_s": length, "at_s": at},
    }


SEED = """
import json
from django.contrib.auth import get_user_model
from django.test import Client
from accounts.models import ApiToken, Farm, Membership
from alerts.models import AlertRule
from demo.seed import seed_alerts, seed_pools, seed_validators
from pools.models import PoolAccount
from rigs.models import Gpu, Rig
from validators.models import Validator

spec = json.loads({spec!r})
world = json.loads({world!r})
owner = get_user_model().objects.create_user("bench", password=None)
farm = Farm.objects.create(name="Alerts bench")
Membership.objects.create(user=owner, farm=farm, role=Membership.Role.OWNER)
rigs = {{}}
for name in spec["rigs"]:
    rig = Rig.objects.create(farm=farm, name=name, cadence_s={cadence})
    gpus = Gpu.objects.bulk_create(
        [Gpu(rig=rig, index=i, name="NVIDIA GeForce RTX 3070", vendor="NVIDIA", pci_bus=i + 1)
         for i in range({gpus})]
    )
    rigs[name] = {{"id": rig.pk, "gpu0": gpus[0].pk}}
_, token = ApiToken.issue(farm=farm, name="agent", scopes=[ApiToken.Scope.TELEMETRY])
seed_pools(farm, world)
seed_validators(farm, world)
seed_alerts(farm, spec["sink_url"])
client = Client()
client.force_login(owner)
accounts = {{a.pk: a.pool.base_url
            for a in PoolAccount.objects.filter(farm=farm).select_related("pool")}}
rules = {{r.kind: {{"threshold": r.threshold, "grace_s": r.grace_s, "grace_count": r.grace_count}}
         for r in AlertRule.objects.filter(farm=farm)}}
print("SEED " + json.dumps({{
    "farm": farm.pk, "rigs": rigs, "token": token, "session": client.cookies["sessionid"].value,
    "accounts": accounts, "rules": rules,
    "validators": dict(Validator.objects.filter(farm=farm).values_list("index", "pk")),
}}))
"""


def seed(env, args, world, sink_url):
    spec = {"rigs": rig_names(args), "sink_url": sink_url}
    script = SEED.format(
        spec=json.dumps(spec), world=json.dumps(world), cadence=CADENCE_S, gpus=GPUS_PER_RIG
    )
    out = manage(env, "shell", "-c", script)
    line = next(x for x in out.splitlines() if x.startswith("SEED "))
    return json.loads(line[len("SEED ") :])


# --- what the bench watches ----------------------------------------------------------------------


class Watch:
    """Runs on the bench's event loop: the sink, the page's websocket, the pool probe."""

    def __init__(self):
        self.page = []  # (unix time, event)
        self.messages = []  # (unix time, body)
        self.probe = []  # (unix time, HTTP status) at each change
        self.sink = None
        self.tasks = []
        self.socket_errors = []

    async def start_sink(self):
        def heard(_line):
            self.messages.append((time.time(), self.sink.sink.messages[-1]["body"]))

        self.sink = await start_webhook_sink(keep=100_000, echo=heard)
        return self.sink.url

    async def follow_page(self, ws_url, origin, session):
        import websockets

        headers = {"Cookie": f"sessionid={session}"}
        while True:  # a dropped socket is reconnected, as the page's script does
            try:
                async with websockets.connect(
                    ws_url, origin=origin, additional_headers=headers, open_timeout=10
                ) as socket:
                    async for raw in socket:
                        event = json.loads(raw)
                        if event.get("type", "").startswith("alert."):
                            self.page.append((time.time(), event))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any socket failure: noted, and the page reconnects
                self.socket_errors.append(repr(exc))
                await asyncio.sleep(1)

    async def probe_pool(self, url):
        last = None
        async with httpx.AsyncClient(timeout=5) as client:
            while True:
                try:
                    status = (await client.get(url)).status_code
                except httpx.HTTPError:
                    status = 0
                if status != last:
                    self.probe.append((time.time(), status))
                    last = status
                await asyncio.sleep(0.5)

    def spawn(self, coroutine):
        self.tasks.append(asyncio.ensure_future(coroutine))

    async def stop(self):
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.sink is not None:
            await close_server(self.sink)


# --- faults and their alerts ---------------------------------------------------------------------


def ts(value):
    return value.timestamp() if isinstance(value, datetime) else value


def overheat_faults(conn, seeded, names, rule):
    """(object id, fault time, grace end) per crossing of the rule's threshold by a hot card."""
    faults = []
    for name in names:
        gpu = seeded["rigs"][name]["gpu0"]
        rows = conn.execute(
            "SELECT ts, temperature_c FROM rigs_gpusample WHERE gpu_id = %s ORDER BY ts", [gpu]
        ).fetchall()
        above = False
        for at, temperature in rows:
            hot = temperature is not None and temperature > rule["threshold"]
            if hot and not above:
                faults.append((gpu, ts(at), ts(at) + rule["grace_s"]))
            above = hot if temperature is not None else above
    return faults


def silence_faults(conn, seeded, names, rule, run_end):
    """(rig id, last reading, grace end) per silence of a silent rig: offline after 3 of its
    reporting intervals without a reading, then the rule's grace."""
    faults = []
    for name in names:
        rig = seeded["rigs"][name]["id"]
        stamps = [
            ts(row[0])
            for row in conn.execute(
                "SELECT ts FROM rigs_rigsample WHERE rig_id = %s ORDER BY ts", [rig]
            )
        ]
        offline_after = 3 * CADENCE_S
        for last, following in zip(stamps, [*stamps[1:], run_end], strict=True):
            if following - last > offline_after + rule["grace_s"]:
                faults.append((rig, last, last + offline_after + rule["grace_s"]))
    return faults


def pool_faults(watch, seeded, rule, interval_s):
    """(account id, first 502, grace end) per outage seen by the probe, for each account on the
    pool: the rule alerts at its threshold + 1'th poll without data, which comes at the earliest
    `threshold` intervals after the first failed one."""
    onsets = [at for at, status in watch.probe if status == 502]
    faults = []
    for account in seeded["outage_accounts"]:
        for onset in onsets:
            faults.append((account, onset, onset + rule["threshold"] * interval_s))
    return faults


def validator_faults(seeded, rule, genesis, run_end):
    """(validator id, start of the first missed epoch, end of the grace_count'th) per outage."""
    every, length, at = VALIDATOR_OUTAGE
    epoch_s = EPOCH_SLOTS * SLOT_S
    faults = []
    first = at
    while genesis + first * epoch_s < run_end:
        onset = genesis + first * epoch_s
        grace_end = onset + min(rule["grace_count"], length) * epoch_s
        for index in OUTAGE_VALIDATORS:
            faults.append((seeded["validators"][str(index)], onset, grace_end))
        first += every
    return faults


def match(faults, kind, seen, run_end, still_open=None):
    """Per fault: the first alert of `kind` for its object seen at or after the fault; faults
    whose grace ended too late in the run to be judged are left out, and so are those whose
    object's alert of `kind` was still open when the fault began (a pool whose breaker kept
    it from being polled between two outages has had no data since the first: one alert, and
    rightly no second)."""
    rows, missed, carried = [], [], 0
    for object_id, fault_at, grace_end in faults:
        if grace_end + GIVE_UP_S > run_end:
            continue
        if still_open is not None and still_open(kind, object_id, fault_at):
            carried += 1
            continue
        hits = [at for at, k, oid in seen if k == kind and oid == object_id and at >= fault_at]
        if not hits or min(hits) > grace_end + GIVE_UP_S:
            missed.append({"object_id": object_id, "fault_at": iso(fault_at)})
            continue
        rows.append({"after_grace_s": min(hits) - grace_end, "raw_s": min(hits) - fault_at})
    return rows, missed, carried


def open_at(watch):
    """still_open(kind, object id, t): whether the page's last word on that alert before `t`
    was that it opened."""
    # An event kind's occurrence is pushed as alert.opened already resolved: not a condition.
    changes = sorted(
        (at, event["kind"], event["object_id"], event["type"])
        for at, event in watch.page
        if event.get("type") == "alert.resolved"
        or (event.get("type") == "alert.opened" and event.get("state") != "resolved")
    )

    def still_open(kind, object_id, t):
        last = None
        for at, k, oid, change in changes:
            if at >= t:
                break
            if k == kind and oid == object_id:
                last = change
        return last == "alert.opened"

    return still_open


def page_seen(watch):
    return [
        (at, event["kind"], event["object_id"])
        for at, event in watch.page
        if event.get("type") == "alert.opened"
    ]


def sink_seen(watch):
    seen = []
    for at, body in watch.messages:
        for item in body.get("notifications", []):
            if item.get("change") == "opened":
                seen.append((at, item["alert"]["kind"], item["alert"]["object_id"]))
    return seen


def iso(unix):
    return datetime.fromtimestamp(unix, UTC).isoformat(timespec="seconds")


def p95(values):
    """Nearest rank: with few faults this is the worst but one or the worst, never interpolated
    below a value that was actually measured."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def summary(rows):
    after = [r["after_grace_s"] for r in rows]
    raw = [r["raw_s"] for r in rows]
    if not rows:
        return {"faults": 0}
    return {
        "faults": len(rows),
        "p50_s": round(statistics.median(after), 1),
        "p95_s": round(p95(after), 1),
        "max_s": round(max(after), 1),
        "raw_p95_s": round(p95(raw), 1),
    }


STORED = re.compile(
    r"stored farm=\d+ topic=(?P<topic>\S+) ids=\S+ store_ms=(?P<store>\S+) "
    r"listeners_ms=(?P<listeners>\S+)"
)
EVALUATED = re.compile(
    r"evaluated farm=\d+ topic=(?P<topic>\S+) stores=(?P<stores>\d+) ids=\S+ "
    r"eval_ms=(?P<eval>\S+)"
)


def evaluation_cost(texts):
    """From the processes' timing lines (ethdash.timing): per topic, the stores, their mean
    time to commit, and the evaluation's cost per store: what the stored hook's listeners took
    in the store's own thread plus the coalesced evaluations that covered it, all divided by the
    stores. The share of the store time is taken over the topics whose stores are timed."""
    topics = {}
    for text in texts:
        for m in STORED.finditer(text):
            t = topics.setdefault(m["topic"], {"stores": 0, "timed": [], "eval_ms": 0.0, "runs": 0})
            t["stores"] += 1
            t["eval_ms"] += float(m["listeners"])
            if m["store"] != "-":
                t["timed"].append(float(m["store"]))
        for m in EVALUATED.finditer(text):
            t = topics.setdefault(m["topic"], {"stores": 0, "timed": [], "eval_ms": 0.0, "runs": 0})
            t["eval_ms"] += float(m["eval"])
            t["runs"] += 1
    by_topic, eval_total, store_total, stores_total = {}, 0.0, 0.0, 0
    for topic, t in sorted(topics.items()):
        per_store = t["eval_ms"] / t["stores"] if t["stores"] else None
        timed = len(t["timed"]) == t["stores"] and t["stores"] > 0
        by_topic[topic] = {
            "stores": t["stores"],
            "evaluations": t["runs"],
            "eval_ms_per_store": round(per_store, 3) if per_store is not None else None,
            "store_ms_mean": round(statistics.fmean(t["timed"]), 2) if t["timed"] else None,
            "eval_pct_of_store": round(100 * t["eval_ms"] / sum(t["timed"]), 1) if timed else None,
        }
        if timed:
            eval_total += t["eval_ms"]
            store_total += sum(t["timed"])
            stores_total += t["stores"]
    overall = {
        "eval_ms_per_batch": round(eval_total / stores_total, 3) if stores_total else None,
        "store_ms_per_batch": round(store_total / stores_total, 2) if stores_total else None,
        "eval_pct_of_store": round(100 * eval_total / store_total, 1) if store_total else None,
    }
    return overall, by_topic


# --- the run -------------------------------------------------------------------------------------


def main():
    args = parse_args()
    stop_on_sigterm()
    db_parts = loopback_url(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL, "DATABASE_URL")
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    loopback_url(redis_url, "REDIS_URL")
    admin_url, bench_url = with_db(db_parts, "postgres"), with_db(db_parts, args.db)
    work = Path(tempfile.mkdtemp(prefix="bench-alerts-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ethdash.settings",
        "DATABASE_URL": bench_url,
        "REDIS_URL": redis_url,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(40),
        # A benchmark measures capacity, not the per-caller throttles (docs/api.md).
        "ETHDASH_THROTTLE_API": "off",
        "ETHDASH_THROTTLE_TELEMETRY": "off",
        "ETHDASH_THROTTLE_HIVE": "off",
        "ETHDASH_OUTBOUND_ALLOW": "127.0.0.0/8",
        "ETHDASH_MANIFEST_STATIC": "0",
        "ETHDASH_DATA_DIR": str(work),
        "LOG_LEVEL": "WARNING",
        "ETHDASH_TIMING_LOG": "INFO",
    }
    import redis

    redis.Redis.from_url(redis_url).flushdb()  # the bench's own Redis database: no stale tasks
    log(f"database {args.db}: drop, create, migrate")
    migrate_fresh(admin_url, args.db, env)
    loop = LoopThread().start()
    watch = Watch()
    processes = []
    try:
        sink_url = loop.run(watch.start_sink())
        spec_file, world_file = work / "spec.json", work / "world.json"
        spec_file.write_text(json.dumps(world_spec(args)))
        world_proc = Process(
            "pool_world",
            [sys.executable, "-m", "simulators.pool_world", "--spec", str(spec_file),
             "--out", str(world_file)],
            env,
        ).start()  # fmt: skip
        processes.append(world_proc)
        world = wait_for_file(world_file, world_proc, "the pool world")
        genesis = int(
            httpx.get(f"{world['beacon_url']}/eth/v1/beacon/genesis").json()["data"]["genesis_time"]
        )
        log("seeding the farm: rigs, pool accounts, validators, default rules, webhook channel")
        seeded = seed(env, args, world, sink_url)
        outage_pool = next(p for p in world["pools"] if p["outage"])
        seeded["outage_accounts"] = [
            int(pk)
            for pk, base_url in seeded["accounts"].items()
            if base_url == outage_pool["base_url"]
        ]
        web = Server("granian", free_port(), workers=2, threads=4, env=env)
        web.start()
        ws_port = free_port()
        ws = Process(
            "uvicorn",
            [str(BIN / "uvicorn"), "ethdash.asgi:application", "--host", "127.0.0.1",
             "--port", str(ws_port), "--ws", "websockets-sansio", "--lifespan", "on",
             "--log-level", "warning"],
            env,
        ).start()  # fmt: skip
        processes.append(ws)
        worker = Process(
            "worker",
            [str(BIN / "celery"), "-A", "ethdash", "worker", "--loglevel", "WARNING",
             "--concurrency", "2"],
            env,
        ).start()  # fmt: skip
        beat = Process(
            "beat",
            [str(BIN / "celery"), "-A", "ethdash", "beat", "--loglevel", "WARNING",
             "-s", str(work / "celerybeat-schedule")],
            env,
        ).start()  # fmt: skip
        listeners = Process("listeners", [sys.executable, "manage.py", "listen"], env).start()
        processes += [worker, beat, listeners]
        wait_for_http(f"http://127.0.0.1:{ws_port}/healthz", ws)
        web_url = f"http://127.0.0.1:{web.port}"
        watch_socket = f"ws://127.0.0.1:{ws_port}/ws/live/"
        loop.run(_spawn(watch, watch.follow_page(watch_socket, web_url, seeded["session"])))
        loop.run(_spawn(watch, watch.probe_pool(f"{outage_pool['base_url']}/api/")))
        names = rig_names(args)
        agent_cmd = [sys.executable, "-m", "simulators.rig_agent", "--url", web_url,
                     "--cadence", str(CADENCE_S)]  # fmt: skip
        for name in names:
            agent_cmd += ["--rig", f"{seeded['rigs'][name]['id']}:{GPUS_PER_RIG}:rtx3070"]
        every, length, at = OVERHEAT_CYCLE
        agent_cmd += ["--overheat-cycle", f"{every}:{length}:{at}"]
        for name in names[: args.overheating]:
            agent_cmd += ["--overheat", str(seeded["rigs"][name]["id"])]
        for name in names[args.overheating : args.overheating + args.silent]:
            agent_cmd += ["--flaky", str(seeded["rigs"][name]["id"])]
        agent_cmd += ["--flaky-every", str(FLAKY_EVERY_S), "--flaky-off", str(FLAKY_OFF_S)]
        agent = Process("agent", agent_cmd, {**env, "ETHDASH_AGENT_TOKEN": seeded["token"]})
        agent.start()
        processes.append(agent)
        started = time.time()
        log(f"faults run for {args.seconds:.0f} s ({len(names)} rigs, web {web_url})")
        while time.time() - started < args.seconds:
            time.sleep(min(30.0, args.seconds - (time.time() - started)))
            for proc in processes:
                if not proc.alive():
                    raise RuntimeError(f"{proc.name} exited:\n{proc.text()[-2000:]}")
            log(
                f"{time.time() - started:.0f} s: {len(watch.page)} alert events on the page, "
                f"{len(watch.messages)} messages at the sink"
            )
        run_end = time.time()
        agent.stop()
        loop.run(watch.stop())
        web.stop()
        for proc in processes:
            proc.stop()
        result = measure(args, seeded, watch, genesis, run_end, bench_url)
        result["server_log_errors"] = server_errors([web.tail(400), *(p.text() for p in processes)])
        result["evaluation"], result["evaluation_by_topic"] = evaluation_cost(
            [web.log_path.read_text(errors="replace"), worker.text(), listeners.text()]
        )
        result["eval_ms_per_batch"] = result["evaluation"]["eval_ms_per_batch"]
        result["store_ms_per_batch"] = result["evaluation"]["store_ms_per_batch"]
        result["eval_pct_of_store"] = result["evaluation"]["eval_pct_of_store"]
        result["socket_errors"] = watch.socket_errors[:5]
        print_result(result)
    finally:
        with contextlib.suppress(Exception):
            loop.run(watch.stop())
        for proc in processes:
            with contextlib.suppress(Exception):
                proc.stop()
        with contextlib.suppress(Exception):
            web.stop()
        loop.stop()
        if not args.keep_db:
            drop_database(admin_url, args.db)


async def _spawn(watch, coroutine):
    watch.spawn(coroutine)


def server_errors(texts):
    """Tracebacks and ERROR lines in the processes' logs: a run with errors is not a clean one."""
    lines = [
        line
        for text in texts
        for line in text.splitlines()
        if "Traceback" in line or " ERROR " in line or "CRITICAL" in line
    ]
    return {"count": len(lines), "first": lines[:5]}


def measure(args, seeded, watch, genesis, run_end, bench_url):
    rules = seeded["rules"]
    names = rig_names(args)
    with psycopg.connect(bench_url) as conn:
        interval_s = conn.execute(
            "SELECT poll_interval_s FROM pools_pool WHERE base_url = %s",
            [next(iter({u for pk, u in seeded["accounts"].items()
                        if int(pk) in seeded["outage_accounts"]}))],
        ).fetchone()[0]  # fmt: skip
        faults = {
            "gpu_temperature_high": overheat_faults(
                conn, seeded, names[: args.overheating], rules["gpu_temperature_high"]
            ),
            "rig_offline": silence_faults(
                conn,
                seeded,
                names[args.overheating : args.overheating + args.silent],
                rules["rig_offline"],
                run_end,
            ),
        }
        opened_in_db = conn.execute(
            "SELECT count(*) FROM alerts_alert WHERE opened_at IS NOT NULL AND NOT event"
        ).fetchone()[0]
    faults["pool_no_data"] = pool_faults(watch, seeded, rules["pool_no_data"], interval_s)
    faults["validator_missed_attestation"] = validator_faults(
        seeded, rules["validator_missed_attestation"], genesis, run_end
    )
    on_page, at_sink, still_open = page_seen(watch), sink_seen(watch), open_at(watch)
    kinds, page_all, sink_all, missed = {}, [], [], []
    for kind, kind_faults in faults.items():
        page_rows, page_missed, carried = match(kind_faults, kind, on_page, run_end, still_open)
        sink_rows, sink_missed, _ = match(kind_faults, kind, at_sink, run_end, still_open)
        page_all += page_rows
        sink_all += sink_rows
        missed += [{"kind": kind, "where": "page", **m} for m in page_missed]
        missed += [{"kind": kind, "where": "sink", **m} for m in sink_missed]
        kinds[kind] = {
            "page": summary(page_rows),
            "sink": summary(sink_rows),
            "still_open_at_fault": carried,
        }
    digests = sum(1 for _, body in watch.messages if body.get("digest"))
    return {
        "bench": "alerts",
        "seconds": args.seconds,
        "rigs": len(names),
        "cadence_s": CADENCE_S,
        "epoch_s": EPOCH_SLOTS * SLOT_S,
        "pool_poll_interval_s": interval_s,
        "faults": sum(v["page"]["faults"] for v in kinds.values()),
        "missed": missed,
        "fault_to_alert_p95_s": round(p95([r["after_grace_s"] for r in page_all]), 1)
        if page_all
        else None,
        "fault_to_message_p95_s": round(p95([r["after_grace_s"] for r in sink_all]), 1)
        if sink_all
        else None,
        "fault_to_alert_raw_p95_s": round(p95([r["raw_s"] for r in page_all]), 1)
        if page_all
        else None,
        "by_kind": kinds,
        "page_events": len(watch.page),
        "messages": len(watch.messages),
        "digest_messages": digests,
        "alerts_opened": opened_in_db,
        "target_s": 60,
    }


if __name__ == "__main__":
    main()
