"""A simulated Ethereum beacon node: the standard Beacon API (ethereum/beacon-APIs) on loopback,
over a chain whose slots advance in real time, answering in the spec's exact shapes (all integers
as decimal strings, the `data` / `execution_optimistic` / `finalized` envelope, `{code, message}`
errors, Server-Sent Events on `/eth/v1/events`). Every endpoint it serves is checked against the
API's response schemas (ethereum/beacon-APIs, pinned) by
validators/tests/test_beacon_simulator_conformance.py; docs/validators.md lists them.

    server = await start_beacon_node(seconds_per_slot=1.0, slots_per_epoch=8, registry_size=1000)
    port = server.sockets[0].getsockname()[1]
    server.chain.current_slot(); server.stats["POST /eth/v1/validator/liveness/{epoch}"]
    await stop_beacon_node(server)

The chain itself (clock, registry, rewards, blocks, scenarios) is simulators.beacon_chain; this
module serves it through simulators.http_server.
`--attestation-outage INDEX[,INDEX...]:EVERY:FOR[:AT]` (epochs since genesis; off unless given)
makes those validators miss their attestations now and then, as the chain's docstring describes.
Deliberately independent of Django and of the ethdash code.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import hashlib
import json
import math
import re
import time
from collections import Counter
from urllib.parse import parse_qs, unquote

from simulators.beacon_chain import (
    CONSENSUS_VERSION,
    FAR_FUTURE_EPOCH,
    GENESIS_FORK_VERSION,
    GWEI_PER_ETH,
    SYNC_COMMITTEE_SIZE,
    SYNC_COMMITTEE_SUBNET_COUNT,
    ZERO_ROOT,
    ApiError,
    Chain,
)
from simulators.faults import FaultCycle
from simulators.http_server import HttpApp, HttpConnection, Request, Response, close_server, serve

TOPICS = ("head", "block", "finalized_checkpoint", "chain_reorg")
# The GET forms of validators and validator_balances take at most this many ids (the spec's
# `maxItems: 64` of the `id` query parameter; more is 414, larger sets go by POST).
MAX_QUERY_IDS = 64
VALIDATOR_STATUSES = frozenset(
    {
        "pending_initialized",
        "pending_queued",
        "active_ongoing",
        "active_exiting",
        "active_slashed",
        "exited_unslashed",
        "exited_slashed",
        "withdrawal_possible",
        "withdrawal_done",
        # the groups a filter may name
        "active",
        "pending",
        "exited",
        "withdrawal",
    }
)
# Attestation committees (the consensus spec's get_committee_count_per_slot).
MAX_COMMITTEES_PER_SLOT, TARGET_COMMITTEE_SIZE = 64, 128
# Scenario validators have small indices (simulators.beacon_chain); every other one is active
# from genesis on, so the inactive ones of an epoch are found among these.
SCENARIO_SCAN = 1024


class Stats:
    """Requests per endpoint (`stats["POST /eth/v1/validator/liveness/{epoch}"]`), ids asked per
    endpoint in total (`stats.ids`) and the most ids in one request (`stats.max_ids`)."""

    def __init__(self):
        self.requests: Counter[str] = Counter()
        self.ids: Counter[str] = Counter()
        self.max_ids: Counter[str] = Counter()

    def __getitem__(self, endpoint: str) -> int:
        return self.requests[endpoint]

    def total(self) -> int:
        return sum(self.requests.values())

    def reset(self) -> None:
        self.requests.clear()
        self.ids.clear()
        self.max_ids.clear()


def _status_matches(status: str, wanted: set[str]) -> bool:
    return status in wanted or status.split("_", 1)[0] in wanted


# --------------------------------------------------------------------------------- handlers


def _envelope(chain: Chain, data, slot: int | None = None) -> dict:
    finalized = slot is not None and slot <= chain.finalized_epoch() * chain.slots_per_epoch
    return {"execution_optimistic": chain.optimistic, "finalized": finalized, "data": data}


def _epoch(raw: str) -> int:
    if not raw.isdigit():
        raise ApiError(400, f"Invalid epoch: {raw}")
    return int(raw)


def _json_body(body: bytes):
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ApiError(400, f"Invalid JSON body: {exc}") from None


def genesis(chain, match, query, body):
    return 200, {
        "data": {
            "genesis_time": str(int(chain.genesis_time)),
            "genesis_validators_root": chain.genesis_validators_root,
            "genesis_fork_version": GENESIS_FORK_VERSION,
        }
    }


def spec(chain, match, query, body):
    ms = round(chain.seconds_per_slot * 1000)
    data = {
        "CONFIG_NAME": "simulated",
        "PRESET_BASE": "mainnet",
        "SLOTS_PER_EPOCH": str(chain.slots_per_epoch),
        "MIN_GENESIS_TIME": str(int(chain.genesis_time)),
        "GENESIS_DELAY": "0",
        "GENESIS_FORK_VERSION": GENESIS_FORK_VERSION,
        "ALTAIR_FORK_EPOCH": "0",
        "BELLATRIX_FORK_EPOCH": "0",
        "CAPELLA_FORK_EPOCH": "0",
        "DENEB_FORK_EPOCH": "0",
        "ELECTRA_FORK_EPOCH": "0",
        "FULU_FORK_EPOCH": str(FAR_FUTURE_EPOCH),
        "EFFECTIVE_BALANCE_INCREMENT": str(GWEI_PER_ETH),
        "MAX_EFFECTIVE_BALANCE": str(32 * GWEI_PER_ETH),
        "MAX_EFFECTIVE_BALANCE_ELECTRA": str(2048 * GWEI_PER_ETH),
        "MIN_ACTIVATION_BALANCE": str(32 * GWEI_PER_ETH),
        "EJECTION_BALANCE": str(16 * GWEI_PER_ETH),
        "SYNC_COMMITTEE_SIZE": str(SYNC_COMMITTEE_SIZE),
        "EPOCHS_PER_SYNC_COMMITTEE_PERIOD": str(chain.sync_period_epochs),
        "DEPOSIT_CONTRACT_ADDRESS": "0x00000000219ab540356cBB839Cbe05303d7705Fa",
        "DEPOSIT_CHAIN_ID": str(chain.deposit_chain_id),
    }
    if ms % 1000 == 0:
        data["SECONDS_PER_SLOT"] = str(ms // 1000)
    if chain.slot_duration_ms or ms % 1000:  # a fractional slot has no SECONDS_PER_SLOT
        data["SLOT_DURATION_MS"] = str(ms)
    return 200, {"data": data}


def health(chain, match, query, body):
    if "syncing_status" in query:
        raw = query["syncing_status"][0]
        if not raw.isdigit() or not 100 <= int(raw) <= 599:
            raise ApiError(400, f"Invalid syncing_status: {raw}")
        status = int(raw)
    else:
        status = 206
    busy = chain.syncing or chain.optimistic or chain.el_offline
    return (status if busy else 200), None


def syncing(chain, match, query, body):
    return 200, {
        "data": {
            "head_slot": str(chain.current_slot()),
            "sync_distance": "0",
            "is_syncing": chain.syncing,
            "is_optimistic": chain.optimistic,
            "el_offline": chain.el_offline,
        }
    }


def _query_list(query, name: str) -> list[str]:
    """A GET list parameter, repeated (`id=1&id=2`) or comma-separated (`id=1,2`), or both."""
    return [part.strip() for raw in query.get(name, []) for part in raw.split(",")]


def _query_ids(query) -> list[str] | None:
    """The `id` query of a GET validators/validator_balances: None when absent (all
    validators); 414 past MAX_QUERY_IDS; an empty item is malformed (400 from parse_ids)."""
    if "id" not in query:
        return None
    asked = _query_list(query, "id")
    if len(asked) > MAX_QUERY_IDS:
        raise ApiError(414, f"Too many validator IDs in request: {len(asked)} > {MAX_QUERY_IDS}")
    return asked


def _statuses(statuses) -> set[str]:
    if not isinstance(statuses, list) or not all(isinstance(s, str) for s in statuses):
        raise ApiError(400, "Invalid statuses")
    unknown = [s for s in statuses if s not in VALIDATOR_STATUSES]
    if unknown:
        raise ApiError(400, f"Invalid validator status: {unknown[0]}")
    return set(statuses)


def validators(chain, match, query, body):
    slot = chain.resolve_state(match["state_id"])
    if body is None:  # the GET form: ?id=...&status=...
        asked = _query_ids(query)
        wanted = _statuses(_query_list(query, "status"))
    else:
        document = _json_body(body) or {}
        if not isinstance(document, dict):
            raise ApiError(400, "Invalid request body: expected {ids, statuses}")
        asked = document.get("ids")
        wanted = _statuses(document.get("statuses") or [])
    ids = chain.parse_ids(asked)
    epoch = slot // chain.slots_per_epoch
    data = []
    # Ids asked for but none known: nothing (not the whole registry, as no ids at all means).
    for index in chain.all_or(ids) if ids or not asked else []:
        entry = chain.validator(index, epoch, slot)
        if not wanted or _status_matches(entry["status"], wanted):
            data.append(entry)
    return 200, _envelope(chain, data, slot), len(ids)


def validator_balances(chain, match, query, body):
    slot = chain.resolve_state(match["state_id"])
    asked = _query_ids(query) if body is None else _json_body(body)
    ids = chain.parse_ids(asked)
    data = [
        {"index": str(index), "balance": str(chain.balance_at(index, slot))}
        for index in (chain.all_or(ids) if ids or not asked else [])
    ]
    return 200, _envelope(chain, data, slot), len(ids)


def _checkpoint(chain: Chain, epoch: int) -> dict:
    # Before finality (or justification) is reached the state holds epoch 0 and the zero root.
    if epoch <= 0:
        return {"epoch": "0", "root": ZERO_ROOT}
    return {
        "epoch": str(epoch),
        "root": chain.block_root(chain.last_block_slot(epoch * chain.slots_per_epoch)),
    }


def finality_checkpoints(chain, match, query, body):
    """The state's checkpoints: its epoch minus one justified, minus two finalized, as the chain's
    named `justified`/`finalized` states and the finalized_checkpoint events have them."""
    slot = chain.resolve_state(match["state_id"])
    epoch = slot // chain.slots_per_epoch
    data = {
        "previous_justified": _checkpoint(chain, epoch - 2),
        "current_justified": _checkpoint(chain, epoch - 1),
        "finalized": _checkpoint(chain, epoch - 2),
    }
    return 200, _envelope(chain, data, slot)


def attestation_rewards(chain, match, query, body):
    epoch = _epoch(match["epoch"])
    if chain.current_epoch() < epoch + 2:
        raise ApiError(404, f"Rewards of epoch {epoch} are not computable before epoch {epoch + 2}")
    if (epoch + 1) * chain.slots_per_epoch < chain.oldest_kept_slot():
        raise ApiError(404, f"State of epoch {epoch} is pruned")
    asked = _json_body(body)
    ids = chain.parse_ids(asked)
    totals, balances = [], set()
    for index in chain.all_or(ids) if ids or not asked else []:
        head, target, source = chain.attestation_reward(index, epoch)
        balances.add(chain.effective_balance(index, epoch))
        totals.append(
            {
                "validator_index": str(index),
                "head": str(head),
                "target": str(target),
                "source": str(source),
                "inactivity": "0",
            }
        )
    ideal = []
    for eb in sorted(balances):
        head, target, source = chain.ideal(eb)
        ideal.append(
            {
                "effective_balance": str(eb),
                "head": str(head),
                "target": str(target),
                "source": str(source),
                "inactivity": "0",
            }
        )
    slot = (epoch + 2) * chain.slots_per_epoch - 1
    return 200, _envelope(chain, {"ideal_rewards": ideal, "total_rewards": totals}, slot), len(ids)


def proposer_duties(chain, match, query, body):
    epoch = _epoch(match["epoch"])
    if epoch > chain.current_epoch() + 1:
        raise ApiError(400, f"Epoch {epoch} is too far in the future")
    start = epoch * chain.slots_per_epoch
    data = [
        {
            "pubkey": chain.pubkey(chain.proposer(slot)),
            "validator_index": str(chain.proposer(slot)),
            "slot": str(slot),
        }
        for slot in range(start, start + chain.slots_per_epoch)
    ]
    dependent = chain.block_root(chain.last_block_slot(max(0, start - 1)))
    return 200, {
        "dependent_root": dependent,
        "execution_optimistic": chain.optimistic,
        "data": data,
    }


class Committees:
    """One epoch's attestation committees, as the consensus spec slices them
    (compute_committee over the shuffled active set) but shuffled by a seeded affine
    permutation, so that a validator's place is computed alone, without shuffling the registry."""

    def __init__(self, chain: Chain, epoch: int):
        self.chain, self.epoch = chain, epoch
        size = chain.registry_size
        self.multiplier = _coprime(_seeded(chain.seed, "shuffle", epoch) % size or 1, size)
        self.offset = _seeded(chain.seed, "offset", epoch) % size
        inactive = [i for i in range(min(size, SCENARIO_SCAN)) if not chain.is_active(i, epoch)]
        self.inactive_positions = sorted(self._place(i) for i in inactive)
        self.active_count = size - len(inactive)
        self.per_slot = max(
            1,
            min(
                MAX_COMMITTEES_PER_SLOT,
                self.active_count // chain.slots_per_epoch // TARGET_COMMITTEE_SIZE,
            ),
        )

    def _place(self, index: int) -> int:
        return (self.multiplier * index + self.offset) % self.chain.registry_size

    def duty(self, index: int) -> dict | None:
        """The attester duty of a validator, or None when it is not active in the epoch."""
        chain = self.chain
        if not chain.is_active(index, self.epoch):
            return None
        place = self._place(index)
        # Its position among the active validators: inactive ones take no place.
        position = place - bisect.bisect_left(self.inactive_positions, place)
        count, total = self.per_slot * chain.slots_per_epoch, self.active_count
        committee = position * count // total
        while total * (committee + 1) // count <= position:  # the spec's slice bounds
            committee += 1
        while total * committee // count > position:
            committee -= 1
        start, end = total * committee // count, total * (committee + 1) // count
        return {
            "pubkey": chain.pubkey(index),
            "validator_index": str(index),
            "committee_index": str(committee % self.per_slot),
            "committee_length": str(end - start),
            "committees_at_slot": str(self.per_slot),
            "validator_committee_index": str(position - start),
            "slot": str(self.epoch * chain.slots_per_epoch + committee // self.per_slot),
        }


def _seeded(*parts) -> int:
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "big")


