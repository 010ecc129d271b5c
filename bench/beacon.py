"""Validators benchmark: one epoch of 100,000 validators, read from a simulated beacon node that
holds a registry of 1,000,000 (so fetching the whole registry does not pay), processed and
stored by the real code (validators.services.process.process_farm), on PostgreSQL.

    .venv/bin/python bench/beacon.py [--validators 100000] [--registry 1000000]

The simulated node runs in its own process, so this process's peak memory is the worker's. Two
epochs are processed: the first cold (balances at its start must be read too), the second steady
(they are known from the first); epoch_s is the steady one. Requests are counted per endpoint
on the client side. The baseline, measured in the same run, is the node's own answer time: the
same requests made by a bare client without processing or storing anything.

Storage is measured on a full UTC day: 225 epochs of --day-validators validators, built from the
simulator's deterministic chain and stored by the real store function, then the validators
tables' size (tables and indexes, after a VACUUM as autovacuum would) is divided by the
validator-epochs stored. The Validator table itself holds one row per validator, not per epoch,
and is left out. The last line is JSON with validators, epoch_s, requests_per_endpoint, peak_mb
and bytes_per_validator_epoch.
"""

import asyncio
import os
import re
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402

EPOCH_TABLES = [
    "validators_validatorepoch",
    "validators_validatorday",
    "validators_epochsummary",
    "validators_proposal",
    "validators_syncduty",
    "validators_withdrawal",
    "validators_statuschange",
]

log = harness.logger("beacon")


def parse_args():
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validators", type=int, default=100_000)
    parser.add_argument("--registry", type=int, default=1_000_000)
    parser.add_argument("--day-validators", type=int, default=2_000)
    parser.add_argument("--batch-size", type=int, default=None)
    return harness.parse_bench_args(parser, "ethdash_bench_beacon")


def template(path: str) -> str:
    path = re.sub(r"/states/[^/]+/", "/states/{state}/", path)
    path = re.sub(r"/(\d+)$", "/{id}", path)
    return path


def start_node(registry):
    port = harness.free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "simulators.beacon_node", "--registry", str(registry),
         "--port", str(port), "--seconds-per-slot", "12", "--slots-per-epoch", "32"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    line = process.stdout.readline()
    if "beacon node on" not in line:
        process.kill()
        raise SystemExit(f"simulated beacon node did not start: {line}")
    return process, f"http://127.0.0.1:{port}"


def table_bytes(cursor):
    cursor.execute(
        "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
        "WHERE c.relname = ANY(%s) AND c.relkind = 'r'",
        [EPOCH_TABLES],
    )
    return int(cursor.fetchone()[0])


def measure_day(farm_model, count):
    """Stores one UTC day (225 epochs) of `count` validators through the real store function,
    with node answers computed by the simulator's own chain, and returns bytes per
    validator-epoch after a VACUUM, and before it."""
    import datetime as dt

    from django.db import connection

    from simulators.beacon_chain import Chain
    from validators.models import Validator, ValidatorSync
    from validators.services.epochs import EpochRead, ValidatorState, compute_epoch
    from validators.services.store import store_epoch

    chain = Chain(registry_size=1_000_000, slots_per_epoch=32, seconds_per_slot=12)
    farm = farm_model.objects.create(name="day")
    ValidatorSync.objects.create(farm=farm)
    first_index = 1000
    Validator.objects.bulk_create(
        [Validator(farm=farm, index=first_index + i) for i in range(count)], batch_size=2000
    )
    rows = {v.index: v for v in Validator.objects.filter(farm=farm)}
    day = dt.date(2026, 11, 25)
    epochs = 225
    eb = 32 * 10**9
    ideal = {eb: (*chain.ideal(eb), 0)}
    # Balances run forward from the chain's rewards (the simulator's closed form gets slower
    # with the epoch, and only the stored shape matters here).
    balances = dict.fromkeys(rows, eb)
    started = time.perf_counter()
    for epoch in range(epochs):
        states, rewards = {}, {}
        for index in rows:
            head, target, source = chain.attestation_reward(index, epoch)
            rewards[index] = (head, target, source, 0)
            balances[index] += head + target + source
            states[index] = ValidatorState(
                index=index, pubkey=f"0x{index:096x}", status="active_ongoing",
                balance=balances[index], effective_balance=eb, slashed=False,
                withdrawal_credentials="0x01" + "00" * 31, activation_epoch=0, exit_epoch=None,
                withdrawable_epoch=None,
            )  # fmt: skip
        read = EpochRead(
            epoch=epoch, states=states, start_balances={}, rewards=rewards, ideal=ideal,
            proposals=[], withdrawals=[], deposits={}, sync={},
        )  # fmt: skip
        if epoch == 0:
            read.start_balances = dict.fromkeys(rows, eb)
        result = compute_epoch(read, {i: v.balance for i, v in rows.items() if v.balance})
        store_epoch(farm.pk, read, result, validators=rows, day=day, node_id=None)
    took = time.perf_counter() - started
    log(f"day of {count} validators x {epochs} epochs stored in {took:.1f} s")
    with connection.cursor() as cursor:
        before = table_bytes(cursor)
        cursor.execute("VACUUM (ANALYZE) " + ", ".join(EPOCH_TABLES))
        after = table_bytes(cursor)
        cursor.execute(
            "SELECT relname, pg_total_relation_size(oid) FROM pg_class "
            "WHERE relname = ANY(%s) AND relkind = 'r'",
            [EPOCH_TABLES],
        )
        parts = {name.split("_", 1)[1]: size for name, size in cursor.fetchall() if size > 8192}
        cursor.execute("TRUNCATE " + ", ".join(EPOCH_TABLES))
    per = count * epochs
    return after / per, before / per, {k: round(v / per, 2) for k, v in parts.items()}


