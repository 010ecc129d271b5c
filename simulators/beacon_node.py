"""A simulated Ethereum beacon node: the standard Beacon API (ethereum/beacon-APIs) on loopback,
over a chain whose slots advance in real time, answering in the spec's exact shapes (all integers
as decimal strings, the `data` / `execution_optimistic` / `finalized` envelope, `{code, message}`
errors, Server-Sent Events on `/eth/v1/events`).

    server = await start_beacon_node(seconds_per_slot=1.0, slots_per_epoch=8, registry_size=1000)
    port = server.sockets[0].getsockname()[1]
    server.chain.current_slot(); server.stats["POST /eth/v1/validator/liveness/{epoch}"]
    await stop_beacon_node(server)

Nothing is stored per validator: every field is computed from (seed, index, epoch) in closed form,
so a registry of 1,000,000 costs nothing and a POST of 1,000 ids answers in milliseconds.
Validator pubkeys end in their index (8 bytes), so pubkey ids resolve without a lookup table.

Scenarios (small indices, so that any followed set starting at 0 meets them):
- every validator misses its attestations in one epoch out of 50 (source and target penalties,
  head 0) and only its head vote in another one out of 50, at a seeded phase per validator;
- validator 7 proposes slot 1 of every epoch; validator 8 is the proposer of slot 2 of every
  epoch, which is always missed (empty slot, 404); other slots are missed 1 time in 32 (seeded);
- validator 3 is slashed in epoch 2 (active_slashed, exited_slashed from 6, withdrawal_possible
  from 10, withdrawal_done from 12), included by the block of slot 3 of epoch 2;
- validator 5 exits voluntarily: initiated in epoch 1 (active_exiting), exited_unslashed from 4,
  withdrawal_possible from 8, withdrawal_done from 10;
- validator 9 is pending_queued until its activation epoch 5;
- validator 11 is a 0x02 compounding validator with 64 ETH effective balance;
- a one-block reorg (chain_reorg event, old head `canonical: false`) 1 slot in 64 (seeded).
Rewards for epoch E are served once epoch E+1 has ended; states older than `history_epochs`
are pruned (404), except genesis and finalized.
Deliberately independent of Django and of the ethdash code.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import re
import time
from collections import Counter
from urllib.parse import parse_qs, unquote

FAR_FUTURE_EPOCH = 2**64 - 1
GWEI_PER_ETH = 10**9
MAX_HEAD_BYTES = 16384
MAX_BODY_BYTES = 64 * 1024 * 1024
TOPICS = ("head", "block", "finalized_checkpoint", "chain_reorg")
STATUS_GROUPS = ("active", "pending", "exited", "withdrawal")
REASONS = {
    200: "OK",
    206: "Partial Content",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    414: "URI Too Long",
    500: "Internal Server Error",
}
ZERO_ROOT = "0x" + "00" * 32
GENESIS_FORK_VERSION = "0x00000000"

# Scenario validators (see the module docstring).
GOOD_PROPOSER, MISSED_PROPOSER = 7, 8
SLASHED, SLASH_EPOCH, SLASHED_EXIT, SLASHED_WITHDRAWABLE, SLASHED_DONE = 3, 2, 6, 10, 12
EXITING, EXIT_INIT, EXIT_EPOCH, EXIT_WITHDRAWABLE, EXIT_DONE = 5, 1, 4, 8, 10
PENDING, PENDING_ACTIVATION = 9, 5
COMPOUNDING, COMPOUNDING_EB = 11, 64 * GWEI_PER_ETH
MISS_PERIOD = 50


def _h(*parts) -> int:
    return int.from_bytes(
        hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "big", signed=False
    )


def _root(*parts) -> str:
    return "0x" + hashlib.blake2b(repr(parts).encode(), digest_size=32).hexdigest()


class ApiError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code, self.message = code, message


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


class Chain:
    """The simulated chain: a clock, a lazily computed registry and deterministic rewards."""

    def __init__(
        self,
        *,
        seconds_per_slot=1.0,
        slots_per_epoch=32,
        registry_size=1000,
        genesis_time=None,
        seed=1,
        history_epochs=8,
    ):
        self.seconds_per_slot = float(seconds_per_slot)
        self.slots_per_epoch = int(slots_per_epoch)
        self.registry_size = int(registry_size)
        self.seed = seed
        self.history_epochs = history_epochs
        if genesis_time is None:  # three epochs ago, so that rewards of epoch 0 are served
            genesis_time = time.time() - 3 * slots_per_epoch * seconds_per_slot
        self.genesis_time = float(genesis_time)
        self.syncing = False  # /node/health 206, /node/syncing is_syncing
        self.optimistic = False
        self.el_offline = False
        self.subscribers: set[_Connection] = set()
        total_active_gwei = max(self.registry_size, 1) * 32 * GWEI_PER_ETH
        self.base_reward_per_increment = 64 * GWEI_PER_ETH // math.isqrt(total_active_gwei)
        self.genesis_validators_root = _root("genesis_validators_root", seed)

    # ----------------------------------------------------------------------------- clock
    def current_slot(self) -> int:
        return max(0, int((time.time() - self.genesis_time) // self.seconds_per_slot))

    def current_epoch(self) -> int:
        return self.current_slot() // self.slots_per_epoch

    def slot_time(self, slot: int) -> float:
        return self.genesis_time + slot * self.seconds_per_slot

    def finalized_epoch(self) -> int:
        return max(0, self.current_epoch() - 2)

    def justified_epoch(self) -> int:
        return max(0, self.current_epoch() - 1)

    # ----------------------------------------------------------------------------- blocks
    def proposer(self, slot: int) -> int:
        position = slot % self.slots_per_epoch
        if position == 1 and self.registry_size > GOOD_PROPOSER:
            return GOOD_PROPOSER
        if position == 2 and self.registry_size > MISSED_PROPOSER:
            return MISSED_PROPOSER
        return _h(self.seed, "proposer", slot) % self.registry_size

    def is_missed(self, slot: int) -> bool:
        if slot == 0:
            return False
        if slot % self.slots_per_epoch == 2 and self.registry_size > MISSED_PROPOSER:
            return True
        return _h(self.seed, "missed", slot) % 32 == 0

    def is_reorg(self, slot: int) -> bool:
        return slot > 1 and not self.is_missed(slot) and _h(self.seed, "reorg", slot) % 64 == 0

    def block_root(self, slot: int) -> str:
        return _root(self.seed, "block", slot)

    def orphan_root(self, slot: int) -> str:
        return _root(self.seed, "orphan", slot)

    def state_root(self, slot: int) -> str:
        return _root(self.seed, "state", slot)

    def last_block_slot(self, slot: int) -> int:
        while slot > 0 and self.is_missed(slot):
            slot -= 1
        return slot

    def oldest_kept_slot(self) -> int:
        return max(0, self.current_slot() - self.history_epochs * self.slots_per_epoch)

    def _find_root(self, root: str, kind: str) -> tuple[int, bool] | None:
        if not re.fullmatch(r"0x[0-9a-fA-F]{64}", root):
            raise ApiError(400, f"Invalid {kind} ID: {root}")
        root = root.lower()
        head = self.current_slot()
        for slot in range(head, self.oldest_kept_slot() - 1, -1):
            if kind == "state" and root == self.state_root(slot):
                return slot, True
            if kind == "block" and not self.is_missed(slot):
                if root == self.block_root(slot):
                    return slot, True
                if self.is_reorg(slot) and root == self.orphan_root(slot):
                    return slot, False
        for slot in (0, self.finalized_epoch() * self.slots_per_epoch):
            if root in (self.state_root(slot), self.block_root(slot)):
                return slot, True
        return None

    def _named_slot(self, ident: str) -> int | None:
        if ident == "head":
            return self.current_slot()
        if ident == "genesis":
            return 0
        if ident == "finalized":
            return self.finalized_epoch() * self.slots_per_epoch
        if ident == "justified":
            return self.justified_epoch() * self.slots_per_epoch
        return None

    def resolve_state(self, state_id: str) -> int:
        """Slot of a state id; ApiError 400 for a malformed id, 404 unknown/future/pruned."""
        named = self._named_slot(state_id)
        if named is not None:
            return named
        if state_id.startswith("0x"):
            found = self._find_root(state_id, "state")
            if found is None:
                raise ApiError(404, "State not found")
            return found[0]
        if not state_id.isdigit():
            raise ApiError(400, f"Invalid state ID: {state_id}")
        slot = int(state_id)
        if slot > self.current_slot():
            raise ApiError(404, "State not found")
        if slot < self.oldest_kept_slot() and slot not in (0, self._named_slot("finalized")):
            raise ApiError(404, f"State not found: slot {slot} is pruned")
        return slot

    def resolve_block(self, block_id: str) -> tuple[int, bool]:
        """(slot, canonical) of a block id; 404 for an empty, future or unknown slot."""
        if block_id == "justified":
            raise ApiError(400, f"Invalid block ID: {block_id}")
        named = self._named_slot(block_id)
        if named is not None:
            return self.last_block_slot(named), True
        if block_id.startswith("0x"):
            found = self._find_root(block_id, "block")
            if found is None:
                raise ApiError(404, "Block not found")
            return found
        if not block_id.isdigit():
            raise ApiError(400, f"Invalid block ID: {block_id}")
        slot = int(block_id)
        if slot > self.current_slot() or self.is_missed(slot):
            raise ApiError(404, "Block not found")
        return slot, True

    def header(self, slot: int, canonical: bool = True) -> dict:
        parent = self.last_block_slot(slot - 1) if slot > 0 else None
        root = self.block_root(slot) if canonical else self.orphan_root(slot)
        return {
            "root": root,
            "canonical": canonical,
            "header": {
                "message": {
                    "slot": str(slot),
                    "proposer_index": str(self.proposer(slot)),
                    "parent_root": ZERO_ROOT if parent is None else self.block_root(parent),
                    "state_root": self.state_root(slot),
                    "body_root": _root(self.seed, "body", slot, canonical),
                },
                "signature": "0x" + _root(self.seed, "sig", slot)[2:] * 3,
            },
        }

    def block_rewards(self, slot: int) -> dict:
        attestations = 20_000_000 + _h(self.seed, "attreward", slot) % 15_000_000
        sync = 800_000 + _h(self.seed, "syncreward", slot) % 200_000
        slashings = 0
        if slot == SLASH_EPOCH * self.slots_per_epoch + 3 and self.registry_size > SLASHED:
            slashings = self.effective_balance(SLASHED, 0) // 4096 // 8  # proposer's share
        return {
            "proposer_index": str(self.proposer(slot)),
            "total": str(attestations + sync + slashings),
            "attestations": str(attestations),
            "sync_aggregate": str(sync),
            "proposer_slashings": str(slashings),
            "attester_slashings": "0",
        }

    # ----------------------------------------------------------------------------- validators
    def pubkey(self, index: int) -> str:
        digest = hashlib.blake2b(f"{self.seed}:{index}".encode(), digest_size=40).hexdigest()
        return "0x" + digest + f"{index:016x}"

    def parse_id(self, raw) -> int | None:
        """Index of a validator id (decimal index or 0x pubkey); None when unknown (dropped, as
        the spec says); ApiError 400 when malformed."""
        if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
            index = raw
        elif isinstance(raw, str) and raw.isdigit() and len(raw) <= 20:
            index = int(raw)
        elif isinstance(raw, str) and re.fullmatch(r"0x[0-9a-fA-F]{96}", raw):
            index = int(raw[-16:], 16)
            if index >= self.registry_size or self.pubkey(index) != raw.lower():
                return None
            return index
        else:
            raise ApiError(400, f"Invalid validator ID: {raw!r}")
        return index if index < self.registry_size else None

    def parse_ids(self, raws) -> list[int]:
        if raws is None:
            return []
        if not isinstance(raws, list):
            raise ApiError(400, "Invalid request body: expected an array of validator ids")
        seen, out = set(), []
        for raw in raws:
            index = self.parse_id(raw)
            if index is not None and index not in seen:
                seen.add(index)
                out.append(index)
        return out

    def all_or(self, ids: list[int]) -> range | list[int]:
        return ids if ids else range(self.registry_size)

    def effective_balance(self, index: int, epoch: int) -> int:
        return COMPOUNDING_EB if index == COMPOUNDING else 32 * GWEI_PER_ETH

    def lifecycle(self, index: int) -> tuple[int, int, int, int, int | None]:
        """(activation_epoch, exit_initiated, exit_epoch, withdrawable_epoch, withdrawn_epoch)."""
        far = FAR_FUTURE_EPOCH
        if index == SLASHED:
            return 0, SLASH_EPOCH, SLASHED_EXIT, SLASHED_WITHDRAWABLE, SLASHED_DONE
        if index == EXITING:
            return 0, EXIT_INIT, EXIT_EPOCH, EXIT_WITHDRAWABLE, EXIT_DONE
        if index == PENDING:
            return PENDING_ACTIVATION, far, far, far, None
        return 0, far, far, far, None

    def is_active(self, index: int, epoch: int) -> bool:
        activation, _, exit_epoch, _, _ = self.lifecycle(index)
        return activation <= epoch < exit_epoch

    def attestation_outcome(self, index: int, epoch: int) -> str:
        """ "ok", "head_missed", "missed" (no vote at all) or "inactive"."""
        if not self.is_active(index, epoch):
            return "inactive"
        if index == SLASHED and epoch >= SLASH_EPOCH:
            return "missed"
        phase = (epoch + _h(self.seed, "phase", index)) % MISS_PERIOD
        return "missed" if phase == 0 else "head_missed" if phase == MISS_PERIOD // 2 else "ok"

    def ideal(self, effective_balance: int) -> tuple[int, int, int]:
        base = effective_balance // GWEI_PER_ETH * self.base_reward_per_increment
        return base * 14 // 64, base * 26 // 64, base * 14 // 64  # head, target, source

    def attestation_reward(self, index: int, epoch: int) -> tuple[int, int, int]:
        outcome = self.attestation_outcome(index, epoch)
        head, target, source = self.ideal(self.effective_balance(index, epoch))
        if outcome == "ok":
            return head, target, source
        if outcome == "head_missed":
            return 0, target, source
        if outcome == "missed":
            return 0, -target, -source
        return 0, 0, 0

    def _count_phase(self, index: int, epochs: int, wanted: int) -> int:
        """How many epochs e in [0, epochs) have (e + phase) % MISS_PERIOD == wanted."""
        first = (wanted - _h(self.seed, "phase", index)) % MISS_PERIOD
        return 0 if epochs <= first else (epochs - 1 - first) // MISS_PERIOD + 1

    def balance(self, index: int, epoch: int) -> int:
        """Balance at the start of `epoch`: effective balance plus the attestation rewards of
        every finished epoch, in closed form."""
        eb = self.effective_balance(index, 0)
        activation, _, exit_epoch, _, withdrawn = self.lifecycle(index)
        if withdrawn is not None and epoch >= withdrawn:
            return 0
        head, target, source = self.ideal(eb)
        end = min(epoch, exit_epoch)
        if index == SLASHED and end > SLASH_EPOCH:
            paid = SLASH_EPOCH - activation
            slashed_epochs = end - SLASH_EPOCH
            total = paid * (head + target + source) - eb // 4096
            return eb + total - slashed_epochs * (target + source)
        active = max(0, end - activation)
        missed = self._count_phase(index, end, 0) - self._count_phase(index, activation, 0)
        headless = self._count_phase(index, end, MISS_PERIOD // 2) - self._count_phase(
            index, activation, MISS_PERIOD // 2
        )
        ok = active - missed - headless
        return (
            eb
            + ok * (head + target + source)
            + headless * (target + source)
            - missed * (target + source)
        )

    def status(self, index: int, epoch: int) -> str:
        activation, initiated, exit_epoch, withdrawable, withdrawn = self.lifecycle(index)
        slashed = index == SLASHED and epoch >= SLASH_EPOCH
        if epoch < activation:
            return "pending_queued"
        if epoch < exit_epoch:
            if slashed:
                return "active_slashed"
            return "active_exiting" if epoch >= initiated else "active_ongoing"
        if epoch < withdrawable:
            return "exited_slashed" if slashed else "exited_unslashed"
        if withdrawn is not None and epoch >= withdrawn:
            return "withdrawal_done"
        return "withdrawal_possible"

    def validator(self, index: int, epoch: int) -> dict:
        activation, initiated, exit_epoch, withdrawable, _ = self.lifecycle(index)
        exited_known = epoch >= initiated
        prefix = "0x02" if index == COMPOUNDING else "0x01"
        address = _root(self.seed, "withdrawal", index)[2:42]
        return {
            "index": str(index),
            "balance": str(self.balance(index, epoch)),
            "status": self.status(index, epoch),
            "validator": {
                "pubkey": self.pubkey(index),
                "withdrawal_credentials": prefix + "00" * 11 + address,
                "effective_balance": str(self.effective_balance(index, epoch)),
                "slashed": index == SLASHED and epoch >= SLASH_EPOCH,
                "activation_eligibility_epoch": str(max(0, activation - 1)),
                "activation_epoch": str(
                    activation if epoch >= activation - 1 else FAR_FUTURE_EPOCH
                ),
                "exit_epoch": str(exit_epoch if exited_known else FAR_FUTURE_EPOCH),
                "withdrawable_epoch": str(withdrawable if exited_known else FAR_FUTURE_EPOCH),
            },
        }


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
        "SYNC_COMMITTEE_SIZE": "512",
        "EPOCHS_PER_SYNC_COMMITTEE_PERIOD": "256",
        "DEPOSIT_CONTRACT_ADDRESS": "0x00000000219ab540356cBB839Cbe05303d7705Fa",
        "DEPOSIT_CHAIN_ID": "1",
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


def validators(chain, match, query, body):
    slot = chain.resolve_state(match["state_id"])
    document = _json_body(body) or {}
    if not isinstance(document, dict):
        raise ApiError(400, "Invalid request body: expected {ids, statuses}")
    ids = chain.parse_ids(document.get("ids"))
    statuses = document.get("statuses") or []
    if not isinstance(statuses, list):
        raise ApiError(400, "Invalid statuses")
    wanted = set(statuses)
    epoch = slot // chain.slots_per_epoch
    data = []
    for index in chain.all_or(ids):
        entry = chain.validator(index, epoch)
        if not wanted or _status_matches(entry["status"], wanted):
            data.append(entry)
    return 200, _envelope(chain, data, slot), len(ids)


def validator_balances(chain, match, query, body):
    slot = chain.resolve_state(match["state_id"])
    ids = chain.parse_ids(_json_body(body))
    epoch = slot // chain.slots_per_epoch
    data = [
        {"index": str(index), "balance": str(chain.balance(index, epoch))}
        for index in chain.all_or(ids)
    ]
    return 200, _envelope(chain, data, slot), len(ids)


def attestation_rewards(chain, match, query, body):
    epoch = _epoch(match["epoch"])
    if chain.current_epoch() < epoch + 2:
        raise ApiError(404, f"Rewards of epoch {epoch} are not computable before epoch {epoch + 2}")
    if (epoch + 1) * chain.slots_per_epoch < chain.oldest_kept_slot():
        raise ApiError(404, f"State of epoch {epoch} is pruned")
    ids = chain.parse_ids(_json_body(body))
    totals, balances = [], set()
    for index in chain.all_or(ids):
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


def liveness(chain, match, query, body):
    epoch = _epoch(match["epoch"])
    current = chain.current_epoch()
    if not current - 1 <= epoch <= current:
        raise ApiError(400, f"Liveness is served for epochs {max(0, current - 1)}..{current}")
    ids = chain.parse_ids(_json_body(body))
    if not ids:
        raise ApiError(400, "Request body must hold at least one validator index")
    data = [
        {"index": str(i), "is_live": chain.attestation_outcome(i, epoch) in ("ok", "head_missed")}
        for i in ids
    ]
    return 200, {"data": data}, len(ids)


def block_rewards(chain, match, query, body):
    slot, _ = chain.resolve_block(match["block_id"])
    return 200, _envelope(chain, chain.block_rewards(slot), slot)


def header(chain, match, query, body):
    slot, canonical = chain.resolve_block(match["block_id"])
    return 200, _envelope(chain, chain.header(slot, canonical), slot)


ROUTES = [
    ("GET", "/eth/v1/beacon/genesis", genesis),
    ("GET", "/eth/v1/config/spec", spec),
    ("GET", "/eth/v1/node/health", health),
    ("GET", "/eth/v1/node/syncing", syncing),
    ("POST", "/eth/v1/beacon/states/{state_id}/validators", validators),
    ("POST", "/eth/v1/beacon/states/{state_id}/validator_balances", validator_balances),
    ("POST", "/eth/v1/beacon/rewards/attestations/{epoch}", attestation_rewards),
    ("GET", "/eth/v1/validator/duties/proposer/{epoch}", proposer_duties),
    ("POST", "/eth/v1/validator/liveness/{epoch}", liveness),
    ("GET", "/eth/v1/beacon/rewards/blocks/{block_id}", block_rewards),
    ("GET", "/eth/v1/beacon/headers/{block_id}", header),
]
_COMPILED = [
    (method, template, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$"), fn)
    for method, template, fn in ROUTES
]
EVENTS_PATH = "/eth/v1/events"


# --------------------------------------------------------------------------------- events


def slot_events(chain: Chain, slot: int) -> list[tuple[str, dict]]:
    """The SSE frames a node emits when `slot` starts, in the eventstream spec's shapes."""
    events = []
    optimistic = chain.optimistic
    epoch = slot // chain.slots_per_epoch
    transition = slot % chain.slots_per_epoch == 0
    if not chain.is_missed(slot):
        root = chain.block_root(slot)
        events.append(
            ("block", {"slot": str(slot), "block": root, "execution_optimistic": optimistic})
        )
        if chain.is_reorg(slot):
            events.append(
                (
                    "chain_reorg",
                    {
                        "slot": str(slot),
                        "depth": "1",
                        "old_head_block": chain.orphan_root(slot),
                        "new_head_block": root,
                        "old_head_state": _root(chain.seed, "orphan_state", slot),
                        "new_head_state": chain.state_root(slot),
                        "epoch": str(epoch),
                        "execution_optimistic": optimistic,
                    },
                )
            )
        start = epoch * chain.slots_per_epoch
        events.append(
            (
                "head",
                {
                    "slot": str(slot),
                    "block": root,
                    "state": chain.state_root(slot),
                    "epoch_transition": transition,
                    "previous_duty_dependent_root": chain.block_root(
                        chain.last_block_slot(max(0, start - chain.slots_per_epoch - 1))
                    ),
                    "current_duty_dependent_root": chain.block_root(
                        chain.last_block_slot(max(0, start - 1))
                    ),
                    "execution_optimistic": optimistic,
                },
            )
        )
    if transition and epoch >= 2:
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


