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
  aggregates with one rewards/sync_committee answer per epoch (validators.services.sync_rewards);
- deposits: since Electra a deposit waits in the state's pending queue and is credited at a later
  epoch transition. Where the node serves states/{id}/pending_deposits, what left the queue
  between the two states was credited; where it does not (404), the balance says it
  (credit_deposit_requests). The deposits ours get in Electra blocks are returned either way, to
  be kept (DepositRequest) and matched against a later credit.
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
# Block versions whose deposits are credited by the block itself; from Electra on they go
# through the state's pending-deposits queue (consensus-specs electra apply_deposit,
# process_deposit_request, process_pending_deposits).
BEFORE_ELECTRA = frozenset({"phase0", "altair", "bellatrix", "capella", "deneb"})


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


@dataclass(slots=True, frozen=True)
class DepositSeen:
    """A deposit to one of ours in an Electra (or later) block: queued, not yet credited.
    `position` is the order the block applied it in (body.deposits first, then
    execution_requests.deposits, as process_operations does)."""

    index: int
    slot: int
    position: int
    amount: int
    pubkey: str


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
    # Whether the node serves states/{id}/pending_deposits: True it does not (404/405/501), False
    # it does; None not asked, or the state is before Electra (400), which says nothing of it.
    queue_missing: bool | None = None
    # Ours still in the queue at the end of E, as (pubkey, slot, amount); None without a queue.
    queued: frozenset[tuple[str, int, int]] | None = None
    # The same at the start of E: a row in neither was credited before E, not in it.
    queued_before: frozenset[tuple[str, int, int]] | None = None
    # Deposits ours got in the epoch's Electra blocks (queue served or not), kept until credited.
    deposits_seen: list[DepositSeen] = field(default_factory=list)
    # The consensus rewards of the blocks ours proposed in (first of E, first of E+1], the
    # window of the balance change (E's proposals, and the block at E+1's first slot).
    window_proposer_rewards: dict[int, int] = field(default_factory=dict)
    # For slashed validators with an attestation duty: did the node see them attest in E
    # (validator/liveness)? Absent: not asked, or the node does not serve that epoch.
    liveness: dict[int, bool] = field(default_factory=dict)


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
    ask_pending_queue: bool = True,
) -> EpochRead:
    """Reads epoch `epoch` for `indices`. `known_start` holds the indices whose balance at the
    start of the epoch the caller already has; `sync_members` the farm's members of the epoch's
    sync period when already known (None: ask the node; either way the committee's seats are
    read when the farm may have a member, for the sync aggregates). `ask_pending_queue` False:
    the node is known not to serve states/{id}/pending_deposits, so it is not asked."""
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

    # True: the node does not serve the endpoint; False: it does; None: not asked, or the state
    # is before Electra (400: no queue there, which says nothing about the node).
    queue_missing: list[bool | None] = [None]

    async def pending_queues():
        # Since Electra a deposit waits in the state's queue and is credited at a later epoch
        # transition: what left the queue between the two states is what was credited. The
        # second state is asked only once the first answered, so a node without the endpoint
        # is asked once.
        if not ask_pending_queue:
            return None
        try:
            before_q = _trusted(await client.pending_deposits(first))
            after_q = _trusted(await client.pending_deposits(end_state))
        except BeaconError as exc:
            # beacon-APIs pending_deposits.yaml: "Should return 400 if the state retrieved is
            # prior to Electra": no queue in that state, the node is not switched to the
            # fallback. 404/405/501: a node without the endpoint.
            if exc.status == 400:
                return None
            if exc.status in (404, 405, 501):
                queue_missing[0] = True
                return None
            raise
        queue_missing[0] = False
        return before_q.data, after_q.data

    states, starts, (rewards, ideal), duties_r, seats, queues = await asyncio.gather(
        read_states(),
        start_balances(),
        read_rewards(),
        client.proposer_duties(epoch),
        committee(),
        pending_queues(),
    )
    _trusted(duties_r)
    liveness = await _slashed_liveness(client, epoch, states)
    ours = set(indices)
    members_now = frozenset(i for i in seats if i in ours)
    our_duties = {
        d["slot"]: d["validator_index"] for d in duties_r.data if d["validator_index"] in ours
    }
    pubkeys = {state.pubkey: index for index, state in states.items()}

    gate = asyncio.Semaphore(BLOCK_CONCURRENCY)
    blocks: dict[int, dict | None] = {}
    versions: dict[int, str | None] = {}

    async def read_block(slot):
        async with gate:
            try:
                response = _trusted(await client.block(slot))
                blocks[slot], versions[slot] = response.data, response.version
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
    seen: list[DepositSeen] = []
    for slot in filled:
        block = blocks[slot]
        for w in block["withdrawals"]:
            if w["validator_index"] in ours:
                withdrawals.append({**w, "slot": slot, "address": w["address"].lower()})
        version = versions.get(slot)
        if version in BEFORE_ELECTRA or (
            version is None and "execution_requests" not in block["body"]
        ):
            if queues is not None:
                continue  # a pre-Electra block never sits in a window the queue covers
            # Before Electra a deposit is credited by the block that carries it.
            for deposit in block["body"].get("deposits") or []:
                index = pubkeys.get(deposit["data"]["pubkey"].lower())
                if index is not None:
                    deposits[index] += int(deposit["data"]["amount"])
            continue
        # Kept whether or not the queue is served: a deposit seen while one node served it may
        # be credited while another that does not is asked (failover, a node downgraded).
        seen.extend(_deposits_seen(block, slot, pubkeys))
    if queues is not None:
        for index, amount in credited_deposits(*queues, pubkeys).items():
            deposits[index] += amount
    # For every validator of ours, not only those with deposits seen: a deposit requested
    # before the farm's first epoch, or a consolidation, is credited without a row to match.
    # At most one call more an epoch (the block at E+1's first slot, when ours proposed it).
    window_rewards = await _window_proposer_rewards(client, blocks, filled, ours, proposals)
    queued = queued_before = None
    if queues is not None:
        queued_before, queued = (
            frozenset((d["pubkey"], d["slot"], d["amount"]) for d in q if d["pubkey"] in pubkeys)
            for q in queues
        )
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
        queue_missing=queue_missing[0],
        queued=queued,
        queued_before=queued_before,
        deposits_seen=seen,
        window_proposer_rewards=window_rewards,
        liveness=liveness,
    )


