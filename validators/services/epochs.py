"""One epoch of a farm's validators: read from a beacon node (`fetch_epoch`), then turned into
per-validator records (`compute_epoch`). No database access here: the caller passes what it knows
and stores what comes back (validators.services.store), so both halves are tested directly.

Epoch E is read once epoch E+1 is complete (its rewards are final then):
- states/{first slot of E+1}/validators: status, balance at the end of E, effective balance;
- states/{first slot of E}/validator_balances, only for validators whose balance at the start of
  E is not known from the previous epoch (the first epoch, or after a gap);
- rewards/attestations/E with ideal rewards; proposer duties of E and its blocks (an empty slot
  whose proposer is ours is missed, or orphaned when the node still knows a non-canonical block
  there); rewards/blocks for our proposals;
- the blocks that make the balance change, those of slots (first of E, first of E+1] (a state id
  names the state after its slot's block): withdrawals, deposits, and when some of ours sit on
  the sync committee of E's period, their sync rewards, computed from the blocks' sync
  aggregates with one rewards/sync_committee answer per epoch (validators.services.sync_rewards).
Sets of validators always go by POST, in batches of ETHDASH_BEACON_BATCH_SIZE ids.
"""

from __future__ import annotations

import asyncio
import operator
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from validators.formats.client import FAR_FUTURE_EPOCH, BeaconClient, BeaconError, batched
from validators.services.chain import Flag
from validators.services.sync_rewards import read_sync_rewards, withdrawable_by

BLOCK_CONCURRENCY = 8


class UntrustedAnswer(Exception):
    """The node answered from an optimistic head: not used for new epochs."""


@dataclass(slots=True)
class ValidatorState:
    index: int
    pubkey: str
    status: str
    balance: int
    effective_balance: int
    slashed: bool
    withdrawal_credentials: str
    activation_epoch: int | None
    exit_epoch: int | None
    withdrawable_epoch: int | None


@dataclass
class ProposalRead:
    slot: int
    index: int
    outcome: str  # proposed, missed, orphaned
    block_root: str = ""
    consensus_reward: int = 0
    block_number: int | None = None
    block_hash: str = ""
    fee_recipient: str = ""


@dataclass
class EpochRead:
    """Everything a node said about one epoch of the farm's validators."""

    epoch: int
    states: dict[int, ValidatorState]
    start_balances: dict[int, int]
    rewards: dict[int, tuple[int, int, int, int]]  # head, target, source, inactivity
    ideal: dict[int, tuple[int, int, int, int]]  # by effective balance
    proposals: list[ProposalRead]
    withdrawals: list[dict]  # index, validator_index, address, amount, slot
    deposits: dict[int, int]  # validator index -> gwei credited in E
    sync: dict[int, list[int]]  # validator index -> per-slot sync rewards in E
    sync_members: frozenset[int] | None = None
    sync_period_length: int = 256
    requests: int = 0


def _epoch_or_none(value: int) -> int | None:
    return None if value == FAR_FUTURE_EPOCH else value


def _state(item: dict) -> ValidatorState:
    v = item["validator"]
    return ValidatorState(
        index=item["index"],
        pubkey=v["pubkey"].lower(),
        status=item["status"],
        balance=item["balance"],
        effective_balance=v["effective_balance"],
        slashed=v["slashed"],
        withdrawal_credentials=v["withdrawal_credentials"],
        activation_epoch=_epoch_or_none(v["activation_epoch"]),
        exit_epoch=_epoch_or_none(v["exit_epoch"]),
        withdrawable_epoch=_epoch_or_none(v["withdrawable_epoch"]),
    )


def _trusted(response):
    if response.execution_optimistic:
        raise UntrustedAnswer("the node answered from an optimistic head")
    return response