def _coprime(candidate: int, size: int) -> int:
    while math.gcd(candidate, size) != 1:
        candidate += 1
    return candidate


def attester_duties(chain, match, query, body):
    """POST body: validator indices as decimal strings (no pubkeys). An index the registry does
    not hold, or a validator not active in the epoch, has no duty and is left out."""
    epoch = _epoch(match["epoch"])
    if epoch > chain.current_epoch() + 1:
        raise ApiError(400, f"Epoch {epoch} is too far in the future")
    raws = _json_body(body)
    if not isinstance(raws, list) or not raws:
        raise ApiError(400, "Request body must be a non-empty array of validator indices")
    indices = []
    for raw in raws:
        if not isinstance(raw, str) or not raw.isdigit() or len(raw) > 20:
            raise ApiError(400, f"Invalid validator index: {raw!r}")
        indices.append(int(raw))
    committees = Committees(chain, epoch)
    data = []
    for index in dict.fromkeys(indices):
        duty = committees.duty(index) if index < chain.registry_size else None
        if duty is not None:
            data.append(duty)
    # dependent_root: the block root at the last slot of epoch - 2 (genesis on underflow).
    start = max(0, epoch - 1) * chain.slots_per_epoch
    dependent = chain.block_root(chain.last_block_slot(max(0, start - 1)))
    return (
        200,
        {
            "dependent_root": dependent,
            "execution_optimistic": chain.optimistic,
            "data": data,
        },
        len(indices),
    )


