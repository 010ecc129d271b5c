"""Sync-committee rewards of the farm's members over one epoch's blocks, computed from the blocks'
sync aggregates instead of asked block by block (which was one POST per block, most of the
requests a farm with a member made).

The rule (consensus-specs, altair/beacon-chain.md `process_sync_aggregate`, unchanged through
Electra and Fulu): for every seat of the committee (SYNC_COMMITTEE_SIZE seats; a validator may
hold several) the block's `sync_aggregate.sync_committee_bits` says whether it took part. A seat
that took part gains `participant_reward`, one that did not loses the same amount; the proposer's
reward for including them is separate (the rewards endpoint leaves it out too). An empty slot
has no aggregate: no reward and no penalty. So a member's reward in a block is

    participant_reward × (seats that took part − seats that did not)

with participant_reward = base_reward_per_increment × total_active_increments
× SYNC_REWARD_WEIGHT // WEIGHT_DENOMINATOR // SLOTS_PER_EPOCH // SYNC_COMMITTEE_SIZE. Electra
changed none of it: a 2,048 ETH (0x02) member holds a seat like any other, its effective balance
counts only in the total active balance.

That total (the effective balances of all active validators) is nowhere in what the farm reads:
the standard API gives it only by reading the whole registry. It is fixed for an epoch (effective
balances, activations and exits change only at epoch transitions), so participant_reward is read
once per epoch instead: the rewards endpoint's answer for one block of the epoch, for the whole
committee, divided by each member's net seats. The blocks of (first slot of E, first slot of
E+1] span two epochs: one answer for E's blocks, and the block at E+1's first slot is asked
directly.

Where the rule might not give what the node computes, the node is asked, block by block, as
before: a member that may have been withdrawn in full during the epoch (a balance below the
penalty is not taken below zero), a member whose answer in the sampled block the rule does not
explain, and every member when the answer names a validator the committee does not hold or no
single participant_reward explains it.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Callable, Collection


def participation(bits: str, size: int) -> list[bool]:
    """A block's `sync_committee_bits` (an SSZ Bitvector: seat i is bit i % 8 of byte i // 8)
    as one bool per seat. ValueError when it does not hold `size` seats."""
    raw = bytes.fromhex(bits.removeprefix("0x"))
    if len(raw) * 8 != size:
        raise ValueError(f"{len(raw) * 8} sync committee bits for {size} seats")
    return [bool(raw[seat // 8] >> (seat % 8) & 1) for seat in range(size)]


def net_seats(committee: list[int], took_part: list[bool]) -> dict[int, int]:
    """Per member: seats that took part minus seats that did not (a member may sit twice)."""
    net: dict[int, int] = defaultdict(int)
    for index, bit in zip(committee, took_part, strict=True):
        net[index] += 1 if bit else -1
    return dict(net)


def participant_reward(answer: list[dict], net: dict[int, int]) -> int | None:
    """The participant reward that explains the rewards endpoint's `answer` for one block, given
    the members' net seats in it: the value most members' reward / net seats agree on. None when
    the answer names a validator not on the committee (it is not the committee we think) or no
    member's reward can be explained."""
    candidates: Counter[int] = Counter()
    for row in answer:
        seats = net.get(row["validator_index"])
        if seats is None:
            return None
        if seats and row["reward"] % seats == 0 and row["reward"] // seats > 0:
            candidates[row["reward"] // seats] += 1
    if not candidates:
        return None
    (best, votes), *rest = candidates.most_common(2)
    if rest and rest[0][1] == votes:
        return None
    return best


def withdrawable_by(states: dict, members: Collection[int], epoch: int) -> set[int]:
    """The members that may have been withdrawn in full by `epoch` (their withdrawable epoch has
    come): the node cuts a penalty at a zero balance, so their rewards are asked for."""
    return {
        i
        for i in members
        if i in states
        and states[i].withdrawable_epoch is not None
        and states[i].withdrawable_epoch <= epoch
    }


def block_bits(block: dict) -> str | None:
    aggregate = (block.get("body") or {}).get("sync_aggregate")
    return aggregate.get("sync_committee_bits") if aggregate else None


async def read_sync_rewards(
    client,
    blocks: dict[int, dict | None],
    *,
    committee: list[int],
    members: Collection[int],
    first: int,
    end_state: int,
    fragile: Collection[int] = (),
    trusted: Callable = lambda response: response,
    gate: asyncio.Semaphore | None = None,
) -> dict[int, list[int]]:
    """Each of `members`' sync reward in every block of (first, end_state], in slot order.

    `committee` is the committee of E's period (the one `first` is in), in seat order;
    `blocks` the blocks read for those slots (None for an empty slot); `fragile` the members the
    rule may not hold for (they might have been withdrawn in full in the epoch): the node is asked
    for those. `trusted` checks each answer (optimistic answers are refused)."""
    gate = gate or asyncio.Semaphore(8)
    out: dict[int, list[int]] = {index: [] for index in members}
    if not members:
        return out
    filled = [slot for slot in sorted(blocks) if blocks[slot] is not None and first < slot]
    in_epoch = [slot for slot in filled if slot < end_state]
    per_slot: dict[int, dict[int, int]] = {}

    async def ask(slot, ids):
        async with gate:
            response = trusted(await client.sync_committee_rewards(slot, ids))
        return [(slot, row) for row in response.data]

    async def nothing():
        return []

    # E+1's first block is paid from E+1's total active balance (and, at a period boundary, by
    # the next committee): asked directly. Of E's blocks the first is asked for the whole
    # committee (ids None), so that some member's net seats are not zero.
    followed = set(members)
    sample = in_epoch[0] if in_epoch else None
    whole, next_first = await asyncio.gather(
        ask(sample, None) if in_epoch else nothing(),
        ask(end_state, sorted(members)) if end_state in filled else nothing(),
    )
    answered, asked = list(next_first), []
    whole = [row for _, row in whole]
    if in_epoch:
        per_slot[sample] = {
            r["validator_index"]: r["reward"] for r in whole if r["validator_index"] in followed
        }
        nets, reward = {}, None
        try:
            nets = {
                slot: net_seats(
                    committee, participation(block_bits(blocks[slot]) or "", len(committee))
                )
                for slot in in_epoch
            }
            reward = participant_reward(whole, nets[sample])
        except ValueError:  # bits missing or of another committee size: the node computes it
            pass
        if reward is None:
            computed, ask_for = [], set(members)
        else:
            ask_for = set(fragile) & followed
            # A member the rule does not explain in the sample is asked for, not guessed.
            ask_for |= {
                i for i, r in per_slot[sample].items() if r != nets[sample].get(i, 0) * reward
            }
            computed = sorted(followed - ask_for)
        for slot in in_epoch[1:]:
            if computed:
                per_slot[slot] = {i: nets[slot].get(i, 0) * reward for i in computed}
            if ask_for:
                asked.append(ask(slot, sorted(ask_for)))
    answered += [pair for part in await asyncio.gather(*asked) for pair in part]
    for slot, row in answered:
        per_slot.setdefault(slot, {})[row["validator_index"]] = row["reward"]
    for slot in filled:
        for index, amount in (per_slot.get(slot) or {}).items():
            if index in out:
                out[index].append(amount)
    return out
