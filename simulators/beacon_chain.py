"""The chain behind the simulated beacon node (simulators.beacon_node): its clock, registry,
rewards, blocks, ledger and scenarios, with no server and no wire format of its own.

Nothing is stored per validator of the registry: attestation rewards are closed form in
(seed, index, epoch), so a registry of 1,000,000 costs nothing and a POST of 1,000 ids answers in
milliseconds. What happens in blocks (proposer rewards, sync rewards, withdrawals, deposits) is
kept in a ledger built once per slot, in slot order, as far as anyone asked: per-slot prefix
counts and short per-validator event lists, so every per-validator figure is a few dict lookups.
Validator pubkeys end in their index (8 bytes), so pubkey ids resolve without a lookup table.

Balances: the state "at slot S" holds the attestation rewards of every epoch before S's epoch and
the effects of every canonical block up to and including S's own (as on a real node: a state id
names the state after that slot's block), so `balance(i, E)` (the state at E's first slot) =
effective balance + attestation rewards + proposer rewards + sync rewards + deposits - slashing
penalty - withdrawals, and `Chain.income(i, E)` breaks down balance(E+1) - balance(E) to the gwei.

Scenarios (small indices, so that any followed set starting at 0 meets them):
- every validator misses its attestations in one epoch out of 50 (source and target penalties,
  head 0) and only its head vote in another one out of 50, at a seeded phase per validator;
- off unless asked (`Chain(attestation_outage=(index, FaultCycle(every, for, at)))`, the node's
  `--attestation-outage INDEX[,INDEX...]:EVERY:FOR[:AT]`, on epochs since genesis; a tuple of
  indices for several): that validator misses
  its attestations (no vote at all, liveness false) in every epoch the cycle holds, e.g. 4 epochs
  in every 40 from epoch 22, as a node that is down for a minute now and then; its balance
  counts these epochs' penalties in closed form as it does the seeded misses;
- validator 7 proposes slot 1 of every epoch, always an MEV-Boost block delivered by the relay,
  in the three shapes builders pay in (`mev_shape`): in odd epochs (a) the builder's coinbase and
  its payment to fee_recipient(7) as the last transaction; in epochs divisible by 4 (b) the
  coinbase fee_recipient(7) (the priority fees are the proposer's) plus a payment from the
  builder's own address as the last transaction; in the other even epochs (c) the coinbase
  fee_recipient(7) and no payment. The relay's value is what fee_recipient(7) gained (the
  payment, plus the priority fees where it is the coinbase), 10% more in the epochs where it
  over-claims (epoch % 3 == 2, which meets every shape); validator 8 is the proposer of
  slot 2 of every epoch, which is always missed (empty slot, 404); other slots are missed 1 time
  in 32 (seeded);
- orphaned proposals: validator 10 proposes slot 4 of every epoch with epoch % 4 == 1 and that
  block is orphaned, and 1 other block in 64 is orphaned (seeded; kept, since the ledger makes
  them free). An orphaned block is seen on the SSE stream (block, head), a `chain_reorg` follows
  at the next slot, and the slot stays EMPTY in the canonical chain: blocks/{slot} and
  headers/{slot} 404, headers?slot= lists it with canonical false (by its root it is still
  served, non-canonical), the next block's parent is the block before it, and it earns nothing
  (no proposer reward, no sync rewards, no EL block). The API answers as after the reorg even
  during the orphan's own slot: only the event stream shows it as the head for that slot;
- validator 3 is slashed in epoch 2 (active_slashed, exited_slashed from 6, withdrawal_possible
  from 10; fully withdrawn by the first block of epoch 12, withdrawal_done from 13), included by
  the block of slot 3 of epoch 2. It keeps attesting until its exit (liveness says live), but
  as the spec does for a slashed validator (get_flag_index_deltas counts only unslashed
  participants) its source and target are penalised and its head earns nothing;
- validator 5 exits voluntarily: initiated in epoch 1 (active_exiting), exited_unslashed from 4,
  withdrawal_possible from 8; fully withdrawn by the first block of epoch 10, withdrawal_done
  from 11 (the state at epoch 10's first slot still holds its balance);
- validators below 64 with 0x01 credentials are swept 16 per epoch (group epoch % 4) by the
  first block at or after slot 6 of the epoch: amount = balance then - effective balance (none
  when <= 0); withdrawal indices increase globally;
- validator 9 is pending_queued until its activation epoch 5;
- validator 11 is a 0x02 compounding validator with 64 ETH effective balance, topped up by 5 ETH
  as since Electra (EIP-6110): a deposit request in `execution_requests.deposits` of the first
  block at or after slot 5 of epoch 3, queued in the state's pending deposits and credited by
  process_pending_deposits at the end of epoch 5 (DEPOSIT_CREDIT_EPOCH: the first transition
  whose finalized checkpoint, one epoch behind, starts after the request's slot), so the state
  at epoch 6's first slot holds it. By default the node does not serve
  `states/{id}/pending_deposits` (404, as a node without that endpoint answers); with
  `chain.serves_pending_deposits` it does, the request sitting in the queue of every state from
  its block's slot to the credit epoch's last. Its effective balance stays 64 ETH so that
  rewards stay closed form;
- sync committees of 512 (4 subnets of 128) per period of EPOCHS_PER_SYNC_COMMITTEE_PERIOD epochs
  (Chain(sync_period_epochs=...), default 256), drawn per period from the seed, with validator 12
  at position 0 of every period; with a registry under 512 members repeat, as on the real chain.
  Every member earns the participant reward in every canonical block, except validator 12 at
  slot 5 of every epoch, where it misses and pays the same amount as a penalty;
- validators 3, 5 and 9 (the lifecycle scenarios) never propose nor sit in sync committees, and
  are not partially swept, so their balances stay simple.
Scenario positions that do not exist in a short epoch (slots_per_epoch <= 4) are left out; the
sweep and the deposit then use the epoch's last slot.

Execution layer: `start_beacon_node(execution=SimulatedChain())` mines one eth-tester block per
canonical non-empty slot from the node's start on (the ticker mines it when the slot starts; a
request for the block mines it first if the ticker has not yet), carrying the slot's transactions
(priority fees from funded test accounts, the MEV payment) and withdrawals, so the beacon block's
execution_payload holds that block's real number, hash, parent hash, coinbase (fee_recipient),
base fee, gas and timestamp; `server.chain.el_block(slot)` tells tests what was mined and paid.
Slots from before the start, and every slot without an execution chain, carry synthetic payloads
whose numbers and hashes exist on no execution chain.

Rewards for epoch E are served once epoch E+1 has ended; states older than `history_epochs`
are pruned (404), except genesis and finalized.
Deliberately independent of Django and of the ethdash code.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections import Counter
from collections.abc import Collection

from simulators.faults import FaultCycle

FAR_FUTURE_EPOCH = 2**64 - 1
GWEI_PER_ETH = 10**9
WEI_PER_ETH = 10**18
ZERO_ROOT = "0x" + "00" * 32
GENESIS_FORK_VERSION = "0x00000000"
CONSENSUS_VERSION = "electra"
SYNC_COMMITTEE_SIZE = 512
SYNC_COMMITTEE_SUBNET_COUNT = 4
MAINNET_CHAIN_ID = 1

# Scenario validators (see the module docstring).
GOOD_PROPOSER, MISSED_PROPOSER = 7, 8
SLASHED, SLASH_EPOCH, SLASHED_EXIT, SLASHED_WITHDRAWABLE, SLASHED_DONE = 3, 2, 6, 10, 12
EXITING, EXIT_INIT, EXIT_EPOCH, EXIT_WITHDRAWABLE, EXIT_DONE = 5, 1, 4, 8, 10
PENDING, PENDING_ACTIVATION = 9, 5
COMPOUNDING, COMPOUNDING_EB = 11, 64 * GWEI_PER_ETH
ORPHANED_PROPOSER, ORPHAN_POSITION = 10, 4  # in epochs with epoch % 4 == 1
SYNC_MEMBER, SYNC_MISS_POSITION = 12, 5
SWEEP_POSITION, SWEEP_BELOW, SWEEP_PER_EPOCH = 6, 64, 16
DEPOSIT_EPOCH, DEPOSIT_POSITION, DEPOSIT_GWEI = 3, 5, 5 * GWEI_PER_ETH
DEPOSIT_CREDIT_EPOCH = DEPOSIT_EPOCH + 2  # finality of the request's slot, then the queue
LIFECYCLE_SCENARIOS = (SLASHED, EXITING, PENDING)
MISS_PERIOD = 50
MEV_PAYMENT_WEI = 5 * 10**16  # plus a slot-dependent number of wei
RELAY_OVERCLAIM_EPOCHS = 3  # the relay claims 10% more in epochs with epoch % 3 == 2
# How the builder of validator 7's blocks pays it (see the module docstring).
BUILDER_COINBASE = "builder_coinbase"  # (a)
FEE_RECIPIENT_PAID = "fee_recipient_paid"  # (b)
FEE_RECIPIENT_UNPAID = "fee_recipient_unpaid"  # (c)


def _h(*parts) -> int:
    return int.from_bytes(
        hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "big", signed=False
    )


def _root(*parts) -> str:
    return "0x" + hashlib.blake2b(repr(parts).encode(), digest_size=32).hexdigest()


def _hex(*parts, size: int) -> str:
    return "0x" + hashlib.blake2b(repr(parts).encode(), digest_size=size).hexdigest()


def _signature(*parts) -> str:
    return "0x" + _root(*parts)[2:] * 3


def _bitvector(size: int, set_bits) -> str:
    bits = bytearray(size // 8)
    for bit in set_bits:
        bits[bit // 8] |= 1 << (bit % 8)
    return "0x" + bits.hex()


class ApiError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code, self.message = code, message


class Chain:
    """The simulated chain: a clock, a lazily computed registry, deterministic rewards and a
    ledger of what canonical blocks did, built in slot order as far as anyone asked."""

    def __init__(
        self,
        *,
        seconds_per_slot=1.0,
        slots_per_epoch=32,
        registry_size=1000,
        genesis_time=None,
        seed=1,
        history_epochs=8,
        sync_period_epochs=256,
        attestation_outage: tuple[int | Collection[int], FaultCycle] | None = None,
    ):
        self.seconds_per_slot = float(seconds_per_slot)
        # (index or indices, cycle): the indices share the cycle (a node that several
        # validators run on going down takes all of them with it).
        if attestation_outage is not None:
            indices, cycle = attestation_outage
            indices = frozenset([indices] if isinstance(indices, int) else indices)
            attestation_outage = (indices, cycle)
        self.attestation_outage = attestation_outage
        self.slots_per_epoch = int(slots_per_epoch)
        self.registry_size = int(registry_size)
        self.seed = seed
        self.history_epochs = history_epochs
        self.sync_period_epochs = int(sync_period_epochs)
        if genesis_time is None:  # three epochs ago, so that rewards of epoch 0 are served
            genesis_time = time.time() - 3 * slots_per_epoch * seconds_per_slot
        self.genesis_time = float(genesis_time)
        self.syncing = False  # /node/health 206, /node/syncing is_syncing
        self.optimistic = False
        self.el_offline = False
        self.slot_duration_ms = False
        # Liveness is served for the current epoch and this many before it (the Beacon API: a
        # node SHOULD serve the current and previous epoch, MAY serve earlier ones).
        self.liveness_history_epochs = 1
        self.serves_pending_deposits = False  # states/{id}/pending_deposits answers 404
        self.subscribers: set = set()  # the node's event streams, each with push(frames)
        total_active_gwei = max(self.registry_size, 1) * 32 * GWEI_PER_ETH
        self.base_reward_per_increment = 64 * GWEI_PER_ETH // math.isqrt(total_active_gwei)
        # Altair: SYNC_REWARD_WEIGHT / WEIGHT_DENOMINATOR of the base rewards, per slot, per seat.
        total_base = self.base_reward_per_increment * total_active_gwei // GWEI_PER_ETH
        self.sync_participant_reward = (
            total_base * 2 // 64 // self.slots_per_epoch // SYNC_COMMITTEE_SIZE
        )
        self.genesis_validators_root = _root("genesis_validators_root", seed)
        # The ledger: slots [0, _ledger_end) processed.
        self._ledger_end = 0
        self._canonical_before = [0]  # canonical non-empty slots before s
        self._sync_misses_before = [0]  # canonical slots before s where SYNC_MEMBER missed
        self._proposals: dict[int, list[tuple[int, int]]] = {}  # index -> [(slot, gwei)]
        self._withdrawals: dict[int, list[tuple[int, int]]] = {}
        self._deposits: dict[int, list[tuple[int, int]]] = {}  # index -> [(credited at, gwei)]
        self._block_withdrawals: dict[int, list[dict]] = {}
        self._block_deposits: dict[int, list[int]] = {}  # slot -> indices of deposit requests
        self._withdrawal_count = 0
        # Sync committees, drawn period by period in order.
        self._committees: dict[int, list[int]] = {}
        self._sync_seats: dict[int, list[tuple[int, int]]] = {}  # index -> [(period, seats)]
        # The execution layer (see attach_execution).
        self.execution = None
        self.el_start_slot: int | None = None
        self._el_next = 0
        self._el_blocks: dict[int, dict] = {}
        self.deposit_chain_id = MAINNET_CHAIN_ID
        self._builder: tuple[str, bytes] | None = None

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
    def _position(self, position: int) -> int | None:
        """A scenario's in-epoch position, or None when the epoch is too short to have it."""
        return position if position < self.slots_per_epoch else None

    def _is_orphan_duty(self, slot: int) -> bool:
        return (
            self.registry_size > ORPHANED_PROPOSER
            and slot % self.slots_per_epoch == self._position(ORPHAN_POSITION)
            and (slot // self.slots_per_epoch) % 4 == 1
        )

    def _ordinary(self, candidate: int) -> int:
        # The lifecycle scenarios never propose nor sync: their balances stay easy to follow.
        while candidate in LIFECYCLE_SCENARIOS:
            candidate = (candidate + 1) % self.registry_size
        return candidate

    def proposer(self, slot: int) -> int:
        position = slot % self.slots_per_epoch
        if position == 1 and self.registry_size > GOOD_PROPOSER:
            return GOOD_PROPOSER
        if position == 2 and self.registry_size > MISSED_PROPOSER:
            return MISSED_PROPOSER
        if self._is_orphan_duty(slot):
            return ORPHANED_PROPOSER
        return self._ordinary(_h(self.seed, "proposer", slot) % self.registry_size)

    def is_missed(self, slot: int) -> bool:
        """No block was ever produced for the slot."""
        if slot == 0:
            return False
        if slot % self.slots_per_epoch == 2 and self.registry_size > MISSED_PROPOSER:
            return True
        if self._is_orphan_duty(slot):
            return False
        return _h(self.seed, "missed", slot) % 32 == 0

    def is_orphaned(self, slot: int) -> bool:
        """A block was produced and seen, then reorged out: the slot is empty in the chain."""
        if self._is_orphan_duty(slot):
            return True
        return slot > 1 and not self.is_missed(slot) and _h(self.seed, "reorg", slot) % 64 == 0

    def has_block(self, slot: int) -> bool:
        """The canonical chain has a block at this slot."""
        return not self.is_missed(slot) and not self.is_orphaned(slot)

    def is_mev(self, slot: int) -> bool:
        return slot % self.slots_per_epoch == 1 and self.registry_size > GOOD_PROPOSER

    def mev_shape(self, slot: int) -> str | None:
        """How the builder pays the proposer of an MEV-Boost slot (None for other slots)."""
        if not self.is_mev(slot):
            return None
        epoch = slot // self.slots_per_epoch
        if epoch % 2:
            return BUILDER_COINBASE
        return FEE_RECIPIENT_PAID if epoch % 4 == 0 else FEE_RECIPIENT_UNPAID

    def payload_fee_recipient(self, slot: int) -> str:
        """The coinbase of the slot's execution block: the builder's only in shape (a)."""
        if self.mev_shape(slot) == BUILDER_COINBASE:
            return self.builder[0]
        return self.fee_recipient(self.proposer(slot))

    def block_root(self, slot: int) -> str:
        return _root(self.seed, "block", slot)

    def orphan_root(self, slot: int) -> str:
        return _root(self.seed, "orphan", slot)

    def orphan_state_root(self, slot: int) -> str:
        return _root(self.seed, "orphan_state", slot)

    def state_root(self, slot: int) -> str:
        return _root(self.seed, "state", slot)

    def last_block_slot(self, slot: int) -> int:
        while slot > 0 and not self.has_block(slot):
            slot -= 1
        return slot

    def _first_block(self, start: int, end: int) -> int | None:
        """The first canonical block slot in [start, end)."""
        for slot in range(start, end):
            if self.has_block(slot):
                return slot
        return None

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
            if kind == "block":
                if self.has_block(slot) and root == self.block_root(slot):
                    return slot, True
                if self.is_orphaned(slot) and root == self.orphan_root(slot):
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
        """(slot, canonical) of a block id; 404 for an empty (missed or orphaned), future or
        unknown slot. An orphaned block is found by its root only, as (slot, False)."""
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
        if slot > self.current_slot() or not self.has_block(slot):
            raise ApiError(404, "Block not found")
        return slot, True

    def _parent_root(self, slot: int) -> str:
        return ZERO_ROOT if slot == 0 else self.block_root(self.last_block_slot(slot - 1))

    def header(self, slot: int, canonical: bool = True) -> dict:
        root = self.block_root(slot) if canonical else self.orphan_root(slot)
        return {
            "root": root,
            "canonical": canonical,
            "header": {
                "message": {
                    "slot": str(slot),
                    "proposer_index": str(self.proposer(slot)),
                    "parent_root": self._parent_root(slot),
                    "state_root": self.state_root(slot),
                    "body_root": _root(self.seed, "body", slot, canonical),
                },
                "signature": _signature(self.seed, "sig", slot),
            },
        }

    def headers_at(self, slot: int) -> list[dict]:
        """What /headers?slot= lists: the canonical header, or the orphaned one, or nothing."""
        if slot > self.current_slot():
            return []
        if self.has_block(slot):
            return [self.header(slot)]
        if self.is_orphaned(slot):
            return [self.header(slot, canonical=False)]
        return []

    def children_headers(self, parent: int) -> list[dict]:
        """Headers of the blocks built on the canonical block of slot `parent`: the next
        canonical block and any orphaned block in between."""
        out = []
        for slot in range(parent + 1, self.current_slot() + 1):
            if self.is_orphaned(slot):
                out.append(self.header(slot, canonical=False))
            elif self.has_block(slot):
                out.append(self.header(slot))
                break
        return out

    def _slashing_slot(self) -> int:
        return SLASH_EPOCH * self.slots_per_epoch + 3

    def block_rewards(self, slot: int) -> dict:
        attestations = 20_000_000 + _h(self.seed, "attreward", slot) % 15_000_000
        sync = 800_000 + _h(self.seed, "syncreward", slot) % 200_000
        slashings = 0
        if slot == self._slashing_slot() and self.registry_size > SLASHED:
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

    def withdrawal_address(self, index: int) -> str:
        return "0x" + _root(self.seed, "withdrawal", index)[2:42]

    def fee_recipient(self, index: int) -> str:
        """The execution address validator `index` has its priority fees and MEV paid to."""
        return "0x" + _root(self.seed, "fee_recipient", index)[2:42]

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

    def is_compounding(self, index: int) -> bool:
        return index == COMPOUNDING

    def lifecycle(self, index: int) -> tuple[int, int, int, int, int | None]:
        """(activation_epoch, exit_initiated, exit_epoch, withdrawable_epoch, withdrawn_epoch);
        the withdrawn epoch is the one whose first block carries the full withdrawal."""
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
        """ "ok", "head_missed", "missed" (no vote at all), "slashed" (voted, but penalised as
        a slashed validator is) or "inactive"."""
        if not self.is_active(index, epoch):
            return "inactive"
        if index == SLASHED and epoch >= SLASH_EPOCH:
            return "slashed"
        if self.in_outage(index, epoch):
            return "missed"
        return self._seeded_outcome(index, epoch)

    def _seeded_outcome(self, index: int, epoch: int) -> str:
        phase = (epoch + _h(self.seed, "phase", index)) % MISS_PERIOD
        return "missed" if phase == 0 else "head_missed" if phase == MISS_PERIOD // 2 else "ok"

    def in_outage(self, index: int, epoch: int) -> bool:
        """Whether `index` misses `epoch`'s attestations by the outage cycle (see the module
        docstring); never without one."""
        if self.attestation_outage is None:
            return False
        outage_indices, cycle = self.attestation_outage
        return index in outage_indices and cycle.active(epoch)

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
        if outcome in ("missed", "slashed"):
            return 0, -target, -source
        return 0, 0, 0

    def _count_phase(self, index: int, epochs: int, wanted: int, phase: int | None = None) -> int:
        """How many epochs e in [0, epochs) have (e + phase) % MISS_PERIOD == wanted."""
        if phase is None:
            phase = _h(self.seed, "phase", index)
        first = (wanted - phase) % MISS_PERIOD
        return 0 if epochs <= first else (epochs - 1 - first) // MISS_PERIOD + 1

    def attestation_total(self, index: int, epoch: int) -> int:
        """The attestation rewards of every epoch before `epoch`, in closed form."""
        activation, _, exit_epoch, _, _ = self.lifecycle(index)
        end = min(epoch, exit_epoch)
        if end <= activation:
            return 0
        head, target, source = self.ideal(self.effective_balance(index, 0))
        voting_end = min(end, SLASH_EPOCH) if index == SLASHED else end
        slashed_epochs = end - voting_end  # a slashed validator's votes are all missed
        missed = headless = 0
        if voting_end > activation:
            phase = _h(self.seed, "phase", index)
            count = self._count_phase
            missed = count(index, voting_end, 0, phase) - count(index, activation, 0, phase)
            half = MISS_PERIOD // 2
            headless = count(index, voting_end, half, phase) - count(index, activation, half, phase)
            if self.attestation_outage is not None and index in self.attestation_outage[0]:
                # An outage epoch is missed whatever its seeded outcome was.
                for epoch_out in self.attestation_outage[1].windows(activation, voting_end):
                    seeded = self._seeded_outcome(index, epoch_out)
                    missed += seeded != "missed"
                    headless -= seeded == "head_missed"
        ok = max(0, voting_end - activation) - missed - headless
        return (
            ok * (head + target + source)
            + headless * (target + source)
            - (missed + slashed_epochs) * (target + source)
        )

    def slashing_penalty(self, index: int, epoch: int) -> int:
        """The initial slashing penalty (1/4096 of the effective balance under Electra),
        applied in the slashing epoch: counted by states of later epochs."""
        if index == SLASHED and epoch > SLASH_EPOCH:
            return self.effective_balance(index, 0) // 4096
        return 0

    # ----------------------------------------------------------------------------- sync committees
    def sync_period(self, epoch: int) -> int:
        return epoch // self.sync_period_epochs

    def sync_committee(self, period: int) -> list[int]:
        """The 512 seats of a period, validator 12 first; drawn in period order and cached."""
        for p in range(len(self._committees), period + 1):
            seats = []
            for position in range(SYNC_COMMITTEE_SIZE):
                if position == 0 and self.registry_size > SYNC_MEMBER:
                    seats.append(SYNC_MEMBER)
                    continue
                drawn = _h(self.seed, "sync", p, position) % self.registry_size
                seats.append(self._ordinary(drawn))
            self._committees[p] = seats
            for index, count in Counter(seats).items():
                self._sync_seats.setdefault(index, []).append((p, count))
        return self._committees[period]

    def sync_seats(self, index: int, period: int) -> int:
        return self.sync_committee(period).count(index) if index < self.registry_size else 0

    def sync_missed(self, index: int, slot: int) -> bool:
        """Whether a member failed its sync duty in the block of `slot`."""
        return index == SYNC_MEMBER and slot % self.slots_per_epoch == self._position(
            SYNC_MISS_POSITION
        )

    def sync_rewards(self, slot: int) -> dict[int, int]:
        """Sync reward (negative for a miss) per member in the block of `slot`, committee order."""
        period = self.sync_period(slot // self.slots_per_epoch)
        out: dict[int, int] = {}
        reward = self.sync_participant_reward
        for index in self.sync_committee(period):
            earned = -reward if self.sync_missed(index, slot) else reward
            out[index] = out.get(index, 0) + earned
        return out

    def sync_bits(self, slot: int) -> str:
        bits = bytearray(b"\xff" * (SYNC_COMMITTEE_SIZE // 8))
        period = self.sync_period(slot // self.slots_per_epoch)
        for position, index in enumerate(self.sync_committee(period)):
            if self.sync_missed(index, slot):
                bits[position // 8] &= ~(1 << (position % 8)) & 0xFF
        return "0x" + bits.hex()

    def _sync_total(self, index: int, slot: int) -> int:
        """Sync rewards of `index` in the canonical blocks before `slot` (ledger extended)."""
        if slot <= 0:
            return 0
        self.sync_committee(self.sync_period((slot - 1) // self.slots_per_epoch))
        periods = self._sync_seats.get(index)
        if not periods:
            return 0
        span = self.sync_period_epochs * self.slots_per_epoch
        total = 0
        for period, seats in periods:
            start = period * span
            if start >= slot:
                break
            end = min(slot, start + span)
            blocks = self._canonical_before[end] - self._canonical_before[start]
            total += seats * self.sync_participant_reward * blocks
            if index == SYNC_MEMBER:
                misses = self._sync_misses_before[end] - self._sync_misses_before[start]
                total -= 2 * seats * self.sync_participant_reward * misses
        return total

    # ----------------------------------------------------------------------------- the ledger
    def _extend(self, end: int) -> None:
        """Processes slots up to `end` (exclusive), in order: each canonical block's proposer
        reward, withdrawals and deposits, and the prefix counts the sync rewards use."""
        for slot in range(self._ledger_end, end):
            canonical = self.has_block(slot)
            missed_sync = canonical and self.sync_missed(SYNC_MEMBER, slot)
            self._canonical_before.append(self._canonical_before[-1] + canonical)
            self._sync_misses_before.append(self._sync_misses_before[-1] + missed_sync)
            if canonical:
                proposer = self.proposer(slot)
                reward = int(self.block_rewards(slot)["total"])
                self._proposals.setdefault(proposer, []).append((slot, reward))
                self._record_withdrawals(slot)
                if slot == self.deposit_slot():
                    # Credited by the epoch transition after the credit epoch's last slot:
                    # counted by every state from the next epoch's first slot on.
                    credited = (DEPOSIT_CREDIT_EPOCH + 1) * self.slots_per_epoch - 1
                    self._deposits.setdefault(COMPOUNDING, []).append((credited, DEPOSIT_GWEI))
                    self._block_deposits[slot] = [COMPOUNDING]
            self._ledger_end = slot + 1

    def _record_withdrawals(self, slot: int) -> None:
        epoch = slot // self.slots_per_epoch
        start = epoch * self.slots_per_epoch
        due: list[tuple[int, int]] = []
        first_of_epoch = slot == self._first_block(start, slot + 1)
        for index in (SLASHED, EXITING):
            if first_of_epoch and index < self.registry_size and epoch == self.lifecycle(index)[4]:
                due.append((index, self._balance(index, slot)))
        if slot == self._first_block(start + self._sweep_position(), start + self.slots_per_epoch):
            group = epoch % (SWEEP_BELOW // SWEEP_PER_EPOCH)
            first = group * SWEEP_PER_EPOCH
            for index in range(first, min(first + SWEEP_PER_EPOCH, self.registry_size)):
                if index in LIFECYCLE_SCENARIOS or self.is_compounding(index):
                    continue
                excess = self._balance(index, slot) - self.effective_balance(index, epoch)
                if excess > 0:
                    due.append((index, excess))
        rows = []
        for index, amount in sorted(due):
            rows.append(
                {
                    "index": str(self._withdrawal_count),
                    "validator_index": str(index),
                    "address": self.withdrawal_address(index),
                    "amount": str(amount),
                }
            )
            self._withdrawal_count += 1
            self._withdrawals.setdefault(index, []).append((slot, amount))
        if rows:
            self._block_withdrawals[slot] = rows

    def _sweep_position(self) -> int:
        return min(SWEEP_POSITION, self.slots_per_epoch - 1)

    def deposit_slot(self) -> int | None:
        """The block that carries validator 11's 5 ETH top-up request."""
        if self.registry_size <= COMPOUNDING:
            return None
        start = DEPOSIT_EPOCH * self.slots_per_epoch
        first = start + min(DEPOSIT_POSITION, self.slots_per_epoch - 1)
        return self._first_block(first, start + self.slots_per_epoch)

    @staticmethod
    def _before(events, slot: int) -> int:
        return sum(amount for at, amount in events if at < slot)

    def _balance(self, index: int, slot: int, *, with_block: bool = False) -> int:
        """Balance at `slot` after its epoch transition and the canonical blocks before it
        (with `with_block`, after the slot's own block too: what the state at `slot` holds),
        over a ledger already extended past `slot`."""
        epoch = slot // self.slots_per_epoch
        blocks_end = slot + 1 if with_block else slot
        balance = (
            self.effective_balance(index, 0)
            + self.attestation_total(index, epoch)
            - self.slashing_penalty(index, epoch)
            + self._sync_total(index, blocks_end)
        )
        # Most validators never meet a block event: skip the empty lists cheaply.
        for events, sign in (
            (self._proposals.get(index), 1),
            (self._deposits.get(index), 1),
            (self._withdrawals.get(index), -1),
        ):
            if events:
                balance += sign * self._before(events, blocks_end)
        return balance

    def balance_at(self, index: int, slot: int) -> int:
        """Balance in the state at `slot`, as a node answers for that state id: attestation
        rewards of the epochs before the slot's epoch and the effects of the canonical blocks up
        to and including the slot's own."""
        if slot + 1 > self._ledger_end:
            self._extend(slot + 1)
        return self._balance(index, slot, with_block=True)

    def balance(self, index: int, epoch: int) -> int:
        """Balance in the state at the first slot of `epoch`."""
        return self.balance_at(index, epoch * self.slots_per_epoch)

    def block_withdrawals(self, slot: int) -> list[dict]:
        self._extend(slot + 1)
        return self._block_withdrawals.get(slot, []) if self.has_block(slot) else []

    def deposit_credit_slot(self) -> int | None:
        """The last slot before the epoch transition that credits validator 11's top-up."""
        if self.deposit_slot() is None:
            return None
        return (DEPOSIT_CREDIT_EPOCH + 1) * self.slots_per_epoch - 1

    def pending_deposits(self, slot: int) -> list[dict]:
        """The state's queue of PendingDeposit at `slot`: validator 11's top-up from the state
        after the block that carries it until the transition that credits it."""
        carrier, credit = self.deposit_slot(), self.deposit_credit_slot()
        if carrier is None or not carrier <= slot <= credit:
            return []
        request = self._deposit_request(COMPOUNDING, carrier, 0)
        del request["index"]
        return [{**request, "slot": str(carrier)}]

    def block_deposits(self, slot: int) -> list[int]:
        self._extend(slot + 1)
        return self._block_deposits.get(slot, [])

    def withdrawals_of(self, index: int, start: int, end: int) -> list[tuple[int, int]]:
        """(slot, gwei) of the withdrawals of `index` in the canonical blocks of [start, end)."""
        self._extend(end)
        return [(s, a) for s, a in self._withdrawals.get(index, ()) if start <= s < end]

    def income(self, index: int, epoch: int) -> dict:
        """What epoch `epoch` brought validator `index`, in gwei: attestation head, target and
        source, slashing penalty, proposer rewards and sync rewards of the epoch's canonical
        blocks, and its withdrawals and deposits. `total` is the consensus income, which equals
        balance(epoch + 1) - balance(epoch) + withdrawals - deposits. The states at the epochs'
        first slots hold those slots' blocks, so the epoch's blocks here are those of the slots
        (first, first of the next epoch]."""
        first, following = epoch * self.slots_per_epoch, (epoch + 1) * self.slots_per_epoch
        start, end = first + 1, following + 1  # block windows are [start, end)
        self._extend(end)
        head, target, source = self.attestation_reward(index, epoch)
        slashing = self.slashing_penalty(index, epoch + 1) - self.slashing_penalty(index, epoch)
        proposals = self._proposals.get(index, ())
        proposal = self._before(proposals, end) - self._before(proposals, start)
        sync = self._sync_total(index, end) - self._sync_total(index, start)
        withdrawals = sum(a for _, a in self.withdrawals_of(index, start, end))
        deposits = self._before(self._deposits.get(index, ()), end) - self._before(
            self._deposits.get(index, ()), start
        )
        return {
            "head": head,
            "target": target,
            "source": source,
            "slashing": -slashing,
            "proposal": proposal,
            "sync": sync,
            "withdrawals": withdrawals,
            "deposits": deposits,
            "total": head + target + source - slashing + proposal + sync,
            "balance_start": self._balance(index, first, with_block=True),
            "balance_end": self._balance(index, following, with_block=True),
        }

    def status(self, index: int, epoch: int) -> str:
        activation, initiated, exit_epoch, withdrawable, _ = self.lifecycle(index)
        slashed = index == SLASHED and epoch >= SLASH_EPOCH
        if epoch < activation:
            return "pending_queued"
        if epoch < exit_epoch:
            if slashed:
                return "active_slashed"
            return "active_exiting" if epoch >= initiated else "active_ongoing"
        if epoch < withdrawable:
            return "exited_slashed" if slashed else "exited_unslashed"
        # As the spec says: withdrawal_done once the balance is gone.
        if self.balance(index, epoch) == 0:
            return "withdrawal_done"
        return "withdrawal_possible"

    def validator(self, index: int, epoch: int, slot: int | None = None) -> dict:
        activation, initiated, exit_epoch, withdrawable, _ = self.lifecycle(index)
        exited_known = epoch >= initiated
        prefix = "0x02" if self.is_compounding(index) else "0x01"
        slot = epoch * self.slots_per_epoch if slot is None else slot
        return {
            "index": str(index),
            "balance": str(self.balance_at(index, slot)),
            "status": self.status(index, epoch),
            "validator": {
                "pubkey": self.pubkey(index),
                "withdrawal_credentials": prefix + "00" * 11 + self.withdrawal_address(index)[2:],
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

    # ----------------------------------------------------------------------------- execution layer
    @property
    def builder(self) -> tuple[str, bytes]:
        """(address, private key) of the MEV-Boost builder that wins validator 7's slots."""
        if self._builder is None:
            from eth_account import Account  # only needed once a payload names the builder

            key = hashlib.blake2b(f"builder:{self.seed}".encode(), digest_size=32).digest()
            self._builder = (Account.from_key(key).address.lower(), key)
        return self._builder

    def builder_pubkey(self) -> str:
        return _hex(self.seed, "builder_pubkey", size=48)

    def mev_payment_wei(self, slot: int) -> int:
        """The builder's payment in an MEV-Boost slot (0 in shape (c) and outside MEV slots)."""
        if self.mev_shape(slot) in (BUILDER_COINBASE, FEE_RECIPIENT_PAID):
            return MEV_PAYMENT_WEI + slot * 1_000_003
        return 0

    def relay_value_wei(self, slot: int) -> int:
        """What the relay claims it delivered: what the proposer's fee recipient gained in the
        mined block (`proposer_income_wei`), 10% more in the epochs where it over-claims (the
        mismatch a dashboard must flag, never sum)."""
        block = self.el_block(slot)
        paid = block["proposer_income_wei"] if block else self.mev_payment_wei(slot)
        epoch = slot // self.slots_per_epoch
        return paid * 11 // 10 if epoch % RELAY_OVERCLAIM_EPOCHS == 2 else paid

    def attach_execution(self, execution, start_slot: int) -> None:
        """Mine one block on `execution` (a SimulatedChain) for every canonical slot from
        `start_slot` on; the builder gets 1,000 ETH for its MEV payments."""
        self.execution = execution
        self.el_start_slot = self._el_next = start_slot
        self.deposit_chain_id = execution.chain_id
        execution.pay(self.builder[0], 1000 * WEI_PER_ETH)

    def mine_el_until(self, slot: int) -> None:
        """Mines the EL blocks of the canonical slots up to `slot` not yet mined, in order."""
        if self.execution is None:
            return
        while self._el_next <= slot:
            current = self._el_next
            self._el_next += 1
            if self.has_block(current):
                self._el_blocks[current] = self._mine_el(current)

    def el_block(self, slot: int) -> dict | None:
        """The execution block mined for `slot` (None before the node's start, for an empty
        slot, a future slot or without an execution chain): number, hash, miner, fees, the
        transactions' hashes, `priority_fees_wei`, `mev_shape` (None without MEV-Boost),
        `mev_payment_wei` (0 without a payment), `mev_payer`, `builder`, and
        `proposer_income_wei`: what the proposer's fee recipient earned (priority fees where it
        is the coinbase, plus the payment), to the wei."""
        if self.execution is None or slot < self.el_start_slot or slot > self.current_slot():
            return None
        self.mine_el_until(slot)
        return self._el_blocks.get(slot)

    def mined_el_blocks(self) -> dict[int, dict]:
        """Every execution block mined for a slot so far (the slot in progress included)."""
        self.mine_el_until(self.current_slot())
        return dict(self._el_blocks)

    def _mine_el(self, slot: int) -> dict:
        execution = self.execution
        shape = self.mev_shape(slot)
        mev = shape is not None
        count = (
            (2 + _h(self.seed, "ntx", slot) % 2) if mev else (1 + _h(self.seed, "ntx", slot) % 2)
        )
        transfers = []
        for k in range(count):
            transfers.append(
                {
                    "key": execution.account_key(1 + (slot + k) % 4),
                    "to": execution.accounts[5 + k],
                    "value": 10**15 + slot,
                    "priority_fee": (1 + (slot + k) % 3) * GWEI_PER_ETH,
                }
            )
        payment = self.mev_payment_wei(slot)
        payer = None
        if payment:
            # The builder pays from its own address: the coinbase in (a), not in (b).
            address, key = self.builder
            transfers.append(
                {"key": key, "to": self.fee_recipient(GOOD_PROPOSER), "value": payment}
            )
            payer = address
        coinbase = self.payload_fee_recipient(slot)
        withdrawals = [
            {
                "index": int(w["index"]),
                "validator_index": int(w["validator_index"]),
                "address": w["address"],
                "amount": int(w["amount"]),
            }
            for w in self.block_withdrawals(slot)
        ]
        block = execution.mine_block(
            coinbase=coinbase,
            transactions=transfers,
            withdrawals=withdrawals,
            timestamp=int(self.slot_time(slot)),
        )
        own = coinbase == self.fee_recipient(self.proposer(slot))
        block.update(
            slot=slot,
            proposer_index=self.proposer(slot),
            mev_shape=shape,
            mev_payment_wei=payment,
            mev_payer=payer,
            mev_recipient=self.fee_recipient(GOOD_PROPOSER) if mev else None,
            builder=self.builder[0] if mev else None,
            proposer_income_wei=(block["priority_fees_wei"] if own else 0) + payment,
        )
        return block

    def _synthetic_payload(self, slot: int, canonical: bool) -> dict:
        self._extend(slot + 1)
        parent = self.last_block_slot(slot - 1) if slot > 0 else None
        return {
            "parent_hash": ZERO_ROOT if parent is None else _root(self.seed, "el", parent),
            "fee_recipient": self.payload_fee_recipient(slot),
            "state_root": _root(self.seed, "el_state", slot, canonical),
            "receipts_root": _root(self.seed, "el_receipts", slot, canonical),
            "logs_bloom": "0x" + "00" * 256,
            "prev_randao": _root(self.seed, "randao", slot),
            "block_number": str(self._canonical_before[slot] + 1),
            "gas_limit": "30000000",
            "gas_used": "0",
            "timestamp": str(int(self.slot_time(slot))),
            "extra_data": "0x",
            "base_fee_per_gas": str(GWEI_PER_ETH),
            "block_hash": _root(self.seed, "el" if canonical else "el_orphan", slot),
            "transactions": [],
        }

    def execution_payload(self, slot: int, canonical: bool = True) -> dict:
        block = self.el_block(slot) if canonical else None
        if block is None:
            payload = self._synthetic_payload(slot, canonical)
        else:
            payload = {
                "parent_hash": block["parent_hash"],
                "fee_recipient": block["miner"].lower(),
                "state_root": block["state_root"],
                "receipts_root": block["receipts_root"],
                "logs_bloom": block["logs_bloom"],
                "prev_randao": block["prev_randao"],
                "block_number": str(block["number"]),
                "gas_limit": str(block["gas_limit"]),
                "gas_used": str(block["gas_used"]),
                "timestamp": str(block["timestamp"]),
                "extra_data": block["extra_data"],
                "base_fee_per_gas": str(block["base_fee_per_gas"]),
                "block_hash": block["hash"],
                "transactions": list(block["transactions"]),
            }
        payload["withdrawals"] = self.block_withdrawals(slot) if canonical else []
        payload["blob_gas_used"] = "0"
        payload["excess_blob_gas"] = "0"
        return payload

    def _deposit_request(self, index: int, slot: int, position: int) -> dict:
        """A DepositRequest (EIP-6110) as the block's execution_requests carry it; `index` is
        the deposit contract's running count, which the registry's deposits reached."""
        credentials = "0x02" + "00" * 11 + self.withdrawal_address(index)[2:]
        return {
            "pubkey": self.pubkey(index),
            "withdrawal_credentials": credentials,
            "amount": str(DEPOSIT_GWEI),
            "signature": _signature(self.seed, "deposit", index, slot),
            "index": str(self.registry_size + position),
        }

    def _attestation(self, slot: int, committee: int) -> dict:
        target_epoch = slot // self.slots_per_epoch
        source_epoch = max(0, target_epoch - 1)
        return {
            "aggregation_bits": "0x" + "ff" * 16 + "01",
            "data": {
                "slot": str(slot),
                "index": "0",  # Electra: the committee is in committee_bits
                "beacon_block_root": self.block_root(self.last_block_slot(slot)),
                "source": {
                    "epoch": str(source_epoch),
                    "root": self.block_root(
                        self.last_block_slot(source_epoch * self.slots_per_epoch)
                    ),
                },
                "target": {
                    "epoch": str(target_epoch),
                    "root": self.block_root(
                        self.last_block_slot(target_epoch * self.slots_per_epoch)
                    ),
                },
            },
            "signature": _signature(self.seed, "attestation", slot, committee),
            "committee_bits": _bitvector(64, [committee]),
        }

    def _proposer_slashing(self, slot: int) -> dict:
        def signed(variant):
            return {
                "message": {
                    "slot": str(slot - 1),
                    "proposer_index": str(SLASHED),
                    "parent_root": self._parent_root(slot - 1),
                    "state_root": _root(self.seed, "slashing_state", variant),
                    "body_root": _root(self.seed, "slashing_body", variant),
                },
                "signature": _signature(self.seed, "slashing", variant),
            }

        return {"signed_header_1": signed(1), "signed_header_2": signed(2)}

    def block(self, slot: int, canonical: bool = True) -> dict:
        """The SignedBeaconBlock (Electra) of a slot, as /eth/v2/beacon/blocks serves it."""
        epoch = slot // self.slots_per_epoch
        voluntary_exits = []
        first_of_exit_epoch = self._first_block(
            EXIT_INIT * self.slots_per_epoch, (EXIT_INIT + 1) * self.slots_per_epoch
        )
        if canonical and slot == first_of_exit_epoch and self.registry_size > EXITING:
            voluntary_exits.append(
                {
                    "message": {"epoch": str(EXIT_INIT), "validator_index": str(EXITING)},
                    "signature": _signature(self.seed, "exit", EXITING),
                }
            )
        slashings = []
        if slot == self._slashing_slot() and self.registry_size > SLASHED:
            slashings.append(self._proposer_slashing(slot))
        requests = self.block_deposits(slot) if canonical else []
        deposit_requests = [self._deposit_request(i, slot, n) for n, i in enumerate(requests)]
        attested = [s for s in (slot - 1, slot - 2) if s >= 0]
        body = {
            "randao_reveal": _signature(self.seed, "randao_reveal", slot),
            "eth1_data": {
                "deposit_root": _root(self.seed, "deposit_root", epoch),
                "deposit_count": str(self.registry_size),
                "block_hash": _root(self.seed, "eth1", epoch),
            },
            "graffiti": "0x" + f"ethdash-sim {slot}".encode().hex().ljust(64, "0"),
            "proposer_slashings": slashings,
            "attester_slashings": [],
            "attestations": [self._attestation(s, i) for i, s in enumerate(attested)],
            "deposits": [],  # the Eth1 bridge is done: deposits come as execution requests
            "voluntary_exits": voluntary_exits,
            "sync_aggregate": {
                "sync_committee_bits": self.sync_bits(slot),
                "sync_committee_signature": _signature(self.seed, "sync_aggregate", slot),
            },
            "execution_payload": self.execution_payload(slot, canonical),
            "bls_to_execution_changes": [],
            "blob_kzg_commitments": [],
            "execution_requests": {
                "deposits": deposit_requests,
                "withdrawals": [],
                "consolidations": [],
            },
        }
        return {
            "message": {
                "slot": str(slot),
                "proposer_index": str(self.proposer(slot)),
                "parent_root": self._parent_root(slot),
                "state_root": self.state_root(slot),
                "body": body,
            },
            "signature": _signature(self.seed, "sig", slot),
        }