def sse_frame(topic: str, data: dict) -> bytes:
    return f"event: {topic}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def _ticker(server: asyncio.Server, chain: Chain) -> None:
    last = chain.current_slot()
    while server.is_serving():
        await asyncio.sleep(max(0.0, chain.slot_time(last + 1) - time.time()) + 0.001)
        now = chain.current_slot()
        for slot in range(last + 1, now + 1):
            frames = slot_events(chain, slot)
            for connection in list(chain.subscribers):
                connection.push(frames)
        last = max(last, now)


# --------------------------------------------------------------------------------- HTTP server


class _Connection(asyncio.Protocol):
    """HTTP/1.1 with keep-alive and Content-Length bodies; an events request turns the
    connection into an SSE stream until the client leaves."""

    def __init__(self, server_state: _ServerState):
        self.state = server_state
        self.chain = server_state.chain
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.topics: set[str] = set()

    def connection_made(self, transport):
        self.transport = transport
        self.state.connections.add(transport)

    def connection_lost(self, exc):
        self.state.connections.discard(self.transport)
        self.chain.subscribers.discard(self)

    def data_received(self, data):
        if self.topics:
            return
        self.buffer += data
        while not self.transport.is_closing() and not self.topics:
            head, found, rest = self.buffer.partition(b"\r\n\r\n")
            if not found:
                if len(self.buffer) > MAX_HEAD_BYTES:
                    self.transport.close()
                return
            lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                length = -1
            if not 0 <= length <= MAX_BODY_BYTES:
                self.respond(400, {"code": 400, "message": "Bad Content-Length"}, False)
                return
            if len(rest) < length:
                return  # wait for the rest of the body
            self.buffer = rest[length:]
            self.handle(lines[0], headers, rest[:length])

    def handle(self, request_line: str, headers: dict, body: bytes):
        parts = request_line.split(" ")
        if len(parts) != 3:
            self.respond(400, {"code": 400, "message": "Bad request line"}, False)
            return
        method, target, version = parts
        keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        path, _, raw_query = target.partition("?")
        query = parse_qs(raw_query)
        if path == EVENTS_PATH and method == "GET":
            self.state.stats.requests["GET " + EVENTS_PATH] += 1
            self.subscribe(query)
            return
        for route_method, template, pattern, fn in _COMPILED:
            match = pattern.match(path)
            if not match:
                continue
            endpoint = f"{route_method} {template}"
            if method != route_method:
                self.respond(405, {"code": 405, "message": f"{method} not allowed"}, keep_alive)
                return
            self.state.stats.requests[endpoint] += 1
            params = {key: unquote(value) for key, value in match.groupdict().items()}
            try:
                status, document, *ids = fn(self.chain, params, query, body)
            except ApiError as error:
                status, document = error.code, {"code": error.code, "message": error.message}
                ids = []
            if ids:
                self.state.stats.ids[endpoint] += ids[0]
                self.state.stats.max_ids[endpoint] = max(self.state.stats.max_ids[endpoint], ids[0])
            self.respond(status, document, keep_alive)
            return
        self.respond(404, {"code": 404, "message": f"No route for {path}"}, keep_alive)

    def subscribe(self, query):
        topics = [t for raw in query.get("topics", []) for t in raw.split(",") if t]
        unknown = [t for t in topics if t not in TOPICS]
        if not topics or unknown:
            message = f"Invalid topics: {','.join(unknown) or '(none)'}"
            self.respond(400, {"code": 400, "message": message}, False)
            return
        self.topics = set(topics)
        self.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            b"Connection: close\r\n\r\n:ok\n\n"
        )
        self.chain.subscribers.add(self)

    def push(self, frames: list[tuple[str, dict]]):
        if self.transport.is_closing():
            return
        out = b"".join(sse_frame(topic, data) for topic, data in frames if topic in self.topics)
        self.transport.write(out or b":\n\n")  # a comment keeps an idle stream alive

    def respond(self, status: int, document, keep_alive: bool):
        body = b"" if document is None else json.dumps(document, separators=(",", ":")).encode()
        head = (
            f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
            + ("Content-Type: application/json\r\n" if document is not None else "")
            + f"Content-Length: {len(body)}\r\n"
            + ("" if keep_alive else "Connection: close\r\n")
            + "\r\n"
        )
        self.transport.write(head.encode("latin-1") + body)
        if not keep_alive:
            self.transport.close()