async def _slashed_liveness(client, epoch: int, states: dict[int, ValidatorState]):
    """Whether the node saw each slashed validator with a duty attest in `epoch`. Its rewards
    cannot tell: the spec pays a slashed validator no vote and penalises source and target
    whatever it did. The Beacon API asks nodes to serve liveness for the current and previous
    epoch only (they MAY serve earlier), so an epoch read once final may be refused: then it is
    not known, and the validator is not reported as missing."""
    slashed = [i for i, state in states.items() if state.slashed and is_active(state, epoch)]
    if not slashed:
        return {}
    try:
        rows = await client.liveness(epoch, slashed)
    except BeaconError as exc:
        if exc.status in (400, 404, 405, 501):  # epoch not kept, or no liveness endpoint
            return {}
        raise
    return {row["index"]: row["is_live"] for row in rows}


def _deposits_seen(block: dict, slot: int, pubkeys: dict[str, int]) -> list[DepositSeen]:
    """Ours among an Electra block's deposits, in the order the block queues them: Eth1 bridge
    deposits (body.deposits, until the bridge is done), then deposit requests."""
    body = block["body"]
    entries = [d["data"] for d in body.get("deposits") or []]
    entries += (body.get("execution_requests") or {}).get("deposits") or []
    out = []
    for position, entry in enumerate(entries):
        index = pubkeys.get(entry["pubkey"].lower())
        if index is not None:
            out.append(DepositSeen(index, slot, position, int(entry["amount"]), entry["pubkey"]))
    return out


async def _window_proposer_rewards(client, blocks, filled, ours, proposals):
    """Consensus rewards of the blocks in the balance window proposed by `ours`: those of
    E's proposals already read, plus the block at E+1's first slot (the window's last)."""
    rewards: dict[int, int] = defaultdict(int)
    read = {p.slot: p for p in proposals if p.outcome == "proposed"}
    for slot in filled:
        proposer = blocks[slot]["proposer_index"]
        if proposer not in ours:
            continue
        if slot in read:
            rewards[proposer] += read[slot].consensus_reward
        else:
            rewards[proposer] += _trusted(await client.block_rewards(slot)).data["total"]
    return dict(rewards)


# The deposit contract refuses less than 1 ETH (MIN_DEPOSIT_AMOUNT, checked by its deposit
# function); process_deposit_request itself sets no minimum, so this bound comes from the contract.
MIN_DEPOSIT_GWEI = 10**9
# An unexplained balance increase this large is a credit, never a reward: what a node's rewards
# endpoints leave out is a few thousand gwei (E's rewards against those the transition applied)
# or a penalty (negative). Half the smallest deposit also absorbs that gap on a deposit.
CREDIT_THRESHOLD_GWEI = MIN_DEPOSIT_GWEI // 2


@dataclass
class DepositCredits:
    """What credit_deposit_requests decided, per validator index: the waiting rows credited in
    the epoch (`credited`), the waiting rows older than those, credited earlier in an epoch not
    matched with them (`stale`: closed, not counted now), and the gwei credited that no row
    explains (`unseen`: a deposit requested before the farm's first epoch or seen by no read, or
    a consolidation's balance moved from its source)."""

    credited: dict[int, list[object]] = field(default_factory=dict)
    stale: dict[int, list[object]] = field(default_factory=dict)
    unseen: dict[int, int] = field(default_factory=dict)