LIVE_OUTCOMES = ("ok", "head_missed", "slashed")  # a vote was seen, whatever it earned


def liveness(chain, match, query, body):
    epoch = _epoch(match["epoch"])
    current = chain.current_epoch()
    oldest = current - chain.liveness_history_epochs
    if not oldest <= epoch <= current:
        raise ApiError(400, f"Liveness is served for epochs {max(0, oldest)}..{current}")
    ids = chain.parse_ids(_json_body(body))
    if not ids:
        raise ApiError(400, "Request body must hold at least one validator index")
    data = [
        {"index": str(i), "is_live": chain.attestation_outcome(i, epoch) in LIVE_OUTCOMES}
        for i in ids
    ]
    return 200, {"data": data}, len(ids)


def block_rewards(chain, match, query, body):
    slot, _ = chain.resolve_block(match["block_id"])
    return 200, _envelope(chain, chain.block_rewards(slot), slot)


def header(chain, match, query, body):
    slot, canonical = chain.resolve_block(match["block_id"])
    return 200, _envelope(chain, chain.header(slot, canonical), slot)


def headers(chain, match, query, body):
    if "parent_root" in query:
        found = chain._find_root(query["parent_root"][0], "block")
        if found is None or not found[1]:
            return 200, _envelope(chain, [])  # an orphan has no children
        children = chain.children_headers(found[0])
        if "slot" in query:
            children = [h for h in children if h["header"]["message"]["slot"] == query["slot"][0]]
        return 200, _envelope(chain, children, found[0])
    if "slot" in query:
        raw = query["slot"][0]
        if not raw.isdigit():
            raise ApiError(400, f"Invalid slot: {raw}")
        slot = int(raw)
    else:
        slot = chain.last_block_slot(chain.current_slot())
    return 200, _envelope(chain, chain.headers_at(slot), slot)