async def fetch_epoch(
    client: BeaconClient,
    epoch: int,
    indices: list[int],
    *,
    slots_per_epoch: int,
    epochs_per_sync_period: int,
    known_start: set[int],
    sync_members: frozenset[int] | None = None,
) -> EpochRead:
    """Reads epoch `epoch` for `indices`. `known_start` holds the indices whose balance at the
    start of the epoch the caller already has; `sync_members` the farm's members of the epoch's
    sync period when already known (None: ask the node; either way the committee's seats are
    read when the farm may have a member, for the sync aggregates)."""
    first = epoch * slots_per_epoch
    end_state = first + slots_per_epoch
    before = client.requests

    async def start_balances():
        missing = [i for i in indices if i not in known_start]
        if not missing:
            return {}
        try:
            response = _trusted(await client.validator_balances(first, missing))
        except BeaconError as exc:
            if exc.not_found:  # pruned: those validators start counting from the next epoch
                return {}
            raise
        return {row["index"]: row["balance"] for row in response.data}

    async def committee():
        # The seats (in order) are what the blocks' sync aggregates refer to; not asked when the
        # farm is known to have no member in the period.
        if sync_members is not None and not sync_members:
            return []
        return _trusted(await client.sync_committee(first, epoch)).data["validators"]

    # Each batch is turned into compact records as it arrives, so a worker never holds more
    # than one batch of the node's JSON at a time.
    async def read_states():
        states = {}
        for chunk in batched(indices, client.batch_size):
            for item in _trusted(await client.validators(end_state, chunk)).data:
                states[item["index"]] = _state(item)
        return states

    async def read_rewards():
        rewards, ideal = {}, {}
        for chunk in batched(indices, client.batch_size):
            data = _trusted(await client.attestation_rewards(epoch, chunk)).data
            for r in data["total_rewards"]:
                rewards[r["validator_index"]] = _votes(r)
            for r in data["ideal_rewards"]:
                ideal[r["effective_balance"]] = _votes(r)
        return rewards, ideal

    async def pending_queues():
        # Since Electra a deposit waits in the state's queue and is credited at a later epoch
        # transition: what left the queue between the two states is what was credited.
        try:
            before_q, after_q = await asyncio.gather(
                client.pending_deposits(first), client.pending_deposits(end_state)
            )
        except BeaconError as exc:
            if exc.status in (400, 404, 405, 501):  # a node before Electra: no queue
                return None
            raise
        return _trusted(before_q).data, _trusted(after_q).data

    states, starts, (rewards, ideal), duties_r, seats, queues = await asyncio.gather(
        read_states(),
        start_balances(),
        read_rewards(),
        client.proposer_duties(epoch),
        committee(),
        pending_queues(),
    )
    _trusted(duties_r)
    ours = set(indices)
    members_now = frozenset(i for i in seats if i in ours)
    our_duties = {
        d["slot"]: d["validator_index"] for d in duties_r.data if d["validator_index"] in ours
    }
    pubkeys = {state.pubkey: index for index, state in states.items()}

    gate = asyncio.Semaphore(BLOCK_CONCURRENCY)
    blocks: dict[int, dict | None] = {}

    async def read_block(slot):
        async with gate:
            try:
                blocks[slot] = _trusted(await client.block(slot)).data
            except BeaconError as exc:
                if not exc.not_found:
                    raise
                blocks[slot] = None

    # A state id names the state after that slot's block: the balance change from the state at
    # `first` to the one at `end_state` is made by the blocks of (first, end_state]. Those carry
    # the epoch's withdrawals, deposits and sync rewards; proposals are the duties of E's slots.
    await asyncio.gather(*(read_block(slot) for slot in range(first, end_state + 1)))

    proposals, withdrawals, deposits = [], [], defaultdict(int)

    async def proposal(slot, index):
        block = blocks[slot]
        if block is None:
            try:
                seen = (await client.headers_at(slot)).data
            except BeaconError as exc:
                if not exc.not_found:  # Lighthouse answers 404 for a slot without any block
                    raise
                seen = []
            orphan = next(
                (h for h in seen if not h["canonical"] and h["proposer_index"] == index), None
            )
            if orphan:
                return ProposalRead(slot, index, "orphaned", block_root=orphan["root"])
            return ProposalRead(slot, index, "missed")
        reward = _trusted(await client.block_rewards(slot)).data
        header = (await client.block_header(slot)).data
        return ProposalRead(
            slot,
            index,
            "proposed",
            block_root=header["root"],
            consensus_reward=reward["total"],
            block_number=block["block_number"],
            block_hash=block["block_hash"] or "",
            fee_recipient=(block["fee_recipient"] or "").lower(),
        )

    filled = [slot for slot in sorted(blocks) if blocks[slot] is not None and slot > first]
    proposal_reads, sync = await asyncio.gather(
        asyncio.gather(*(proposal(slot, index) for slot, index in sorted(our_duties.items()))),
        read_sync_rewards(
            client, blocks, committee=seats, members=members_now, first=first,
            end_state=end_state, fragile=withdrawable_by(states, members_now, epoch + 1),
            trusted=_trusted, gate=gate,
        ),
    )  # fmt: skip
    proposals.extend(proposal_reads)
    for slot in filled:
        block = blocks[slot]
        for w in block["withdrawals"]:
            if w["validator_index"] in ours:
                withdrawals.append({**w, "slot": slot, "address": w["address"].lower()})
        if queues is not None:
            continue
        # Before Electra a deposit is credited by the block that carries it.
        for deposit in block["body"].get("deposits") or []:
            index = pubkeys.get(deposit["data"]["pubkey"].lower())
            if index is not None:
                deposits[index] += int(deposit["data"]["amount"])
    if queues is not None:
        for index, amount in credited_deposits(*queues, pubkeys).items():
            deposits[index] += amount
    return EpochRead(
        epoch=epoch,
        states=states,
        start_balances=starts,
        rewards=rewards,
        ideal=ideal,
        proposals=proposals,
        withdrawals=withdrawals,
        deposits=dict(deposits),
        sync=sync,
        sync_members=members_now,
        sync_period_length=epochs_per_sync_period,
        requests=client.requests - before,
    )


