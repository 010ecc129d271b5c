"""Miner APIs over raw TCP (Claymore/PhoenixMiner, ethminer, TeamRedMiner's sgminer API), each
answering in the real program's shape from a SimulatedRig, including the odd parts: numbers as
strings, "off" for the idle dual coin, uptime in whole minutes, PCI buses that don't follow the
miner's GPU order, a trailing NUL after sgminer-style answers. `off_gpus` switches GPUs off as a
user does at the miner's console: the Claymore-protocol miner then answers as Claymore itself
(whose "off" in the per-GPU hashrates is confirmed; PhoenixMiner's is not) and leaves them out of
its total; ethminer reports them paused with "Api request" as the reason.

Run: python -m simulators.miners_tcp --protocol claymore --gpus 6 [--port 3333] [--count 10]

Stdlib plus simulators.rig_agent only (no Django, no app module), and cheap per connection, so
that one process can hold a thousand of these for a polling benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

from simulators.rig_agent import SHARE_DIFFICULTY, SimulatedRig

PROTOCOLS = ("claymore", "ethminer", "sgminer")
FAULTS = (None, "garbage", "html", "empty", "truncated", "rpc_error", "hang", "close")
VARIANTS = {
    # getstat1: a Claymore older than 10.2, answering getstat2 with "method not found";
    # getstat1_null / getstat1_short: clones answering it with a null or a 9-field result.
    "claymore": (None, "getstat1", "getstat1_null", "getstat1_short"),
    "ethminer": (None, "getstat1"),  # a build before miner_getstatdetail existed
    "sgminer": (None, "cgminer"),  # cgminer's own nesting of joined replies: one-element lists
}

IDLE_TIMEOUT_S = 30.0  # a client that connects and says nothing must not pin a handler forever
MAX_REQUEST_BYTES = 1 << 16

PHOENIX_VERSION = "PM 6.2c - ETH"
CLAYMORE_VERSION = "15.0 - ETH"
ETHMINER_VERSION = "ethminer-0.19.0-18+commit.ce52c74b"
TRM_DESCRIPTION = "TeamRedMiner 0.10.21"
POOL = "etc.2miners.com:1010"
POOL_URI = "stratum1+tcp://0x5a0b54d5dc17e0aadc383d2db43b0a0d3e029c4c.rig@etc.2miners.com:1010"

# ethminer names a device "<driver name> <memory>"; AMD's OpenCL names are chip names.
DEVICE_NAMES = {
    "rtx3060ti": ("CUDA", "GeForce RTX 3060 Ti", "7.79 GB"),
    "rtx3070": ("CUDA", "GeForce RTX 3070", "7.79 GB"),
    "rtx3080": ("CUDA", "GeForce RTX 3080", "9.78 GB"),
    "rtx3090": ("CUDA", "GeForce RTX 3090", "23.70 GB"),
    "rx580": ("OpenCL", "Ellesmere", "8.00 GB"),
    "rx5700xt": ("OpenCL", "gfx1010", "7.98 GB"),
    "rx6700xt": ("OpenCL", "gfx1031", "11.98 GB"),
    "rx6800": ("OpenCL", "gfx1030", "15.98 GB"),
}

GARBAGE = b"\x8b\x08\x00\xff\xfe\x13\x07garbage\x00\x7f\xc3(\n"
_PAGE = b"<!doctype html><html><body><h1>Not Found</h1></body></html>"
# What a web server (or ethminer's own HTTP responder) says to a JSON request on its port.
HTML = (
    b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html; charset=utf-8\r\n"
    b"Content-Length: %d\r\n\r\n%s\r\n" % (len(_PAGE), _PAGE)
)


def pci_bus(gpu_index: int) -> int:
    """The bus a simulated card sits on, fixed per card: the first two are swapped against the
    miner's order and the rest are spaced out as behind risers, so buses above 9 (hex "0b")
    appear on bigger rigs."""
    return {0: 3, 1: 1}.get(gpu_index, 2 * gpu_index + 1)


def _dumps(payload) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


class SimulatedMiner:
    """What one miner process knows: its rig, start time, settings and misbehaviour."""

    def __init__(self, protocol, rig, password, fault, variant, uptime_s, clock, off_gpus=()):
        self.protocol, self.rig, self.password = protocol, rig, password or None
        self.fault, self.variant, self.clock = fault, variant, clock
        self.off_gpus = frozenset(off_gpus)
        self.started = clock() - uptime_s
        self._sampled = False

    def sample(self) -> tuple[float, float, list[dict]]:
        """(now, uptime in s, per-GPU samples) at the time of the request."""
        now = self.clock()
        # SimulatedRig.restart() forgets the last sample time: the miner process started over.
        if self._sampled and self.rig._last_ts is None:
            self.started = now
        self._sampled = True
        samples = self.rig.sample(datetime.fromtimestamp(now, UTC))
        return now, max(0.0, now - self.started), samples

    # -- Claymore / PhoenixMiner ---------------------------------------------------------------

    def getstat(self, fields: int, off_token: str = "off") -> list[str]:
        _, uptime, samples = self.sample()
        n = len(samples)
        khs = [
            None if s["gpu"] in self.off_gpus else round(s["hashrate_hs"] / 1000) for s in samples
        ]
        accepted = [s["shares_accepted"] for s in samples]
        rejected = [s["shares_rejected"] for s in samples]
        zeros = ";".join(["0"] * n)
        total_khs = sum(k for k in khs if k is not None)
        result = [
            CLAYMORE_VERSION if self.off_gpus else PHOENIX_VERSION,
            str(int(uptime // 60)),
            f"{total_khs};{sum(accepted)};{sum(rejected)}",
            ";".join(off_token if k is None else str(k) for k in khs),
            "0;0;0",
            ";".join(["off"] * n),
            ";".join(f"{round(s['temperature_c'])};{round(s['fan_pct'])}" for s in samples),
            POOL,
            "0;0;0;0",
        ]
        if fields > 9:
            result += [";".join(map(str, accepted)), ";".join(map(str, rejected)), zeros]
            result += [zeros, zeros, zeros, ";".join(str(pci_bus(s["gpu"])) for s in samples)]
        return result

    def claymore_reply(self, request: dict) -> bytes | None:
        if self.password and request.get("psw") != self.password:
            return None  # Claymore drops a connection with a wrong "psw" without a word
        method = request.get("method")
        envelope = {"id": request.get("id", 0), "jsonrpc": "2.0"}
        if self.fault == "rpc_error":
            envelope["error"] = {"code": -32603, "message": "Internal error"}
        elif method == "miner_getstat2" and self.variant == "getstat1":
            envelope["error"] = {"code": -32601, "message": "Method not found"}
        elif method == "miner_getstat2" and self.variant == "getstat1_null":
            envelope["result"] = None
        elif method in ("miner_getstat1", "miner_getstat2"):
            full = method == "miner_getstat2" and self.variant != "getstat1_short"
            envelope["result"] = self.getstat(16 if full else 9)
            if self.fault == "truncated":
                envelope["result"] = envelope["result"][:5]
        else:
            envelope["error"] = {"code": -32601, "message": "Method not found"}
        return _dumps(envelope) + b"\n"

    # -- ethminer ------------------------------------------------------------------------------

    def getstatdetail(self) -> dict:
        _, uptime, samples = self.sample()
        mode, chip, memory = DEVICE_NAMES.get(self.rig.model, ("OpenCL", "GPU", "8.00 GB"))
        devices = []
        for position, s in enumerate(samples):
            bus = pci_bus(s["gpu"])
            start = 0xBCF0A663BFE75DAB + (position << 40)
            paused = s["gpu"] in self.off_gpus
            devices.append(
                {
                    "_index": position,
                    "_mode": mode,
                    "hardware": {
                        "name": f"{chip} {memory}",
                        "pci": f"{bus:02x}:00.0",
                        "sensors": [round(s["temperature_c"]), round(s["fan_pct"]), s["power_w"]],
                        "type": "GPU",
                    },
                    "mining": {
                        "hashrate": f"0x{0 if paused else round(s['hashrate_hs']):016x}",
                        "pause_reason": "Api request" if paused else None,
                        "paused": paused,
                        "segment": [f"0x{start:016x}", f"0x{start + (1 << 40):016x}"],
                        "shares": [s["shares_accepted"], s["shares_rejected"], 0, 7],
                    },
                }
            )
        total = round(sum(s["hashrate_hs"] for s in samples if s["gpu"] not in self.off_gpus))
        return {
            "connection": {"connected": True, "switches": 1, "uri": POOL_URI},
            "devices": devices,
            "host": {
                "name": f"rig-{self.rig.rig_id}",
                "runtime": int(uptime),
                "version": ETHMINER_VERSION,
            },
            "mining": {
                "difficulty": int(SHARE_DIFFICULTY),
                "epoch": 382,
                "epoch_changes": 1,
                "hashrate": f"0x{total:016x}",
                "shares": [
                    sum(s["shares_accepted"] for s in samples),
                    sum(s["shares_rejected"] for s in samples),
                    0,
                    7,
                ],
            },
            "monitors": {"temperatures": [60, 75]},
        }

    def ethminer_getstat1(self) -> list[str]:
        # ethminer prints a paused GPU's hashrate as the number it has, 0, never "off".
        result = self.getstat(9, off_token="0")
        result[0] = ETHMINER_VERSION  # ethminer fills [0] with its own build name, no coin
        return result

    def ethminer_reply(self, request, authorized: bool) -> tuple[bytes, bool]:
        """One reply line and whether the connection is authorised afterwards."""
        if not isinstance(request, dict):
            # ethminer spells this one "errorcode", as a string.
            error = {"errorcode": "-32700", "message": "Json parse error"}
            return _dumps({"jsonrpc": "2.0", "id": None, "error": error}) + b"\n", authorized
        envelope = {"id": request.get("id"), "jsonrpc": "2.0"}
        method = request.get("method")
        if not isinstance(method, str):
            envelope["error"] = {"code": -32600, "message": "Invalid Request"}
        elif method == "api_authorize":
            params = request.get("params") if isinstance(request.get("params"), dict) else {}
            # As in ethminer: checked against the configured password even when that is empty.
            authorized = params.get("psw") == (self.password or "")
            if authorized:
                envelope["result"] = True
            else:
                envelope["error"] = {"code": -401, "message": "Invalid password"}
        elif not authorized:
            envelope["error"] = {"code": -403, "message": "Authorization needed"}
        elif self.fault == "rpc_error":
            envelope["error"] = {"code": -32603, "message": "Internal error"}
        elif method == "miner_getstatdetail" and self.variant != "getstat1":
            envelope["result"] = self.getstatdetail()
            if self.fault == "truncated":
                envelope["result"] = {"host": envelope["result"]["host"]}
        elif method == "miner_getstat1":
            envelope["result"] = self.ethminer_getstat1()
            if self.fault == "truncated":
                envelope["result"] = envelope["result"][:5]
        elif method == "miner_ping":
            envelope["result"] = "pong"
        else:
            envelope["error"] = {"code": -32601, "message": "Method not found"}
        return _dumps(envelope) + b"\n", authorized

    # -- TeamRedMiner's sgminer-style API ------------------------------------------------------

    def _status(self, now, code, msg, kind="S") -> list[dict]:
        status = {"STATUS": kind, "When": int(now), "Code": code, "Msg": msg}
        return [{**status, "Description": TRM_DESCRIPTION}]

    def sgminer_sections(self, now, uptime, samples) -> dict:
        n = len(samples)
        total_khs = sum(s["hashrate_hs"] for s in samples) / 1000
        acc = sum(s["shares_accepted"] for s in samples)
        rej = sum(s["shares_rejected"] for s in samples)
        stale = sum(s["shares_stale"] for s in samples)
        minutes = max(uptime / 60, 1 / 60)
        summary = {
            "Elapsed": int(uptime),
            "MHS av": round(total_khs / 1000, 2),
            "MHS 30s": round(total_khs / 1000, 2),
            "KHS av": round(total_khs, 3),
            "KHS 30s": round(total_khs, 3),
            "Found Blocks": 0,
            "Getworks": int(uptime // 13) + 1,
            "Accepted": acc,
            "Rejected": rej,
            "Hardware Errors": 0,
            "Utility": round(acc / minutes, 2),
            "Discarded": 0,
            "Stale": stale,
            "Get Failures": 0,
            "Local Work": acc + rej + stale,
            "Remote Failures": 0,
            "Network Blocks": int(uptime // 13),
            "Total MH": round(total_khs * uptime / 1000, 1),
            "Work Utility": round(acc / minutes, 2),
            "Difficulty Accepted": acc * SHARE_DIFFICULTY,
            "Difficulty Rejected": rej * SHARE_DIFFICULTY,
            "Difficulty Stale": stale * SHARE_DIFFICULTY,
            "Best Share": 0,
            "Device Hardware%": 0.0,
            "Device Rejected%": round(100 * rej / max(1, acc + rej), 4),
            "Pool Rejected%": round(100 * rej / max(1, acc + rej), 4),
            "Pool Stale%": round(100 * stale / max(1, acc + rej + stale), 4),
            "Last getwork": int(now),
        }
        devs = []
        for i, s in enumerate(samples):
            khs = s["hashrate_hs"] / 1000
            temp = s["temperature_c"]
            devs.append(
                {
                    "GPU": i,
                    "Enabled": "Y",
                    "Status": "Alive",
                    "Temperature": temp,
                    "Fan Speed": round(s["fan_pct"] * 32),
                    "Fan Percent": round(s["fan_pct"]),
                    "GPU Clock": 1340,
                    "Memory Clock": 2100,
                    "GPU Voltage": 0.8,
                    "GPU Activity": 100,
                    "Powertune": 0,
                    "MHS av": round(khs / 1000, 2),
                    "MHS 30s": round(khs / 1000, 2),
                    "KHS av": round(khs, 3),
                    "KHS 30s": round(khs, 3),
                    "Accepted": s["shares_accepted"],
                    "Rejected": s["shares_rejected"],
                    "Hardware Errors": 0,
                    "Utility": round(s["shares_accepted"] / minutes, 2),
                    "Intensity": "0",
                    "Last Share Pool": 0,
                    "Last Share Time": int(now),
                    "Total MH": round(khs * uptime / 1000, 1),
                    "Diff1 Work": 0,
                    "Difficulty Accepted": s["shares_accepted"] * SHARE_DIFFICULTY,
                    "Difficulty Rejected": s["shares_rejected"] * SHARE_DIFFICULTY,
                    "Last Share Difficulty": SHARE_DIFFICULTY,
                    "Last Valid Work": int(now),
                    "Device Hardware%": 0.0,
                    "Device Rejected%": 0.0,
                    "Device Elapsed": int(uptime),
                    "TemperatureJnct": round(temp + 11, 1),
                    "TemperatureMem": round(temp + 18, 1),
                    "GPU Power": s["power_w"],
                }
            )
        return {
            "summary": {"STATUS": self._status(now, 11, "Summary"), "SUMMARY": [summary], "id": 1},
            "devs": {"STATUS": self._status(now, 9, f"{n} GPU(s)"), "DEVS": devs, "id": 1},
        }

    def sgminer_reply(self, request: dict) -> bytes:
        command = str(request.get("command", "")) if isinstance(request, dict) else ""
        now = self.clock()
        if self.fault == "rpc_error" or not command:
            body = {"STATUS": self._status(now, 14, "Invalid command", "E"), "id": 1}
            return _dumps(body) + b"\x00"
        names = list(dict.fromkeys(c for c in command.split("+") if c))
        if self.password:
            # No API password in cgminer-style miners: --api-allow decides, per command.
            sections = {
                name: {"STATUS": self._status(now, 45, f"Access denied to '{name}' command", "E")}
                for name in names
            }
        else:
            now, uptime, samples = self.sample()
            known = self.sgminer_sections(now, uptime, samples)
            sections = {
                name: known.get(name)
                or {"STATUS": self._status(now, 14, "Invalid command", "E"), "id": 1}
                for name in names
            }
        if self.fault == "truncated":
            sections = dict(list(sections.items())[:1])
        if len(names) == 1 and "+" not in command:
            return _dumps(sections[names[0]]) + b"\x00"
        if self.variant == "cgminer":
            sections = {name: [section] for name, section in sections.items()}
        return _dumps({**sections, "id": 1}) + b"\x00"


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    """Bytes up to a line feed, a complete JSON value or EOF: Claymore and cgminer take a request
    without a line feed, so a client may send none."""
    data = b""
    while len(data) < MAX_REQUEST_BYTES:
        chunk = await reader.read(4096)
        if not chunk:
            break
        data += chunk
        if b"\n" in data:
            break
        try:
            json.loads(data)
            break
        except ValueError:
            continue
    return data


def _parse(data: bytes) -> dict | None:
    """The request object, or None for anything a miner could not read as one."""
    try:
        request = json.loads(data.split(b"\n", 1)[0] or data)
    except ValueError:
        return None
    return request if isinstance(request, dict) else None


async def _until_eof(reader: asyncio.StreamReader) -> None:
    while await reader.read(4096):
        pass


async def _ethminer_session(miner: SimulatedMiner, reader, writer) -> None:
    """ethminer keeps the connection open and answers each request line."""
    authorized = not miner.password
    while True:
        line = await reader.readline()
        if not line:
            return
        if not line.strip():
            continue
        if miner.fault == "hang":
            return await _until_eof(reader)
        if miner.fault in ("garbage", "html", "empty"):
            writer.write({"garbage": GARBAGE, "html": HTML, "empty": b""}[miner.fault])
            return
        reply, authorized = miner.ethminer_reply(_parse(line), authorized)
        writer.write(reply)
        await writer.drain()


async def _serve(miner: SimulatedMiner, reader, writer) -> None:
    try:
        async with asyncio.timeout(IDLE_TIMEOUT_S):
            if miner.fault == "close":
                return
            if miner.protocol == "ethminer":
                return await _ethminer_session(miner, reader, writer)
            request = await _read_request(reader)
            if miner.fault == "hang":
                return await _until_eof(reader)
            if miner.fault in ("garbage", "html", "empty"):
                reply = {"garbage": GARBAGE, "html": HTML, "empty": b""}[miner.fault]
            elif miner.protocol == "claymore":
                reply = miner.claymore_reply(_parse(request) or {})
            else:
                reply = miner.sgminer_reply(_parse(request) or {})
            if reply:
                writer.write(reply)
                await writer.drain()
    except (OSError, TimeoutError):
        pass  # the client went away or idled out: nothing to report to anyone
    finally:
        writer.close()


async def start_server(
    protocol: str,
    rig: SimulatedRig,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    password: str | None = None,
    fault: str | None = None,
    variant: str | None = None,
    uptime_s: float = 0.0,
    clock: Callable[[], float] = time.time,
    off_gpus: tuple[int, ...] = (),
) -> asyncio.Server:
    """A listening miner API for `rig`; port 0 picks a free port (see `server_port`).
    `uptime_s` is how long the miner has been running already; `clock` (seconds) lets a test
    move time forward without sleeping; `off_gpus` are the GPU indexes switched off in the
    miner (Claymore/PhoenixMiner and ethminer)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    if fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}; known: {FAULTS}")
    if variant not in VARIANTS[protocol]:
        raise ValueError(f"unknown {protocol} variant {variant!r}; known: {VARIANTS[protocol]}")
    miner = SimulatedMiner(protocol, rig, password, fault, variant, uptime_s, clock, off_gpus)

    async def handle(reader, writer):
        await _serve(miner, reader, writer)

    return await asyncio.start_server(handle, host, port, reuse_address=True)