class _ServerState:
    def __init__(self, chain: Chain):
        self.chain = chain
        self.stats = Stats()
        self.connections: set[asyncio.Transport] = set()


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
) -> asyncio.Server:
    """Serves a simulated chain; `server.chain` is its Chain (clock, registry, flags such as
    `syncing`/`optimistic`), `server.stats` its request counters. `genesis_time` defaults to
    three epochs ago. `slot_duration_ms` adds SLOT_DURATION_MS to /config/spec."""
    chain = Chain(
        seconds_per_slot=seconds_per_slot,
        slots_per_epoch=slots_per_epoch,
        registry_size=registry_size,
        genesis_time=genesis_time,
        seed=seed,
        history_epochs=history_epochs,
    )
    chain.slot_duration_ms = slot_duration_ms
    state = _ServerState(chain)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Connection(state), host, port)
    server.chain, server.stats, server._beacon_state = chain, state.stats, state
    server._ticker = asyncio.create_task(_ticker(server, chain))
    return server


async def stop_beacon_node(server: asyncio.Server) -> None:
    """Stops the clock, stops listening and drops open connections (SSE streams included)."""
    server.close()
    server._ticker.cancel()
    for transport in list(server._beacon_state.connections):
        transport.close()
    await server.wait_closed()


async def _main(args) -> None:
    server = await start_beacon_node(
        host=args.host,
        port=args.port,
        seconds_per_slot=args.seconds_per_slot,
        slots_per_epoch=args.slots_per_epoch,
        registry_size=args.registry,
        seed=args.seed,
        slot_duration_ms=args.slot_duration_ms,
    )
    port = server.sockets[0].getsockname()[1]
    print(f"beacon node on http://{args.host}:{port} (registry {args.registry})", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await stop_beacon_node(server)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5052)
    parser.add_argument("--registry", type=int, default=1000)
    parser.add_argument("--seconds-per-slot", type=float, default=12.0)
    parser.add_argument("--slots-per-epoch", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--slot-duration-ms", action="store_true")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
