"""Pool benchmark: one poll cycle over 10,000 accounts across 20 simulated pool hosts, each host
limited to 10 requests/s.

    .venv/bin/python bench/pools.py [--hosts 20] [--accounts 10000] [--rate 10]

On PostgreSQL (DATABASE_URL, loopback only; its own database, dropped at the end). The pool
simulators (all four formats in turn) run in a thread of this process, so their counters can be
read: every request, every 429 sent, the most requests seen within one window. The cycle is the
real one (pools.services.polling.poll_due_accounts): leases, per-host rate limiters, stores.
The baseline is what the limits allow: per host, the requests the formats needed ÷ the rate;
limit_s is the largest. The last line is JSON with accounts, cycle_s, limit_s, ratio, 429s.
"""

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402
from simulators.http_server import LoopThread  # noqa: E402
from simulators.pools import FORMATS, make_logins, start_pool_server, stop_pool_server  # noqa: E402

log = harness.logger("pools")


def parse_args():
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--accounts", type=int, default=10000)
    parser.add_argument("--rate", type=int, default=10, help="requests per second per host")
    parser.add_argument("--formats", default=",".join(FORMATS))
    return harness.parse_bench_args(parser, "ethdash_bench_pools")


def main():
    args = parse_args()
    simulators = LoopThread().start()
    servers = []
    try:
        with harness.django_bench_database(args.db, log, keep=args.keep_db):
            measure(args, simulators, servers)
    finally:
        for server, _ in servers:
            simulators.run(stop_pool_server(server))
        simulators.stop()


def measure(args, simulators, servers):
    """Starts the pool hosts, seeds their accounts, then times one poll cycle over all."""
    formats = args.formats.split(",")
    per_host = args.accounts // args.hosts
    log(f"{args.hosts} simulated pools x {per_host} accounts, {args.rate} requests/s each")
    for number in range(args.hosts):
        logins = make_logins(per_host, seed=number + 1)
        server = simulators.run(
            start_pool_server(
                formats[number % len(formats)],
                accounts={login: {} for login in logins},
                rate_limit=(args.rate, 1.0),
                seed=number + 1,
            )
        )
        servers.append((server, logins))

    from django.utils import timezone

    from accounts.models import Farm
    from pools.models import Pool, PoolAccount, PoolSample
    from pools.services.polling import poll_due_accounts

    farm = Farm.objects.create(name="pool bench")
    accounts = []
    for number, (server, logins) in enumerate(servers):
        port = server.sockets[0].getsockname()[1]
        pool = Pool.objects.create(
            name=f"sim-{number:02d}", api_format=server.pool.format, coin="ETC", pool_id="etc1",
            base_url=f"http://127.0.0.1:{port}", rate_limit_requests=args.rate,
            rate_limit_window_s=1.0,
        )  # fmt: skip
        accounts += [
            PoolAccount(farm=farm, pool=pool, login=login, next_poll_at=timezone.now())
            for login in logins
        ]
    PoolAccount.objects.bulk_create(accounts, batch_size=2000)

    started = time.perf_counter()
    results = poll_due_accounts()
    cycle_s = time.perf_counter() - started

    limits = {}
    for (server, _), number in zip(servers, range(len(servers)), strict=True):
        limits[f"sim-{number:02d}"] = server.stats.requests / args.rate
    limit_s = max(limits.values())
    overrun = max(r.seconds - limits[r.pool.name] for r in results)
    rate_limited = sum(server.stats.rate_limited for server, _ in servers)
    stored = sum(r.stored for r in results)
    failed = sum(len(r.errors) for r in results)
    by_format = {}
    for result in results:
        entry = by_format.setdefault(result.pool.api_format, {"pools": 0, "seconds": 0.0})
        entry["pools"] += 1
        entry["seconds"] = max(entry["seconds"], round(result.seconds, 1))
    log(
        f"cycle {cycle_s:.1f} s; limits allow {limit_s:.1f} s; {stored} stored, {failed} "
        f"failed, {rate_limited} 429s; {PoolSample.objects.count()} samples"
    )
    harness.print_result(
        {
            "bench": "pools",
            "accounts": len(accounts),
            "hosts": args.hosts,
            "rate_per_host": args.rate,
            "cycle_s": round(cycle_s, 1),
            "limit_s": round(limit_s, 1),
            "ratio": round(cycle_s / limit_s, 3),
            "max_pool_overrun_s": round(overrun, 1),
            "stored": stored,
            "failed": failed,
            "rate_limited_429": rate_limited,
            "max_requests_in_a_window": max(s.stats.max_in_window for s, _ in servers),
            "by_format": by_format,
            "nproc": os.cpu_count(),
        }
    )


if __name__ == "__main__":
    main()