def server_port(server: asyncio.Server) -> int:
    return server.sockets[0].getsockname()[1]


async def _main(args) -> None:
    servers = []
    for i in range(args.count):
        rig = SimulatedRig(f"{args.protocol}-{i + 1}", args.gpus, args.model, seed=args.seed)
        port = args.port + i if args.port else 0
        server = await start_server(
            args.protocol,
            rig,
            host=args.host,
            port=port,
            password=args.password,
            fault=args.fault,
            variant=args.variant,
            uptime_s=args.uptime,
            off_gpus=tuple(args.off_gpu),
        )
        servers.append(server)
        where = f"{args.host}:{server_port(server)}"
        print(f"{args.protocol} rig {rig.rig_id} ({args.gpus}x{rig.model}) on {where}", flush=True)
    await asyncio.gather(*(server.serve_forever() for server in servers))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--protocol", choices=PROTOCOLS, required=True)
    p.add_argument("--gpus", type=int, default=6)
    p.add_argument("--model", default=None)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="first port; 0 = free ports")
    p.add_argument("--count", type=int, default=1, help="number of rigs, on consecutive ports")
    p.add_argument("--password", default=None)
    p.add_argument("--fault", choices=[f for f in FAULTS if f], default=None)
    p.add_argument("--variant", default=None)
    p.add_argument("--uptime", type=float, default=0.0, help="seconds already running")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--off-gpu", type=int, action="append", default=[], help="GPU index switched off (repeat)"
    )
    args = p.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