def block(chain, match, query, body):
    slot, canonical = chain.resolve_block(match["block_id"])
    document = {
        "version": CONSENSUS_VERSION,
        **_envelope(chain, chain.block(slot, canonical), slot),
    }
    if not canonical:
        document["finalized"] = False
    return 200, document, 0, {"Eth-Consensus-Version": CONSENSUS_VERSION}


def pending_deposits(chain, match, query, body):
    if not chain.serves_pending_deposits:  # as a node without the endpoint answers
        raise ApiError(404, "No route for pending_deposits")
    slot = chain.resolve_state(match["state_id"])
    document = {
        "version": CONSENSUS_VERSION,
        **_envelope(chain, chain.pending_deposits(slot), slot),
    }
    return 200, document, 0, {"Eth-Consensus-Version": CONSENSUS_VERSION}


def _sync_epoch(chain: Chain, raw: str, state_epoch: int) -> int:
    epoch = _epoch(raw)
    if not 0 <= chain.sync_period(epoch) - chain.sync_period(state_epoch) <= 1:
        raise ApiError(
            400, f"Epoch {epoch} is outside the state's sync committee period and the next one"
        )
    return epoch


def sync_committees(chain, match, query, body):
    slot = chain.resolve_state(match["state_id"])
    state_epoch = slot // chain.slots_per_epoch
    epoch = _sync_epoch(chain, query["epoch"][0], state_epoch) if "epoch" in query else state_epoch
    seats = [str(i) for i in chain.sync_committee(chain.sync_period(epoch))]
    size = SYNC_COMMITTEE_SIZE // SYNC_COMMITTEE_SUBNET_COUNT
    data = {
        "validators": seats,
        "validator_aggregates": [seats[i : i + size] for i in range(0, len(seats), size)],
    }
    return 200, _envelope(chain, data, slot)


