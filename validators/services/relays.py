"""What an MEV relay says it delivered for a slot: its data API's delivered-payload bid traces
(flashbots relay-specs, `apis/relay/data/proposer_payload_delivered.yaml`).

    GET {relay}/relay/v1/data/bidtraces/proposer_payload_delivered?slot=N
    -> [BidTraceV2, ...]: slot, parent_hash, block_hash, builder_pubkey, proposer_pubkey,
       proposer_fee_recipient, gas_limit, gas_used, value, block_number, num_tx

Integers come as decimal strings (`value` is a Uint256 in wei). The value is the relay's claim of
what the builder paid the proposer: it is shown beside the payment found on chain and a
difference is flagged, but it is never counted as income.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from ethdash import outbound

DELIVERED_PATH = "/relay/v1/data/bidtraces/proposer_payload_delivered"
ATTEMPTS = 3
BACKOFF_S = 0.5

_ROOT = re.compile(r"^0x[0-9a-fA-F]{64}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_PUBKEY = re.compile(r"^0x[0-9a-fA-F]{96}$")
_DIGITS = re.compile(r"^[0-9]+$")


class RelayError(outbound.OutboundError):
    """The relay could not be asked, or answered something that is not the data API's shape;
    `kind` is a transport kind, str() is fit to show the user."""


@dataclass(frozen=True)
class BidTrace:
    slot: int
    parent_hash: str
    block_hash: str
    builder_pubkey: str
    proposer_pubkey: str  # "" where the relay leaves it out (relay-specs' BidTraceV1 lacks it)
    proposer_fee_recipient: str
    gas_limit: int
    gas_used: int
    value: int  # wei
    block_number: int
    num_tx: int


def _uint(item: dict[str, Any], name: str) -> int:
    value = item.get(name)
    if not isinstance(value, str) or not _DIGITS.match(value):
        raise ValueError(f"{name} is {value!r}, not a decimal string")
    return int(value)


def _hex(item: dict[str, Any], name: str, pattern: re.Pattern, *, required: bool = True) -> str:
    value = item.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not pattern.match(value):
        raise ValueError(f"{name} is {value!r}, not the expected 0x-prefixed hex")
    return value.lower()


def parse_bid_traces(payload: Any) -> list[BidTrace]:
    """The data API's answer as BidTraces; ValueError naming the first thing that is wrong."""
    if not isinstance(payload, list):
        raise ValueError(f"expected a JSON array, got {type(payload).__name__}")
    traces = []
    for position, item in enumerate(payload):
        if not isinstance(item, dict):
            raise ValueError(f"entry {position} is {type(item).__name__}, not an object")
        try:
            traces.append(
                BidTrace(
                    slot=_uint(item, "slot"),
                    parent_hash=_hex(item, "parent_hash", _ROOT),
                    block_hash=_hex(item, "block_hash", _ROOT),
                    builder_pubkey=_hex(item, "builder_pubkey", _PUBKEY),
                    proposer_pubkey=_hex(item, "proposer_pubkey", _PUBKEY, required=False),
                    proposer_fee_recipient=_hex(item, "proposer_fee_recipient", _ADDRESS),
                    gas_limit=_uint(item, "gas_limit"),
                    gas_used=_uint(item, "gas_used"),
                    value=_uint(item, "value"),
                    block_number=_uint(item, "block_number"),
                    num_tx=_uint(item, "num_tx"),
                )
            )
        except ValueError as exc:
            raise ValueError(f"entry {position}: {exc}") from None
    return traces


def _error_message(response: httpx.Response) -> str:
    # Relays answer errors as {"code": 400, "message": "..."}.
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return ": " + body["message"][:120]
    return ""


async def relay_delivered(
    http: httpx.AsyncClient,
    relay_url: str,
    slot: int,
    proposer_pubkey: str | None = None,
    *,
    block_hash: str | None = None,
    attempts: int | None = None,
    backoff_s: float | None = None,
    sleep=asyncio.sleep,
) -> BidTrace | None:
    """The payload the relay says it delivered for `slot` (to `proposer_pubkey` and with
    `block_hash`, where given), or None when it delivered none. Raises RelayError when the relay
    is refused by the outbound policy, cannot be reached after bounded retries, answers an HTTP
    error, or answers something other than an array of bid traces."""
    url = relay_url.rstrip("/") + DELIVERED_PATH
    host = urlsplit(relay_url).hostname or relay_url
    try:
        response = await outbound.request(
            http,
            "GET",
            url,
            params={"slot": str(slot)},
            attempts=ATTEMPTS if attempts is None else attempts,
            backoff_s=BACKOFF_S if backoff_s is None else backoff_s,
            sleep=sleep,
            # A client error is not retried, and its message is worth showing.
            ok_statuses=range(400, 429),
        )
    except outbound.OutboundError as exc:
        raise RelayError.from_outbound(exc) from None
    if response.status_code != 200:
        message = f"{host} answered HTTP {response.status_code}{_error_message(response)}."
        raise RelayError("http_status", message, status=response.status_code)
    try:
        payload = response.json()
    except ValueError:
        raise RelayError("bad_answer", f"{host} did not answer JSON.") from None
    try:
        traces = parse_bid_traces(payload)
    except ValueError as exc:
        raise RelayError("bad_answer", f"{host} answered an unexpected shape ({exc}).") from None
    pubkey = (proposer_pubkey or "").lower()
    wanted_hash = (block_hash or "").lower()
    for trace in traces:
        if trace.slot != slot:
            continue
        if pubkey and trace.proposer_pubkey and trace.proposer_pubkey != pubkey:
            continue
        if wanted_hash and trace.block_hash != wanted_hash:
            continue
        return trace
    return None