def credited_deposits(before: list[dict], after: list[dict], pubkeys: dict[str, int]):
    """Gwei credited per validator index: our entries in the queue at the start that are gone
    at the end (a deposit is never queued and credited within one epoch: it waits for
    finality). Entries are told apart by pubkey, amount, slot and signature."""
    key = operator.itemgetter("pubkey", "amount", "slot", "signature")
    left = Counter(key(d) for d in before if d["pubkey"] in pubkeys)
    left.subtract(Counter(key(d) for d in after if d["pubkey"] in pubkeys))
    credited = defaultdict(int)
    for (pubkey, amount, _slot, _signature), count in left.items():
        if count > 0:
            credited[pubkeys[pubkey]] += amount * count
    return dict(credited)


def _votes(r: dict) -> tuple[int, int, int, int]:
    return (r["head"], r["target"], r["source"], r.get("inactivity") or 0)


# ------------------------------------------------------------------------------ computing


@dataclass(slots=True)
class ValidatorRecord:
    """One validator's epoch, ready to store."""

    index: int
    income: int | None  # None: the balance at the start of the epoch is unknown
    effective_balance: int
    duty: bool  # an attestation was due (active during the epoch)
    reward: tuple[int, int, int, int]
    ideal: tuple[int, int, int, int]
    flags: Flag
    withdrawals: int = 0
    deposits: int = 0
    proposals: int = 0
    proposals_missed: int = 0
    proposals_orphaned: int = 0
    proposal_reward: int = 0
    sync_duties: int = 0
    sync_missed: int = 0
    sync_reward: int = 0

    @property
    def attestation_reward(self) -> int:
        return sum(self.reward)

    @property
    def attestation_ideal(self) -> int:
        return sum(self.ideal)

    @property
    def missed(self) -> bool:
        return bool(self.flags & Flag.MISSED)

    @property
    def last_duty(self) -> str:
        if self.proposals_missed or self.proposals_orphaned:
            return "proposal missed" if self.proposals_missed else "proposal orphaned"
        if self.proposals:
            return "proposed a block"
        if not self.duty:
            return ""
        if self.missed:
            return "attestation missed"
        wrong = [
            name
            for flag, name in (
                (Flag.HEAD, "head"),
                (Flag.TARGET, "target"),
                (Flag.SOURCE, "source"),
            )
            if self.flags & flag
        ]
        return f"attested ({', '.join(wrong)} wrong or late)" if wrong else "attested"


