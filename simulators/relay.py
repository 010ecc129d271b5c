"""A simulated MEV-Boost relay: the data API of flashbots/relay-specs on loopback, reporting the
payloads it delivered to validator 7 of a simulated beacon chain (simulators.beacon_chain.Chain
with an execution chain attached), as BidTraceV2 objects with every number a decimal string.

    relay = await start_relay(beacon_server.chain)   # port from relay.sockets[0]
    GET /relay/v1/data/bidtraces/proposer_payload_delivered?slot=&cursor=&limit=
        &proposer_pubkey=&builder_pubkey=&block_number=&block_hash=&order_by=
    await stop_relay(relay)

Only MEV blocks that were really mined on the execution chain are listed, in all three shapes a
builder pays in (simulators.beacon_chain's `mev_shape`). `value` is what the proposer's fee
recipient gained on chain (the builder's payment, plus the priority fees where the fee recipient
is the coinbase), except in epochs with epoch % 3 == 2, where the relay claims 10% more: a
relay's value is a claim, and a dashboard must show the difference.
Deliberately independent of Django and of the ethdash code.
"""

from __future__ import annotations

import asyncio
import re
from urllib.parse import parse_qs

from simulators.http_server import HttpApp, HttpConnection, Request, Response, close_server, serve

PATH = "/relay/v1/data/bidtraces/proposer_payload_delivered"
DEFAULT_LIMIT = 100
MAX_LIMIT = 200
_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
_PUBKEY = re.compile(r"^0x[0-9a-fA-F]{96}$")


class RelayError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _uint(query: dict, name: str) -> int | None:
    if name not in query:
        return None
    raw = query[name][0]
    if not raw.isdigit():
        raise RelayError(f"invalid {name}: {raw!r}")
    return int(raw)


def _matching(query: dict, name: str, pattern: re.Pattern) -> str | None:
    if name not in query:
        return None
    raw = query[name][0]
    if not pattern.match(raw):
        raise RelayError(f"invalid {name}: {raw!r}")
    return raw.lower()


def bid_trace(chain, slot: int, block: dict) -> dict:
    """The BidTraceV2 the relay reports for an MEV block it delivered."""
    return {
        "slot": str(slot),
        "parent_hash": block["parent_hash"],
        "block_hash": block["hash"],
        "builder_pubkey": chain.builder_pubkey(),
        "proposer_pubkey": chain.pubkey(block["proposer_index"]),
        "proposer_fee_recipient": block["mev_recipient"],
        "gas_limit": str(block["gas_limit"]),
        "gas_used": str(block["gas_used"]),
        "value": str(chain.relay_value_wei(slot)),
        "block_number": str(block["number"]),
        "num_tx": str(len(block["transaction_hashes"])),
    }


def delivered(chain, query: dict) -> list[dict]:
    """The payloads delivered, newest slot first, filtered as the data API filters them;
    RelayError for a malformed filter."""
    slot = _uint(query, "slot")
    cursor = _uint(query, "cursor")
    limit = _uint(query, "limit")
    block_number = _uint(query, "block_number")
    block_hash = _matching(query, "block_hash", _HASH)
    proposer = _matching(query, "proposer_pubkey", _PUBKEY)
    builder = _matching(query, "builder_pubkey", _PUBKEY)
    order_by = query.get("order_by", [None])[0]
    if slot is not None and cursor is not None:
        raise RelayError("cannot filter by slot and cursor at once")
    if limit is not None and not 0 < limit <= MAX_LIMIT:
        raise RelayError(f"limit must be between 1 and {MAX_LIMIT}")
    if order_by not in (None, "value", "-value"):
        raise RelayError(f"invalid order_by: {order_by!r}")
    mined = chain.mined_el_blocks()
    traces = []
    for at in sorted(mined, reverse=True):
        block = mined[at]
        if not block["builder"]:  # not an MEV-Boost block: the relay delivered nothing
            continue
        if (slot is not None and at != slot) or (cursor is not None and at > cursor):
            continue
        trace = bid_trace(chain, at, block)
        if block_number is not None and block["number"] != block_number:
            continue
        if block_hash is not None and trace["block_hash"] != block_hash:
            continue
        if proposer is not None and trace["proposer_pubkey"] != proposer:
            continue
        if builder is not None and trace["builder_pubkey"] != builder:
            continue
        traces.append(trace)
    if order_by:
        traces.sort(key=lambda t: int(t["value"]), reverse=order_by == "-value")
    return traces[: limit or DEFAULT_LIMIT]


class _RelayApp(HttpApp):
    def __init__(self, chain):
        self.chain = chain
        self.requests = 0

    def handle(self, request: Request, connection: HttpConnection) -> Response:
        self.requests += 1
        if request.path != PATH:
            return Response.json({"code": 404, "message": f"no route for {request.path}"}, 404)
        if request.method != "GET":
            return Response.json({"code": 405, "message": f"{request.method} not allowed"}, 405)
        try:
            return Response.json(delivered(self.chain, parse_qs(request.query)))
        except RelayError as error:
            return Response.json({"code": 400, "message": error.message}, 400)


async def start_relay(chain, host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    """Serves the relay's data API for `chain`; `server.relay.requests` counts the requests."""
    app = _RelayApp(chain)
    server = await serve(app, host, port)
    server.relay = app
    return server


async def stop_relay(server: asyncio.Server) -> None:
    """Stops listening and drops kept-alive connections."""
    await close_server(server)