async def baseline(url, indices, batch, spe):
    """The node's own answer time for the same batched requests, nothing processed."""
    import httpx

    from validators.formats.client import batched

    async with httpx.AsyncClient(timeout=60) as http:
        started = time.perf_counter()
        epoch = 1
        for chunk in batched(indices, batch):
            await http.post(f"{url}/eth/v1/beacon/states/{(epoch + 1) * spe}/validators",
                            json={"ids": chunk})  # fmt: skip
            await http.post(f"{url}/eth/v1/beacon/rewards/attestations/{epoch}", json=chunk)
        return time.perf_counter() - started


def main():
    args = parse_args()
    if args.batch_size:
        os.environ["ETHDASH_BEACON_BATCH_SIZE"] = str(args.batch_size)
    node, url = start_node(args.registry)
    try:
        with harness.django_bench_database(args.db, log, keep=args.keep_db):
            measure(args, url)
    finally:
        node.terminate()
        node.wait(10)


def measure(args, url):
    """The bytes a validator-epoch takes, then a cold and a steady epoch of the farm's
    validators against the simulated node, and the node's own answer time for the same reads."""
    import httpx
    from django.conf import settings
    from django.db import connection

    from accounts.models import Farm
    from validators.models import BeaconNode, ValidatorSync
    from validators.services import nodes as node_service
    from validators.services.process import process_farm

    per_validator, unvacuumed, parts = measure_day(Farm, args.day_validators)
    log(f"storage: {per_validator:.1f} B/validator-epoch after VACUUM "
        f"({unvacuumed:.1f} before); by table {parts}")  # fmt: skip

    farm = Farm.objects.create(name="beacon bench")
    BeaconNode.objects.create(farm=farm, name="sim", url=url)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO validators_validator (farm_id, index, pubkey, label, created_at, "
            "status, slashed, withdrawal_credentials, last_duty, last_error) "
            "SELECT %s, i, '', '', now(), 'unknown', false, '', '', '' "
            "FROM generate_series(0, %s) AS i",
            [farm.pk, args.validators - 1],
        )
    ValidatorSync.objects.create(farm=farm, next_epoch=0)

    counts = Counter()

    async def count(request):
        counts[f"{request.method} {template(request.url.path)}"] += 1

    real_client_for = node_service.client_for

    def counting_client_for(node, **kwargs):
        kwargs.setdefault(
            "client",
            httpx.AsyncClient(timeout=settings.ETHDASH_BEACON_TIMEOUT_S * 6,
                              event_hooks={"request": [count]}),
        )  # fmt: skip
        kwargs.setdefault("timeout", settings.ETHDASH_BEACON_TIMEOUT_S * 6)
        return real_client_for(node, **kwargs)

    node_service.client_for = counting_client_for
    timings, per_epoch_counts = [], []
    for label in ("cold", "steady"):
        counts.clear()
        started = time.perf_counter()
        run = process_farm(farm.pk, max_epochs=1)
        seconds = time.perf_counter() - started
        if run is None or run.error or not run.stored:
            raise SystemExit(f"{label} epoch failed: {run}")
        timings.append(seconds)
        per_epoch_counts.append(dict(counts))
        log(f"{label} epoch {run.stored[0]}: {seconds:.1f} s, {sum(counts.values())} requests")
    node_service.client_for = real_client_for
    batch = settings.ETHDASH_BEACON_BATCH_SIZE
    base_s = asyncio.run(baseline(url, list(range(args.validators)), batch, 32))
    steady = per_epoch_counts[1]
    per_1000 = max(
        v / max(1, args.validators / 1000)
        for k, v in steady.items()
        if "validators" in k or "rewards/attestations" in k or "balances" in k
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    log(f"steady epoch {timings[1]:.1f} s (cold {timings[0]:.1f} s); node alone answers the "
        f"batched state and reward reads in {base_s:.1f} s; peak {peak_mb:.0f} MB")  # fmt: skip
    harness.print_result(
        {
            "bench": "beacon",
            "validators": args.validators,
            "registry": args.registry,
            "batch_size": batch,
            "epoch_s": round(timings[1], 1),
            "cold_epoch_s": round(timings[0], 1),
            "baseline_node_s": round(base_s, 1),
            "ratio": round(timings[1] / base_s, 2),
            "requests_per_endpoint": steady,
            "cold_requests_per_endpoint": per_epoch_counts[0],
            "max_batched_requests_per_1000_validators": round(per_1000, 2),
            "peak_mb": round(peak_mb),
            "bytes_per_validator_epoch": round(per_validator, 1),
            "bytes_per_validator_epoch_before_vacuum": round(unvacuumed, 1),
            "bytes_by_table": parts,
            "nproc": os.cpu_count(),
        }
    )


if __name__ == "__main__":
    main()
