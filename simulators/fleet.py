"""A fleet of simulated miners of mixed protocols in one process, for the demo and bench/poll.py.

    python -m simulators.fleet --count 1000 --gpus 8 --out /tmp/fleet.json
    python -m simulators.fleet --spec claymore:6:rx6800 --spec trex:8:rtx3080 --lose-gpu 1:30
    python -m simulators.fleet --spec trex:8:rtx3080 --overheat 0 --overheat-cycle 600:240:30

Every miner listens on its own 127.0.0.1 port; once all listen, the endpoints are written as a
JSON list of {"protocol", "port", "gpus", "password"} to --out (or stdout). It runs until
SIGINT/SIGTERM. Simulators never import Django or the apps.

`--lose-gpu N:SECONDS` drops a card of miner N (0-based) after that long. `--overheat N`: the fan
of miner N's first GPU fails in each window of `--overheat-cycle EVERY:FOR[:AT]` (seconds from
its first answer; 600:240:30 by default), as in simulators.rig_agent. Both are off unless given.
"""

import argparse
import asyncio
import json
import resource
import sys

from simulators import miners_http, miners_tcp
from simulators.faults import FaultCycle
from simulators.http_server import stop_on_signals
from simulators.rig_agent import SimulatedRig

PROTOCOLS = {
    **dict.fromkeys(miners_tcp.PROTOCOLS, miners_tcp),
    **dict.fromkeys(miners_http.PROTOCOLS, miners_http),
}
MIXED = ["claymore", "trex", "lolminer", "gminer", "nbminer", "sgminer", "ethminer", "xmrig"]
# xmrig without a GPU backend is a CPU miner; the mixed bench fleet keeps it for realism.


async def start_fleet(specs, *, seed=1, overheat=None):
    """specs: [(protocol, gpus, model)] -> [(server, endpoint dict, SimulatedRig)];
    `overheat`: {miner number: FaultCycle} of the miners whose GPU 0 overheats now and then."""
    fleet = []
    overheat = overheat or {}
    for number, (protocol, gpus, model) in enumerate(specs):
        rig = SimulatedRig(
            f"fleet-{number}", gpus, model=model, seed=seed, overheat=overheat.get(number)
        )
        server = await PROTOCOLS[protocol].start_server(protocol, rig)
        port = server.sockets[0].getsockname()[1]
        fleet.append(
            (server, {"protocol": protocol, "port": port, "gpus": gpus, "password": ""}, rig)
        )
    return fleet


def mixed_specs(count, gpus):
    return [(MIXED[i % len(MIXED)], gpus, None) for i in range(count)]


def _spec(text):
    protocol, _, rest = text.partition(":")
    gpus, _, model = rest.partition(":")
    if protocol not in PROTOCOLS:
        raise argparse.ArgumentTypeError(
            f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}"
        )
    return protocol, int(gpus or 8), model or None


async def _lose_gpu(rig, after_s):
    # A card falling off the bus: the miner keeps running and simply lists one GPU fewer.
    await asyncio.sleep(after_s)
    if len(rig.gpus) > 1:
        rig.gpus.pop(len(rig.gpus) // 2)


async def _main(args):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * args.count + 1024)), hard))
    specs = args.spec or mixed_specs(args.count, args.gpus)
    if any(not 0 <= number < len(specs) for number in args.overheat):
        raise SystemExit(f"--overheat: the fleet has miners 0 to {len(specs) - 1}")
    overheat = dict.fromkeys(args.overheat, args.overheat_cycle)
    fleet = await start_fleet(specs, seed=args.seed, overheat=overheat)
    tasks = [
        asyncio.create_task(_lose_gpu(fleet[number][2], after)) for number, after in args.lose_gpu
    ]
    document = json.dumps([endpoint for _, endpoint, _ in fleet])
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(document)
    else:
        print(document, flush=True)
    stop = stop_on_signals()
    await stop.wait()
    for task in tasks:
        task.cancel()
    for server, _, _ in fleet:
        server.close()


def _loss(text):
    number, _, after = text.partition(":")
    return int(number), float(after or 30)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=8, help="miners in a mixed fleet")
    parser.add_argument("--gpus", type=int, default=8, help="GPUs per miner in a mixed fleet")
    parser.add_argument("--spec", type=_spec, action="append", help="PROTOCOL:GPUS[:MODEL]")
    parser.add_argument("--lose-gpu", type=_loss, action="append", default=[], help="N:SECONDS")
    parser.add_argument("--overheat", type=int, action="append", default=[], metavar="N")
    parser.add_argument(
        "--overheat-cycle", type=FaultCycle.parse, default=FaultCycle(600.0, 240.0, 30.0),
        metavar="EVERY:FOR[:AT]",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", help="write the endpoints JSON here")
    asyncio.run(_main(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