def sync_committee_rewards(chain, match, query, body):
    slot, canonical = chain.resolve_block(match["block_id"])
    if not canonical:
        raise ApiError(404, "Block not found in the canonical chain")
    ids = chain.parse_ids(_json_body(body))
    rewards = chain.sync_rewards(slot)
    wanted = rewards if not ids else [i for i in ids if i in rewards]
    data = [{"validator_index": str(i), "reward": str(rewards[i])} for i in wanted]
    return 200, _envelope(chain, data, slot), len(ids)


def sync_duties(chain, match, query, body):
    epoch = _sync_epoch(chain, match["epoch"], chain.current_epoch())
    ids = chain.parse_ids(_json_body(body))
    if not ids:
        raise ApiError(400, "Request body must hold at least one validator index")
    seats = chain.sync_committee(chain.sync_period(epoch))
    positions: dict[int, list[str]] = {}
    for position, index in enumerate(seats):
        positions.setdefault(index, []).append(str(position))
    data = [
        {
            "pubkey": chain.pubkey(index),
            "validator_index": str(index),
            "validator_sync_committee_indices": positions[index],
        }
        for index in ids
        if index in positions
    ]
    return 200, {"execution_optimistic": chain.optimistic, "data": data}, len(ids)


ROUTES = [
    ("GET", "/eth/v1/beacon/genesis", genesis),
    ("GET", "/eth/v1/config/spec", spec),
    ("GET", "/eth/v1/node/health", health),
    ("GET", "/eth/v1/node/syncing", syncing),
    ("GET", "/eth/v1/beacon/states/{state_id}/validators", validators),
    ("POST", "/eth/v1/beacon/states/{state_id}/validators", validators),
    ("GET", "/eth/v1/beacon/states/{state_id}/validator_balances", validator_balances),
    ("POST", "/eth/v1/beacon/states/{state_id}/validator_balances", validator_balances),
    ("GET", "/eth/v1/beacon/states/{state_id}/finality_checkpoints", finality_checkpoints),
    ("POST", "/eth/v1/beacon/rewards/attestations/{epoch}", attestation_rewards),
    ("GET", "/eth/v1/validator/duties/proposer/{epoch}", proposer_duties),
    ("POST", "/eth/v1/validator/duties/attester/{epoch}", attester_duties),
    ("POST", "/eth/v1/validator/liveness/{epoch}", liveness),
    ("GET", "/eth/v1/beacon/rewards/blocks/{block_id}", block_rewards),
    ("GET", "/eth/v1/beacon/headers/{block_id}", header),
    ("GET", "/eth/v1/beacon/headers", headers),
    ("GET", "/eth/v2/beacon/blocks/{block_id}", block),
    ("GET", "/eth/v1/beacon/states/{state_id}/sync_committees", sync_committees),
    ("GET", "/eth/v1/beacon/states/{state_id}/pending_deposits", pending_deposits),
    ("POST", "/eth/v1/beacon/rewards/sync_committee/{block_id}", sync_committee_rewards),
    ("POST", "/eth/v1/validator/duties/sync/{epoch}", sync_duties),
]
_COMPILED = [
    (method, template, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$"), fn)
    for method, template, fn in ROUTES
]
EVENTS_PATH = "/eth/v1/events"


# --------------------------------------------------------------------------------- events


def _head_frame(chain: Chain, slot: int, root: str, state: str) -> tuple[str, dict]:
    epoch = slot // chain.slots_per_epoch
    start = epoch * chain.slots_per_epoch
    return (
        "head",
        {
            "slot": str(slot),
            "block": root,
            "state": state,
            "epoch_transition": slot % chain.slots_per_epoch == 0,
            "previous_duty_dependent_root": chain.block_root(
                chain.last_block_slot(max(0, start - chain.slots_per_epoch - 1))
            ),
            "current_duty_dependent_root": chain.block_root(
                chain.last_block_slot(max(0, start - 1))
            ),
            "execution_optimistic": chain.optimistic,
        },
    )


def slot_events(chain: Chain, slot: int) -> list[tuple[str, dict]]:
    """The SSE frames a node emits when `slot` starts, in the eventstream spec's shapes. An
    orphaned block is announced as the head of its slot; the next slot reorgs it out (depth 1)
    onto that slot's block, or onto the block before the orphan when that slot is empty too."""
    events = []
    optimistic = chain.optimistic
    epoch = slot // chain.slots_per_epoch
    orphan = chain.is_orphaned(slot)
    if chain.has_block(slot) or orphan:
        root = chain.orphan_root(slot) if orphan else chain.block_root(slot)
        state = chain.orphan_state_root(slot) if orphan else chain.state_root(slot)
        events.append(
            ("block", {"slot": str(slot), "block": root, "execution_optimistic": optimistic})
        )
        if slot > 0 and chain.is_orphaned(slot - 1):
            events.append(_reorg_frame(chain, slot - 1, slot, root, state))
        events.append(_head_frame(chain, slot, root, state))
    elif slot > 0 and chain.is_orphaned(slot - 1):
        head = chain.last_block_slot(slot)
        reorg = _reorg_frame(chain, slot - 1, head, chain.block_root(head), chain.state_root(slot))
        events.append(reorg)
        events.append(_head_frame(chain, slot, chain.block_root(head), chain.state_root(slot)))
    if slot % chain.slots_per_epoch == 0 and epoch >= 2:
        final_slot = (epoch - 2) * chain.slots_per_epoch
        events.append(
            (
                "finalized_checkpoint",
                {
                    "block": chain.block_root(chain.last_block_slot(final_slot)),
                    "state": chain.state_root(final_slot),
                    "epoch": str(epoch - 2),
                    "execution_optimistic": optimistic,
                },
            )
        )
    return events


def _reorg_frame(chain: Chain, orphaned: int, head_slot: int, root: str, state: str):
    return (
        "chain_reorg",
        {
            "slot": str(head_slot),
            "depth": "1",
            "old_head_block": chain.orphan_root(orphaned),
            "new_head_block": root,
            "old_head_state": chain.orphan_state_root(orphaned),
            "new_head_state": state,
            "epoch": str(head_slot // chain.slots_per_epoch),
            "execution_optimistic": chain.optimistic,
        },
    )


def sse_frame(topic: str, data: dict) -> bytes:
    return f"event: {topic}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def _ticker(server: asyncio.Server, chain: Chain) -> None:
    last = chain.current_slot()
    while server.is_serving():
        await asyncio.sleep(max(0.0, chain.slot_time(last + 1) - time.time()) + 0.001)
        now = chain.current_slot()
        for slot in range(last + 1, now + 1):
            chain.mine_el_until(slot)  # the slot's execution block exists when it is announced
            frames = slot_events(chain, slot)
            for connection in list(chain.subscribers):
                connection.push(frames)
        last = max(last, now)


# --------------------------------------------------------------------------------- HTTP server


class _EventStream:
    """One client of /eth/v1/events: its connection and the topics it asked for."""

    def __init__(self, connection: HttpConnection, topics: set[str]):
        self.connection, self.topics = connection, topics

    def push(self, frames: list[tuple[str, dict]]):
        out = b"".join(sse_frame(topic, data) for topic, data in frames if topic in self.topics)
        self.connection.write(out or b":\n\n")  # a comment keeps an idle stream alive


def _error(status: int, message: str) -> Response:
    return Response.json({"code": status, "message": message}, status, compact=True)


def _accepts_json(accept: str | None) -> bool:
    """Whether an Accept header lets the answer be JSON, the only form this node writes (the
    API's overview: 406 when the node cannot produce a format the client accepts)."""
    if not accept:
        return True
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        refused = any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in params)
        if media.lower() in ("application/json", "application/*", "*/*") and not refused:
            return True
    return False


class _BeaconApp(HttpApp):
    """The routes of ROUTES; an events request turns the connection into an SSE stream until
    the client leaves."""

    def __init__(self, chain: Chain):
        self.chain = chain
        self.stats = Stats()
        self.streams: dict[HttpConnection, _EventStream] = {}

    def bad_request(self, reason: str) -> Response:
        return _error(400, reason)

    def disconnected(self, connection: HttpConnection) -> None:
        stream = self.streams.pop(connection, None)
        if stream is not None:
            self.chain.subscribers.discard(stream)

    def handle(self, request: Request, connection: HttpConnection) -> Response | None:
        method, path = request.method, request.path
        query = parse_qs(request.query)
        if path == EVENTS_PATH and method == "GET":
            self.stats.requests["GET " + EVENTS_PATH] += 1
            return self.subscribe(query, connection)
        if not _accepts_json(request.headers.get("accept")):
            return _error(406, "Only application/json is served")
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if method == "POST" and content_type not in ("", "application/json"):
            # The overview's rule for a body in a format the node does not take (SSZ).
            return _error(415, f"Unsupported Content-Type: {content_type}")
        allowed = []
        for route_method, template, pattern, fn in _COMPILED:
            match = pattern.match(path)
            if not match:
                continue
            if method != route_method:
                allowed.append(route_method)
                continue
            endpoint = f"{route_method} {template}"
            self.stats.requests[endpoint] += 1
            params = {key: unquote(value) for key, value in match.groupdict().items()}
            # A handler serving both forms tells them apart by the body: None for a GET.
            body = None if method == "GET" else request.body
            try:
                status, document, *rest = fn(self.chain, params, query, body)
            except ApiError as error:
                return _error(error.code, error.message)
            ids = rest[0] if rest else 0
            if ids:
                self.stats.ids[endpoint] += ids
                self.stats.max_ids[endpoint] = max(self.stats.max_ids[endpoint], ids)
            headers = tuple((rest[1] if len(rest) > 1 else {}).items())
            if document is None:
                return Response(status, None, b"", headers)
            return Response.json(document, status, compact=True, headers=headers)
        if allowed:
            return _error(405, f"{method} not allowed (only {', '.join(allowed)})")
        return _error(404, f"No route for {path}")

    def subscribe(self, query, connection: HttpConnection) -> None:
        topics = [t for raw in query.get("topics", []) for t in raw.split(",") if t]
        unknown = [t for t in topics if t not in TOPICS]
        if not topics or unknown:
            message = f"Invalid topics: {','.join(unknown) or '(none)'}"
            connection.respond(_error(400, message), keep_alive=False)
            return
        connection.start_event_stream()
        connection.write(b":ok\n\n")
        stream = _EventStream(connection, set(topics))
        self.streams[connection] = stream
        self.chain.subscribers.add(stream)


async def start_beacon_node(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    seconds_per_slot: float = 1.0,
    slots_per_epoch: int = 32,
    registry_size: int = 1000,
    genesis_time: float | None = None,
    seed: int = 1,
    history_epochs: int = 8,
    slot_duration_ms: bool = False,
    sync_period_epochs: int = 256,
    execution=None,
    attestation_outage: tuple[int | tuple[int, ...], FaultCycle] | None = None,
) -> asyncio.Server:
    """Serves a simulated chain; `server.chain` is its Chain (clock, registry, flags such as
    `syncing`/`optimistic`, `el_block(slot)`), `server.stats` its request counters.
    `genesis_time` defaults to three epochs ago. `slot_duration_ms` adds SLOT_DURATION_MS to
    /config/spec. `execution` (a simulators.execution_node.SimulatedChain) gets one mined block
    per canonical slot from the slot in progress on; its chain id becomes DEPOSIT_CHAIN_ID.
    `attestation_outage` (index or indices, FaultCycle on epochs): they miss their attestations
    while the cycle holds (simulators.beacon_chain); None, the default, never."""
    chain = Chain(
        seconds_per_slot=seconds_per_slot,
        slots_per_epoch=slots_per_epoch,
        registry_size=registry_size,
        genesis_time=genesis_time,
        seed=seed,
        history_epochs=history_epochs,
        sync_period_epochs=sync_period_epochs,
        attestation_outage=attestation_outage,
    )
    chain.slot_duration_ms = slot_duration_ms
    if execution is not None:
        chain.attach_execution(execution, chain.current_slot())
        chain.mine_el_until(chain.current_slot())
    app = _BeaconApp(chain)
    server = await serve(app, host, port)
    server.chain, server.stats = chain, app.stats
    server._ticker = asyncio.create_task(_ticker(server, chain))
    return server


async def stop_beacon_node(server: asyncio.Server) -> None:
    """Stops the clock, stops listening and drops open connections (SSE streams included)."""
    server._ticker.cancel()
    await close_server(server)


async def _main(args) -> None:
    server = await start_beacon_node(
        host=args.host,
        port=args.port,
        seconds_per_slot=args.seconds_per_slot,
        slots_per_epoch=args.slots_per_epoch,
        registry_size=args.registry,
        seed=args.seed,
        slot_duration_ms=args.slot_duration_ms,
        sync_period_epochs=args.sync_period_epochs,
        attestation_outage=args.attestation_outage,
    )
    port = server.sockets[0].getsockname()[1]
    print(f"beacon node on http://{args.host}:{port} (registry {args.registry})", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await stop_beacon_node(server)


def _outage(text: str) -> tuple[tuple[int, ...], FaultCycle]:
    indices, _, cycle = text.partition(":")
    if not all(index.isdigit() for index in indices.split(",")):
        raise argparse.ArgumentTypeError(f"expected INDEX[,INDEX...]:EVERY:FOR[:AT], got {text!r}")
    return tuple(int(index) for index in indices.split(",")), FaultCycle.parse(cycle)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5052)
    parser.add_argument("--registry", type=int, default=1000)
    parser.add_argument("--seconds-per-slot", type=float, default=12.0)
    parser.add_argument("--slots-per-epoch", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--slot-duration-ms", action="store_true")
    parser.add_argument("--sync-period-epochs", type=int, default=256)
    parser.add_argument(
        "--attestation-outage", type=_outage, metavar="INDEX[,INDEX...]:EVERY:FOR[:AT]",
        help="epochs; these validators miss their attestations while the cycle holds",
    )  # fmt: skip
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