def credit_deposit_requests(
    read: EpochRead,
    start_balances: dict[int, int],
    waiting: dict[int, list[tuple[object, int]]],
) -> DepositCredits:
    """What the epoch credited to each validator without earning it, from its balance.

    The balance change plus withdrawals, less what the node's rewards endpoints report
    (attestations with inactivity, the blocks it proposed in the window, sync committee) and
    less the deposits the pending queue showed credited (read.deposits), is the residual. A
    residual of CREDIT_THRESHOLD_GWEI or more is a credit: a deposit (the contract takes at
    least 1 ETH) or a consolidation (process_pending_consolidations moves the source's active
    balance onto the target); neither is income. The residual decides the amount; `waiting`
    (per index, rows not yet credited as (key, gwei) in queue order) only names it. The spec
    credits a validator's deposits first in, first out (process_pending_deposits), so a credit
    is a run of consecutive waiting rows: the run whose sum is nearest the residual, within
    the threshold and not above it by more, is taken (the earliest, then the shortest, on a
    tie); rows before it were credited in an earlier epoch (`stale`). What the run leaves
    of the residual, when it reaches the threshold, is `unseen`. Adds the credited gwei (the
    run's whole deposits, plus the unseen rest) to `read.deposits`."""
    starts = {**start_balances, **read.start_balances}
    withdrawn: dict[int, int] = defaultdict(int)
    for w in read.withdrawals:
        withdrawn[w["validator_index"]] += w["amount"]
    out = DepositCredits()
    for index, state in read.states.items():
        start = starts.get(index)
        if start is None:  # a gap: nothing can be decided, rows keep waiting
            continue
        explained = (
            sum(read.rewards.get(index, (0, 0, 0, 0)))
            + read.window_proposer_rewards.get(index, 0)
            + sum(read.sync.get(index, ()))
            + read.deposits.get(index, 0)
        )
        residual = state.balance - start + withdrawn[index] - explained
        if residual < CREDIT_THRESHOLD_GWEI:
            continue
        queue = waiting.get(index, [])
        best = None  # (gap, start, length)
        for first in range(len(queue)):
            total = 0
            for length, (_key, amount) in enumerate(queue[first:], start=1):
                total += amount
                if total > residual + CREDIT_THRESHOLD_GWEI:
                    break
                gap = abs(residual - total)
                if best is None or gap < best[0]:
                    best = (gap, first, length)
        counted = 0
        if best is not None:
            _gap, first, length = best
            run = queue[first : first + length]
            out.credited[index] = [key for key, _ in run]
            if first:
                out.stale[index] = [key for key, _ in queue[:first]]
            counted = sum(amount for _, amount in run)
        rest = residual - counted
        if rest >= CREDIT_THRESHOLD_GWEI:
            out.unseen[index] = rest
            counted += rest
        if counted:
            read.deposits[index] = read.deposits.get(index, 0) + counted
    return out


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
    live: bool | None = None  # slashed validators only: seen attesting (liveness), if known

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
        if self.flags & Flag.PENALISED:
            return "attested, penalised (slashed)" if self.live else "penalised (slashed)"
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


# Lifecycle order of the Beacon API's statuses ("unknown": never read yet).
STATUS_RANK = {
    "unknown": -1,
    "pending_initialized": 0,
    "pending_queued": 1,
    "active_ongoing": 2,
    "active_exiting": 3,
    "active_slashed": 3,
    "exited_unslashed": 4,
    "exited_slashed": 4,
    "withdrawal_possible": 5,
    "withdrawal_done": 6,
}


def status_rows(previous: str, state: ValidatorState, seen_epoch: int) -> list[tuple[int, str]]:
    """The status history rows, (epoch, status), a change from `previous` to `state.status` adds;
    `seen_epoch` is the epoch of the state that shows it (E+1 for the state at E+1's first
    slot, never E). Activation, exit and withdrawability carry the epochs the validator's record
    names; the others (pending, exiting, slashed, withdrawn) the epoch they were first seen in.
    The milestones passed since `previous` (a gap, or a first read) get their rows too."""
    if previous == state.status:
        return []
    exited = "exited_slashed" if state.slashed else "exited_unslashed"
    named = [
        (state.activation_epoch, "active_ongoing"),
        (state.exit_epoch, exited),
        (state.withdrawable_epoch, "withdrawal_possible"),
    ]
    low, high = STATUS_RANK.get(previous, -1), STATUS_RANK.get(state.status, 99)
    rows = [
        (epoch, status)
        for epoch, status in named
        if epoch is not None
        and epoch <= seen_epoch
        and low < STATUS_RANK[status] < high
        and status != state.status
    ]
    own = {status: epoch for epoch, status in named if epoch is not None}
    rows.append((min(own.get(state.status, seen_epoch), seen_epoch), state.status))
    return rows


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
        if state.slashed:
            # Missed means missed: a slashed validator's rewards are penalties whether it voted
            # or not, so only liveness can say it missed; its penalties are shown as such (also
            # after its exit, until it is withdrawable, as the node reports them).
            flags = Flag(0)
            if duty and read.liveness.get(index) is False:
                flags |= Flag.MISSED
            if any(part < 0 for part in read.rewards.get(index, zero)):
                flags |= Flag.PENALISED
        else:
            # An unslashed validator's source and target are both penalised exactly when no
            # vote of its was included in time (the spec's participation flags, as the node's
            # rewards components report them).
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
            live=read.liveness.get(index),
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
