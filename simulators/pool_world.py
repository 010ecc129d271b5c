"""The demo's pool world in one process: an EVM chain with its JSON-RPC node, pools of every
format whose accounts' payouts are real transactions on that chain, and three misbehaving pools
(one that rate-limits hard, one that is down, one that answers an HTML error page).

    python -m simulators.pool_world --spec spec.json --out world.json

spec.json: {"accounts": [{"format": "open-ethereum-pool", "login": "0x...",
             "workers": {"rig-01": 370e6, ...}, "payouts_wei": [10**17, ...],
             "mismatch_wei": 10**16}]}
`mismatch_wei`, when given, adds a payout the pool lists with that amount while the chain
carries a different one, to show a mismatch. An optional "beacon": {start_beacon_node
arguments} adds a simulated beacon node on the same chain and an MEV relay (its
"attestation_outage": [index or [indices], every, for, at] makes them miss their attestations in
some epochs, see simulators.beacon_chain). An optional "outage": {"format": "ethermine-v1",
"every_s": 600, "for_s": 150, "at_s": 180} makes that format's healthy pool answer 502 while
the cycle holds (seconds since the world started; simulators.pools, `outage`). world.json:
{"node_url", "chain_id", "pools": [{"name", "format", "base_url", "fault", "outage",
"rate_limit", "logins"}], "beacon_url"?, "relay_url"?}. Runs until SIGINT/SIGTERM.
"""

import argparse
import asyncio
import json
import sys
import time

from simulators.beacon_node import start_beacon_node
from simulators.execution_node import SimulatedChain, start_execution_node
from simulators.faults import FaultCycle
from simulators.http_server import stop_on_signals
from simulators.pools import FORMATS, start_pool_server
from simulators.relay import start_relay

FAULTY = [
    ("Strict pool (2 req/s)", "open-ethereum-pool", None, (2, 1.0)),
    ("Pool that is down", "miningcore", "down", None),
    ("Pool answering HTML", "nanopool-v1", "html", None),
]


def _url(server):
    return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def build_world(spec):
    chain = SimulatedChain()
    node = await start_execution_node(chain)
    now = int(time.time())
    by_format = {fmt: {} for fmt in FORMATS}
    for account in spec["accounts"]:
        payouts = []
        for n, amount in enumerate(account.get("payouts_wei", [])):
            payouts.append((chain.pay(account["login"], amount), amount, now - 86400 * (n + 1)))
        if account.get("mismatch_wei"):
            # The chain carries half of what the pool lists.
            tx = chain.pay(account["login"], account["mismatch_wei"] // 2)
            payouts.append((tx, account["mismatch_wei"], now - 3600))
        workers = account.get("workers", {})
        by_format[account["format"]][account["login"]] = {
            "worker_names": list(workers),
            "hashrate_hs": sum(workers.values()) or None,
            "payouts": payouts,
        }
    chain.mine(12)  # payouts with confirmations
    pools, servers = [], [node]
    outage = spec.get("outage") or {}
    cycle = (
        FaultCycle(outage["every_s"], outage["for_s"], outage.get("at_s", 0.0)) if outage else None
    )
    for fmt, accounts in by_format.items():
        if not accounts:
            continue
        down_now_and_then = cycle if outage.get("format") == fmt else None
        server = await start_pool_server(
            fmt, accounts=accounts, rate_limit=(10, 1.0), outage=down_now_and_then
        )
        servers.append(server)
        pools.append(
            {"name": f"Simulated {fmt}", "format": fmt, "base_url": _url(server), "fault": None,
             "outage": [cycle.every, cycle.length, cycle.at] if down_now_and_then else None,
             "rate_limit": [10, 1.0], "logins": list(accounts)}
        )  # fmt: skip
    first_login = spec["accounts"][0]["login"] if spec["accounts"] else "0x" + "0" * 40
    for name, fmt, fault, rate_limit in FAULTY:
        server = await start_pool_server(
            fmt, accounts={first_login: {}}, fault=fault, rate_limit=rate_limit
        )
        servers.append(server)
        pools.append(
            {"name": name, "format": fmt, "base_url": _url(server), "fault": fault, "outage": None,
             "rate_limit": list(rate_limit) if rate_limit else None, "logins": [first_login]}
        )  # fmt: skip
    world = {"node_url": _url(node), "chain_id": chain.w3.eth.chain_id, "pools": pools}
    if spec.get("beacon"):
        # The validators' side of the same chain: a beacon node whose blocks are mined on it
        # (priority fees, MEV payments, withdrawals) and a relay that reports the MEV blocks.
        # Genesis now: every block of the chain then has a real execution block behind it.
        options = {"genesis_time": time.time(), **spec["beacon"]}
        if options.get("attestation_outage"):
            index, every, length, at = options["attestation_outage"]
            indices = tuple(index) if isinstance(index, list) else index
            options["attestation_outage"] = (indices, FaultCycle(every, length, at))
        beacon = await start_beacon_node(execution=chain, **options)
        relay = await start_relay(beacon.chain)
        servers += [beacon, relay]
        world.update(beacon_url=_url(beacon), relay_url=_url(relay))
    return world, servers


async def _main(args):
    with open(args.spec) as handle:
        spec = json.load(handle)
    world, servers = await build_world(spec)
    with open(args.out, "w") as handle:
        json.dump(world, handle)
    stop = stop_on_signals()
    await stop.wait()
    for server in servers:
        server.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", required=True)
    parser.add_argument("--out", required=True)
    asyncio.run(_main(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