@dataclass
class EpochResult:
    epoch: int
    records: dict[int, ValidatorRecord] = field(default_factory=dict)

    def total(self, name: str) -> int:
        return sum(getattr(r, name) or 0 for r in self.records.values())


def is_active(state: ValidatorState, epoch: int) -> bool:
    """Attesting duty in `epoch`: activated and not yet exited (no "missed" outside that)."""
    return (
        state.activation_epoch is not None
        and state.activation_epoch <= epoch
        and (state.exit_epoch is None or epoch < state.exit_epoch)
    )


def attestation_flags(reward, ideal) -> Flag:
    head, target, source, inactivity = reward
    i_head, i_target, i_source, _ = ideal
    flags = Flag(0)
    if source < 0 and target < 0:
        flags |= Flag.MISSED
    if head < i_head:
        flags |= Flag.HEAD
    if target < i_target:
        flags |= Flag.TARGET
    if source < i_source:
        flags |= Flag.SOURCE
    if inactivity < 0:
        flags |= Flag.INACTIVITY
    return flags


def compute_epoch(
    read: EpochRead, start_balances: dict[int, int], slashed_before: frozenset[int] = frozenset()
) -> EpochResult:
    """Per-validator records of one epoch. `start_balances` holds each validator's balance at the
    start of the epoch as known before this read (read.start_balances adds the rest);
    `slashed_before` the validators already known to be slashed (the flag marks the epoch it
    happened in, not every epoch after).

    Income is the balance change plus what left the balance (withdrawals) minus what entered it
    without being earned (deposits): so neither a withdrawal nor a top-up is a loss or a gain.
    """
    result = EpochResult(read.epoch)
    starts = {**start_balances, **read.start_balances}
    withdrawn = defaultdict(int)
    for w in read.withdrawals:
        withdrawn[w["validator_index"]] += w["amount"]
    by_index = defaultdict(list)
    for p in read.proposals:
        by_index[p.index].append(p)
    zero = (0, 0, 0, 0)
    for index, state in read.states.items():
        duty = is_active(state, read.epoch)
        reward = read.rewards.get(index, zero) if duty else zero
        ideal = read.ideal.get(state.effective_balance, zero) if duty else zero
        flags = attestation_flags(reward, ideal) if duty else Flag(0)
        start = starts.get(index)
        income = None
        if start is not None:
            income = state.balance - start + withdrawn[index] - read.deposits.get(index, 0)
            if income < 0:
                flags |= Flag.NEGATIVE
        if state.slashed and index not in slashed_before:
            flags |= Flag.SLASHED
        record = ValidatorRecord(
            index=index,
            income=income,
            effective_balance=state.effective_balance,
            duty=duty,
            reward=reward,
            ideal=ideal,
            flags=flags,
            withdrawals=withdrawn[index],
            deposits=read.deposits.get(index, 0),
        )
        for p in by_index[index]:
            if p.outcome == "proposed":
                record.proposals += 1
                record.proposal_reward += p.consensus_reward
            else:
                record.flags |= Flag.PROPOSAL_MISSED
                if p.outcome == "orphaned":
                    record.proposals_orphaned += 1
                else:
                    record.proposals_missed += 1
        per_slot = read.sync.get(index, [])
        record.sync_duties = len(per_slot)
        record.sync_missed = sum(1 for r in per_slot if r < 0)
        record.sync_reward = sum(per_slot)
        if record.sync_missed:
            record.flags |= Flag.SYNC_MISSED
        result.records[index] = record
    return result
