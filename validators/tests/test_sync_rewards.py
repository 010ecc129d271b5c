"""Sync-committee rewards computed from the blocks' sync aggregates (validators.services.
sync_rewards) agree with the node's rewards endpoint to the gwei, block by block, for members
sitting once or several times, through missed and orphaned slots and a period boundary, with
one rewards answer per epoch instead of one per block; where the rule may not hold (a member
withdrawn in full, an answer it does not explain) the node is asked, as before."""

import asyncio
import json
import math
import time
from collections import Counter
from pathlib import Path

import pytest

from simulators.beacon_chain import SYNC_COMMITTEE_SIZE, SYNC_MEMBER
from simulators.beacon_node import start_beacon_node, stop_beacon_node
from validators.formats.client import BeaconClient, BeaconError, Response
from validators.services.epochs import ValidatorState
from validators.services.sync_rewards import (
    net_seats,
    participant_reward,
    participation,
    read_sync_rewards,
    withdrawable_by,
)

FIXTURES = Path(__file__).parent / "fixtures" / "beacon"
SPE = 8
GWEI = 10**9
SYNC_PATH = "POST /eth/v1/beacon/rewards/sync_committee/{block_id}"


def spec_participant_reward(total_active_gwei: int, slots_per_epoch: int, size: int) -> int:
    """consensus-specs altair/beacon-chain.md, process_sync_aggregate (unchanged since)."""
    increment = GWEI  # EFFECTIVE_BALANCE_INCREMENT
    base_reward_per_increment = increment * 64 // math.isqrt(total_active_gwei)  # FACTOR 64
    total_base_rewards = base_reward_per_increment * (total_active_gwei // increment)
    max_participant_rewards = total_base_rewards * 2 // 64 // slots_per_epoch  # weight 2 of 64
    return max_participant_rewards // size


def bits_of(took_part: list[bool]) -> str:
    raw = bytearray(len(took_part) // 8)
    for seat, bit in enumerate(took_part):
        if bit:
            raw[seat // 8] |= 1 << (seat % 8)
    return "0x" + raw.hex()


# ------------------------------------------------------------------------------ the rule


def test_bits_are_read_as_an_ssz_bitvector():
    # Seat i is bit i % 8 of byte i // 8: 0x01 is seat 0, 0x80 seat 7, 0x0001 seat 8.
    assert participation("0x01" + "00" * 3, 32) == [True] + [False] * 31
    assert participation("0x80" + "00" * 3, 32)[7] is True
    assert participation("0x0001" + "00" * 2, 32)[8] is True
    assert participation("0x" + "ff" * 64, 512) == [True] * 512
    with pytest.raises(ValueError):
        participation("0x" + "ff" * 4, 512)  # a committee of another size


def test_a_member_sitting_twice_earns_or_loses_per_seat():
    committee = [5, 5, 6, 7] + [8] * 28
    took_part = [True, False, False, True] + [True] * 28
    net = net_seats(committee, took_part)
    assert net == {5: 0, 6: -1, 7: 1, 8: 28}
    assert net_seats([5, 5] + [8] * 30, [True, True] + [True] * 30)[5] == 2


def test_the_participant_reward_is_what_the_answer_says_per_net_seat():
    net = {5: 0, 6: -1, 7: 1, 8: 28}
    answer = [
        {"validator_index": 5, "reward": 0},
        {"validator_index": 6, "reward": -1234},
        {"validator_index": 7, "reward": 1234},
        {"validator_index": 8, "reward": 28 * 1234},
    ]
    assert participant_reward(answer, net) == 1234
    # One member cut at a zero balance does not outvote the rest.
    clamped = [*answer[:1], {"validator_index": 6, "reward": 0}, *answer[2:]]
    assert participant_reward(clamped, net) == 1234
    # A validator the committee does not hold: not this committee.
    assert participant_reward([*answer, {"validator_index": 99, "reward": 1234}], net) is None
    # Nothing to divide by, or two values as likely as each other: unknown.
    assert participant_reward(answer[:1], net) is None
    assert participant_reward([answer[1], {"validator_index": 7, "reward": 999}], net) is None


def test_a_recorded_answer_gives_the_participant_reward():
    # A real-shaped answer (one member took part, one did not), read through the client's
    # conversion: its reward per net seat is the participant reward.
    raw = json.loads((FIXTURES / "sync_committee_rewards.json").read_text())
    answer = [
        {"validator_index": int(r["validator_index"]), "reward": int(r["reward"])}
        for r in raw["data"]
    ]
    assert participant_reward(answer, {1: 1, 1043: -1}) == 21414


# ------------------------------------------------------------------------------ against the node


async def _node(**kwargs):
    options = {
        "seconds_per_slot": 0.5,
        "slots_per_epoch": SPE,
        "registry_size": 100,  # 512 seats of fewer validators: members sit several times
        "sync_period_epochs": 4,
        "history_epochs": 100,
        "genesis_time": time.time() - 12 * SPE * 0.5 - 0.25,
    }
    options.update(kwargs)
    server = await start_beacon_node(**options)
    port = server.sockets[0].getsockname()[1]
    return server, BeaconClient(f"http://127.0.0.1:{port}", batch_size=1000)


async def _blocks(client, first, end_state):
    blocks = {}
    for slot in range(first, end_state + 1):
        try:
            blocks[slot] = (await client.block(slot)).data
        except BeaconError as exc:
            assert exc.not_found
            blocks[slot] = None
    return blocks


@pytest.mark.asyncio
async def test_computed_rewards_equal_the_endpoint_for_every_block_of_several_epochs():
    server, client = await _node()
    chain = server.chain
    try:
        # The simulated node's participant reward is the spec's, for its total active balance.
        assert chain.sync_participant_reward == spec_participant_reward(
            chain.registry_size * 32 * GWEI, SPE, SYNC_COMMITTEE_SIZE
        )
        seen = Counter()
        for epoch in range(0, 9):  # periods 0, 1 and 2; 3 -> 4 and 7 -> 8 cross a boundary
            first, end_state = epoch * SPE, (epoch + 1) * SPE
            committee = (await client.sync_committee(first, epoch)).data["validators"]
            members = sorted(set(committee))
            blocks = await _blocks(client, first, end_state)
            server.stats.reset()
            computed = await read_sync_rewards(
                client, blocks, committee=committee, members=members, first=first,
                end_state=end_state,
            )  # fmt: skip
            # One answer per epoch the blocks belong to: E's, and E+1's first block.
            in_epoch = any(blocks[slot] for slot in range(first + 1, end_state))
            assert server.stats[SYNC_PATH] == in_epoch + (blocks[end_state] is not None)
            # The node's own answers, block by block, for the same members.
            truth = {index: [] for index in members}
            for slot in range(first + 1, end_state + 1):
                if blocks[slot] is None:
                    seen["empty slot"] += 1
                    continue
                answer = await client.sync_committee_rewards(slot, members)
                for row in answer.data:
                    truth[row["validator_index"]].append(row["reward"])
            assert computed == truth, epoch
            seats = Counter(committee)
            seen["twice or more"] += sum(1 for i in members if seats[i] > 1)
            seen["missed"] += sum(1 for r in computed[SYNC_MEMBER] if r < 0)
        # The cases the brief names were all met: empty slots (missed and orphaned), members
        # sitting several times, a member missing its duty.
        assert seen["empty slot"] >= 9 and seen["twice or more"] and seen["missed"] >= 9
    finally:
        await client.aclose()
        await stop_beacon_node(server)


class ScriptedNode:
    """A rewards endpoint following the spec for a hand-built committee: every participating
    seat +reward, every other -reward, with a balance that cannot go below zero."""

    def __init__(self, committee, bits_by_slot, reward, balances=None, lie=None):
        self.committee, self.bits_by_slot, self.reward = committee, bits_by_slot, reward
        self.balances = balances or {}
        self.lie = lie or {}
        self.calls = []

    async def sync_committee_rewards(self, slot, ids=None):
        self.calls.append((slot, None if ids is None else list(ids)))
        delta = Counter()
        took_part = participation(self.bits_by_slot[slot], len(self.committee))
        for index, bit in zip(self.committee, took_part, strict=True):
            before = self.balances.get(index, 32 * GWEI) + delta[index]
            delta[index] += self.reward if bit else -min(self.reward, before)
        rows = [
            {"validator_index": i, "reward": self.lie.get((slot, i), delta[i])}
            for i in dict.fromkeys(self.committee)
            if not ids or i in ids
        ]
        return Response(data=rows)


def _scripted_blocks(first, end_state, bits_by_slot):
    return {
        slot: (
            None
            if slot not in bits_by_slot
            else {"body": {"sync_aggregate": {"sync_committee_bits": bits_by_slot[slot]}}}
        )
        for slot in range(first, end_state + 1)
    }


def _scripted(committee, first=80, end_state=88, empty=(83,)):
    """Bits per slot: validator 5 sits at seats 0 and 1 and takes part in one of them from slot
    82 on; 6 misses on odd slots; everyone else takes part."""
    bits = {}
    for slot in range(first, end_state + 1):
        if slot in empty:
            continue
        took_part = [True] * len(committee)
        if slot >= 82:
            took_part[1] = False
        if slot % 2:
            took_part[2] = False
        bits[slot] = bits_of(took_part)
    return bits


async def _truth(node, bits, members, first=80, end_state=88):
    """The scripted node's answers block by block, as the code asked before."""
    truth = {i: [] for i in members}
    for slot in range(first + 1, end_state + 1):
        if slot in bits:
            for row in (await node.sync_committee_rewards(slot, members)).data:
                truth[row["validator_index"]].append(row["reward"])
    return truth


@pytest.mark.asyncio
async def test_a_member_on_two_seats_with_one_missed_and_an_empty_slot():
    committee = [5, 5, 6, 7, *range(20, 48)]
    bits = _scripted(committee)
    node = ScriptedNode(committee, bits, reward=1234)
    members = [5, 6, 7]
    computed = await read_sync_rewards(
        node, _scripted_blocks(80, 88, bits), committee=committee, members=members, first=80,
        end_state=88,
    )  # fmt: skip
    # One answer for slot 81 (the whole committee) and one for slot 88 (the next epoch's).
    assert sorted(node.calls, key=str) == [(81, None), (88, members)]
    assert computed == await _truth(node, bits, members)
    # Slots 81, 82, 84-88 (83 is empty: no reward, no penalty, no entry).
    assert computed[5] == [2468, 0, 0, 0, 0, 0, 0]
    assert computed[6] == [-1234, 1234, 1234, -1234, 1234, -1234, 1234]
    assert computed[7] == [1234] * 7


@pytest.mark.asyncio
async def test_members_the_rule_may_not_hold_for_are_asked_for():
    committee = [5, 5, 6, 7, *range(20, 48)]
    bits = _scripted(committee)
    blocks = _scripted_blocks(80, 88, bits)
    members = [5, 6, 7]
    in_epoch_after_sample = [82, 84, 85, 86, 87]

    async def run(node, fragile=(), seats=committee):
        computed = await read_sync_rewards(
            node, blocks, committee=seats, members=members, first=80, end_state=88,
            fragile=fragile,
        )  # fmt: skip
        asked = sorted((slot, tuple(ids)) for slot, ids in node.calls if slot not in (81, 88))
        node.calls.clear()
        return computed, asked

    # Validator 6 withdrawn in full: a balance of 0 takes no penalty.
    node = ScriptedNode(committee, bits, reward=1234, balances={6: 0})
    computed, asked = await run(node, fragile={6})
    assert computed == await _truth(node, bits, members) and min(computed[6]) == 0
    assert asked == [(slot, (6,)) for slot in in_epoch_after_sample]

    # An answer the rule does not explain for a member: that member is asked for.
    node = ScriptedNode(committee, bits, reward=1234, lie={(81, 7): 1000})
    computed, asked = await run(node)
    assert computed == await _truth(node, bits, members)
    assert asked == [(slot, (7,)) for slot in in_epoch_after_sample]

    # An answer naming a validator the committee does not hold (the seats read were of another
    # committee): every member, every block.
    node = ScriptedNode(committee, bits, reward=1234)
    computed, asked = await run(node, seats=[*committee[:3], 99, *committee[4:]])
    assert computed == await _truth(node, bits, members)
    assert asked == [(slot, tuple(members)) for slot in in_epoch_after_sample]


def test_only_members_whose_withdrawable_epoch_has_come_are_fragile():
    def state(index, withdrawable):
        return ValidatorState(
            index=index, pubkey="", status="", balance=0, effective_balance=0, slashed=False,
            withdrawal_credentials="", activation_epoch=0, exit_epoch=None,
            withdrawable_epoch=withdrawable,
        )  # fmt: skip

    states = {1: state(1, None), 2: state(2, 11), 3: state(3, 12), 4: state(4, 10)}
    assert withdrawable_by(states, [1, 2, 3, 4, 5], 11) == {2, 4}


def test_an_unknown_committee_size_falls_back_to_asking():
    asyncio.run(_unknown_size())


async def _unknown_size():
    committee = [5, 5, 6, 7, *range(20, 48)]
    bits = _scripted(committee)
    node = ScriptedNode(committee, bits, reward=1234)
    blocks = _scripted_blocks(80, 88, bits)
    blocks[84] = {"body": {}}  # no sync aggregate in a block: the node is asked
    computed = await read_sync_rewards(
        node, blocks, committee=committee, members=[5], first=80, end_state=88
    )
    assert len(node.calls) == 7  # 81 (the sample), 82, 84-87 and 88
    assert computed == await _truth(node, bits, [5])
