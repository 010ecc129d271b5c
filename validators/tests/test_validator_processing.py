"""Epoch processing end to end against the simulated beacon node: what is stored agrees with the
node's rewards endpoints and the simulator's known rewards to the gwei, and faults (a syncing or
optimistic node, a node dying mid-epoch, 404 for a pruned state, 503, an epoch processed twice)
lose nothing and count nothing twice."""

import asyncio
import datetime as dt
import time

import httpx
import pytest

from simulators.beacon_node import start_beacon_node
from tests.loops import loop_thread
from validators.formats.client import BeaconClient
from validators.models import (
    BeaconNode,
    EpochSummary,
    Proposal,
    SyncDuty,
    Validator,
    ValidatorDay,
    ValidatorEpoch,
    ValidatorSync,
)
from validators.services import nodes as node_service
from validators.services.chain import Flag
from validators.services.process import process_farm
from validators.services.sync_rewards import net_seats, participation

SPE = 8
WATCHED = range(16)


@pytest.fixture
def sim(settings):
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    with loop_thread() as threaded:
        server = threaded.close_on_exit(
            threaded.run(
                start_beacon_node(seconds_per_slot=1.0, slots_per_epoch=SPE, registry_size=1000)
            )
        )
        yield threaded, server


def url_of(server):
    return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


@pytest.fixture
def farm(alpha, sim):
    _, server = sim
    farm = alpha.farm
    BeaconNode.objects.create(farm=farm, name="primary", url=url_of(server), priority=0)
    Validator.objects.bulk_create([Validator(farm=farm, index=i) for i in WATCHED])
    ValidatorSync.objects.create(farm=farm, next_epoch=0)
    return farm


def by_index(farm):
    return {v.index: v for v in Validator.objects.filter(farm=farm)}


def a_slot_later(farm):
    """As if a slot had passed since the nodes' last check (a node is asked once per slot)."""
    for node in BeaconNode.objects.filter(farm=farm, checked_at__isnull=False):
        node.checked_at -= dt.timedelta(seconds=node.seconds_per_slot)
        node.save(update_fields=["checked_at"])


def test_epochs_are_stored_as_the_node_reports_them(farm, sim):
    _, server = sim
    chain = server.chain
    run = process_farm(farm.pk, max_epochs=2)
    assert run.stored == [0, 1] and not run.error
    validators = by_index(farm)
    # Balances and income agree with the simulator's chain to the gwei.
    for index, validator in validators.items():
        assert validator.balance == chain.balance(index, 2)
        assert validator.balance_epoch == 2
        day = ValidatorDay.objects.get(validator=validator)
        # Epoch 0's start balance was read from the node (validator_balances at slot 0).
        assert day.epochs == 2
        known = chain.income(index, 0)["total"] + chain.income(index, 1)["total"]
        assert day.income == known, index
    # Imperfect epochs are exactly those whose rewards fall short of the ideal.
    for index in WATCHED:
        reward = chain.attestation_reward(index, 1)
        ideal = chain.ideal(chain.effective_balance(index, 1))
        row = ValidatorEpoch.objects.filter(validator=validators[index], epoch=1).first()
        short = chain.is_active(index, 1) and reward != ideal
        if short:
            assert row is not None
            assert (row.head, row.target, row.source) == reward
    # Nothing is reported missed for the pending validator 9 (activation at epoch 5).
    assert not ValidatorEpoch.objects.filter(validator=validators[9]).exists()
    assert ValidatorDay.objects.get(validator=validators[9]).attestations == 0
    # The slashed validator 3 is flagged once, in the epoch whose end state first says so.
    flagged = [
        row.epoch
        for row in ValidatorEpoch.objects.filter(validator=validators[3])
        if row.flags & Flag.SLASHED
    ]
    assert flagged == [1] and validators[3].slashed
    # Validator 7 proposes slot 1 of every epoch, validator 8's slot 2 is always missed.
    assert Proposal.objects.get(validator=validators[7], slot=SPE + 1).outcome == "proposed"
    assert Proposal.objects.get(validator=validators[8], slot=SPE + 2).outcome == "missed"


def test_an_epoch_processed_twice_counts_once(farm):
    process_farm(farm.pk, max_epochs=2)
    before = list(ValidatorDay.objects.order_by("validator").values_list("income", "epochs"))
    ValidatorSync.objects.filter(farm=farm).update(next_epoch=1)
    again = process_farm(farm.pk, max_epochs=1)
    assert again.stored == [1]  # the run went through the motions...
    after = list(ValidatorDay.objects.order_by("validator").values_list("income", "epochs"))
    assert after == before  # ...and stored nothing a second time
    assert EpochSummary.objects.filter(farm=farm, epoch=1).count() == 1


def test_a_syncing_or_optimistic_node_is_not_trusted(farm, sim):
    _, server = sim
    server.chain.syncing = True
    run = process_farm(farm.pk)
    assert not run.stored and "syncing" in run.error
    node = BeaconNode.objects.get(farm=farm)
    assert node.health == BeaconNode.Health.SYNCING
    assert "syncing" in ValidatorSync.objects.get(farm=farm).last_error
    server.chain.syncing = False
    server.chain.optimistic = True
    a_slot_later(farm)
    run = process_farm(farm.pk)
    assert not run.stored and BeaconNode.objects.get(farm=farm).health == "optimistic"
    server.chain.optimistic = False
    a_slot_later(farm)
    assert process_farm(farm.pk, max_epochs=1).stored == [0]


def test_a_node_dying_mid_epoch_is_replaced_by_the_next(farm, sim, monkeypatch):
    _, server = sim
    BeaconNode.objects.create(farm=farm, name="backup", url=url_of(server), priority=1)
    real = node_service.client_for
    budget = {"requests": 3}

    async def dying(request):
        budget["requests"] -= 1
        if budget["requests"] < 0:
            raise httpx.ConnectError("connection reset by peer", request=request)

    def client_for(node, **kwargs):
        if node.name == "primary" and "retries" not in kwargs:
            kwargs["client"] = httpx.AsyncClient(event_hooks={"request": [dying]})
            kwargs["backoff_s"] = 0
        return real(node, **kwargs)

    monkeypatch.setattr(node_service, "client_for", client_for)
    run = process_farm(farm.pk, max_epochs=1)
    assert run.stored == [0]
    summary = EpochSummary.objects.get(farm=farm, epoch=0)
    assert summary.node.name == "backup"
    primary = BeaconNode.objects.get(name="primary")
    assert primary.health == "down" and "connection reset" in primary.last_error


def test_pruned_states_are_skipped_with_the_reason(farm, sim):
    _, server = sim
    server.chain.history_epochs = 0  # the node keeps no history: epoch 0 is gone
    run = process_farm(farm.pk, max_epochs=1)
    assert run.skipped == [0]
    assert "pruned" in EpochSummary.objects.get(farm=farm, epoch=0).skipped


def test_a_node_answering_503_leaves_the_epoch_to_the_next(farm, sim, monkeypatch):
    _, server = sim
    BeaconNode.objects.create(farm=farm, name="backup", url=url_of(server), priority=1)
    real = node_service.client_for

    def handler(request):
        return httpx.Response(503, json={"code": 503, "message": "Beacon node is syncing"})

    def client_for(node, **kwargs):
        if node.name == "primary" and "retries" not in kwargs:
            kwargs["client"] = httpx.AsyncClient(transport=httpx.MockTransport(handler))
            kwargs["backoff_s"] = 0
        return real(node, **kwargs)

    monkeypatch.setattr(node_service, "client_for", client_for)
    run = process_farm(farm.pk, max_epochs=1)
    assert run.stored == [0]
    assert EpochSummary.objects.get(farm=farm, epoch=0).node.name == "backup"
    assert "503" in BeaconNode.objects.get(name="primary").last_error


def test_validators_added_by_pubkey_are_resolved_then_processed(farm, sim):
    _, server = sim
    pubkey = server.chain.pubkey(40)
    added = Validator.objects.create(farm=farm, pubkey=pubkey)
    run = process_farm(farm.pk, max_epochs=1)
    assert run.stored == [0]
    added.refresh_from_db()
    assert added.index == 40 and added.balance == server.chain.balance(40, 1)


def test_an_unknown_pubkey_is_shown_and_does_not_stop_the_others(farm):
    unknown = Validator.objects.create(farm=farm, pubkey="0x" + "ab" * 48)
    run = process_farm(farm.pk, max_epochs=1)
    assert run.stored == [0]
    unknown.refresh_from_db()
    assert unknown.index is None and "not found" in unknown.last_error


def test_a_reorg_across_an_epoch_boundary_loses_nothing_and_counts_nothing_twice(alpha, settings):
    """Seed 17 orphans the block of slot 8, the first of epoch 1: the end state of epoch 0 and
    the blocks of epoch 1 are read after the reorg, each once."""
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    with loop_thread() as threaded:
        server = threaded.close_on_exit(
            threaded.run(
                start_beacon_node(
                    seconds_per_slot=1.0, slots_per_epoch=SPE, registry_size=1000, seed=17
                )
            )
        )
        chain = server.chain
        assert chain.is_orphaned(SPE) and not chain.has_block(SPE)
        proposer = chain.proposer(SPE)
        farm = alpha.farm
        BeaconNode.objects.create(farm=farm, name="primary", url=url_of(server))
        watched = [*WATCHED, proposer]
        Validator.objects.bulk_create([Validator(farm=farm, index=i) for i in watched])
        ValidatorSync.objects.create(farm=farm, next_epoch=0)
        assert process_farm(farm.pk, max_epochs=2).stored == [0, 1]
        # Processed again from the start: nothing changes.
        ValidatorSync.objects.filter(farm=farm).update(next_epoch=0)
        process_farm(farm.pk, max_epochs=2)
    orphaned = Proposal.objects.get(slot=SPE)
    assert orphaned.outcome == "orphaned" and orphaned.validator.index == proposer
    assert Proposal.objects.filter(slot=SPE).count() == 1
    for validator in Validator.objects.filter(farm=farm):
        day = ValidatorDay.objects.get(validator=validator)
        known = sum(chain.income(validator.index, e)["total"] for e in (0, 1))
        assert (day.income, day.epochs) == (known, 2), validator.index
    # Slot 8's and validator 10's own orphaned block (slot 12), once each.
    assert sum(ValidatorDay.objects.values_list("proposals_orphaned", flat=True)) == 2


def test_one_worker_holds_a_farm_and_an_expired_lease_is_not_released_by_its_old_holder(farm):
    from datetime import timedelta

    from django.utils import timezone

    from validators.services.process import lease, release, renew

    now = timezone.now()
    first = lease(farm.pk, now=now)
    assert first is not None and lease(farm.pk, now=now) is None
    # The first worker stalls past its lease; a second one takes the farm.
    second = lease(farm.pk, now=now + timedelta(minutes=11))
    assert second is not None
    assert not renew(first)  # the stalled worker learns it lost the farm...
    release(first)  # ...and letting go does not free the farm under the second one
    assert ValidatorSync.objects.get(farm=farm).lease_until == second.lease_until
    release(second)
    assert ValidatorSync.objects.get(farm=farm).lease_until is None


def test_an_unexpected_failure_is_shown_on_the_farm(farm, monkeypatch):
    from validators.services import process

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(process, "compute_epoch", broken)
    run = process_farm(farm.pk, max_epochs=1)
    assert not run.stored and "disk full" in run.error
    sync = ValidatorSync.objects.get(farm=farm)
    assert "disk full" in sync.last_error and sync.lease_until is None


def test_electra_deposits_count_when_they_leave_the_queue_not_when_a_block_carries_them(
    farm, sim, monkeypatch
):
    """A node with a pending-deposits queue (Electra): a top-up counts as a deposit in the
    epoch it is credited (it left the queue), so it is neither income nor, earlier, a loss."""
    from validators.formats.client import BeaconClient, Response
    from validators.services.epochs import credited_deposits

    _, server = sim
    chain = server.chain
    pubkey = chain.pubkey(4)
    queued = {"pubkey": pubkey, "amount": 7 * 10**9, "slot": 3, "signature": "0x" + "aa" * 96}
    other = {**queued, "pubkey": chain.pubkey(999)}  # not ours

    async def pending_deposits(self, state_id):
        # Queued in the state at slot 0, credited by epoch 0's end.
        return Response(data=[queued, other] if int(state_id) == 0 else [other])

    monkeypatch.setattr(BeaconClient, "pending_deposits", pending_deposits)
    run = process_farm(farm.pk, max_epochs=1)
    assert run.stored == [0]
    day = ValidatorDay.objects.get(validator__farm=farm, validator__index=4)
    assert day.deposits == 7 * 10**9
    # The simulator does not credit it, so the income is what it earned less the 7 ETH: the
    # point is that the deposit is subtracted once, in the epoch it left the queue.
    assert day.income == chain.income(4, 0)["total"] - 7 * 10**9
    # Two identical entries, one credited: counted once.
    assert credited_deposits([queued, queued], [queued], {pubkey: 4}) == {4: 7 * 10**9}


def test_a_node_behind_the_chain_is_not_asked_for_epochs_it_cannot_have(alpha, sim, settings):
    threaded, server = sim
    lagging = threaded.close_on_exit(
        threaded.run(
            start_beacon_node(
                seconds_per_slot=1.0,
                slots_per_epoch=SPE,
                registry_size=1000,
                genesis_time=time.time() - 1.5 * SPE,  # its head is in epoch 1
            )
        )
    )
    farm = alpha.farm
    BeaconNode.objects.create(farm=farm, name="lagging", url=url_of(lagging), priority=0)
    BeaconNode.objects.create(farm=farm, name="synced", url=url_of(server), priority=1)
    Validator.objects.bulk_create([Validator(farm=farm, index=i) for i in WATCHED])
    ValidatorSync.objects.create(farm=farm, next_epoch=0)
    run = process_farm(farm.pk, max_epochs=1)
    assert run.stored == [0] and not run.skipped
    assert EpochSummary.objects.get(farm=farm, epoch=0).node.name == "synced"
    # Nor did the lagging node have to answer 404s for it first.
    assert lagging.stats["POST /eth/v1/beacon/rewards/attestations/{epoch}"] == 0


HEALTH, SYNCING = "GET /eth/v1/node/health", "GET /eth/v1/node/syncing"


def test_beat_ticks_within_a_slot_ask_the_node_once(alpha, sim):
    """Processing runs on every beat tick (6 s) and on every new epoch: the node's health and
    syncing are asked once per slot, not once per run."""
    threaded, _ = sim
    slot_s = 12.0
    server = threaded.close_on_exit(
        threaded.run(
            start_beacon_node(
                seconds_per_slot=slot_s, slots_per_epoch=SPE, registry_size=1000,
                # a slot has just begun (also by the whole-second genesis time the node
                # reports): the four runs fit in it
                genesis_time=time.time() - 3 * SPE * slot_s - 0.05,
            )
        )
    )  # fmt: skip
    farm = alpha.farm
    BeaconNode.objects.create(farm=farm, name="primary", url=url_of(server))
    Validator.objects.bulk_create([Validator(farm=farm, index=i) for i in WATCHED])
    ValidatorSync.objects.create(farm=farm, next_epoch=0)
    runs = [process_farm(farm.pk, max_epochs=1) for _ in range(4)]
    assert [run.stored for run in runs] == [[0], [1], [], []]  # epochs 0 and 1 are final
    assert server.stats[HEALTH] == server.stats[SYNCING] == 1


def test_a_node_is_checked_once_per_slot_and_again_after_a_failure(farm, sim):
    _, server = sim
    node_service.refresh_nodes(farm.pk)  # learns the chain's genesis and slot length
    node = BeaconNode.objects.get(farm=farm)
    slot_s = node.seconds_per_slot

    def at(slot, offset):  # a moment `offset` of a slot into `slot`, by the node's clock
        return dt.datetime.fromtimestamp(node.genesis_time + (slot + offset) * slot_s, dt.UTC)

    def asked():
        return server.stats[HEALTH], server.stats[SYNCING]

    slot = node_service.slot_at(node, dt.datetime.now(dt.UTC)) + 5
    server.stats.reset()
    node_service.refresh_nodes(farm.pk, now=at(slot, 0.1))
    assert asked() == (1, 1)
    node_service.refresh_nodes(farm.pk, now=at(slot, 0.6))
    assert asked() == (1, 1)  # the same slot: the check stands
    node.refresh_from_db()
    node_service.record_failure(node, "connection reset by peer")  # a request failed mid-epoch
    node_service.refresh_nodes(farm.pk, now=at(slot, 0.7))
    assert asked() == (2, 2)  # after a failure: asked again at once
    assert BeaconNode.objects.get(pk=node.pk).health == BeaconNode.Health.READY
    node_service.refresh_nodes(farm.pk, now=at(slot, 0.9))
    assert asked() == (2, 2)
    node_service.refresh_nodes(farm.pk, now=at(slot + 1, 0.0))
    assert asked() == (3, 3)  # the next slot


def test_sync_rewards_stored_agree_with_the_endpoint_with_one_answer_per_epoch(farm, sim):
    """Validator 12 sits on every committee (and misses slot 5 of every epoch); the rewards
    stored for the farm's members equal the node's answers block by block, and the node was
    asked one rewards answer per epoch the blocks belong to, not one per block."""
    _, server = sim
    server.stats.reset()
    run = process_farm(farm.pk, max_epochs=2)
    assert run.stored == [0, 1]
    asked = server.stats["POST /eth/v1/beacon/rewards/sync_committee/{block_id}"]
    assert asked == 2 * 2  # the first block with a sync aggregate of E, and E+1's first
    chain = server.chain
    members = sorted(set(chain.sync_committee(0)) & set(WATCHED))
    assert 12 in members

    async def truth():
        out = dict.fromkeys(members, 0)
        slots = 0
        async with BeaconClient(url_of(server)) as client:
            for slot in range(1, 2 * SPE + 1):
                if not chain.has_block(slot):
                    continue
                slots += 1
                block = (await client.block(slot)).data
                bits = block["body"]["sync_aggregate"]["sync_committee_bits"]
                net = net_seats(chain.sync_committee(0), participation(bits, 512))
                for row in (await client.sync_committee_rewards(slot, members)).data:
                    out[row["validator_index"]] += row["reward"]
                    assert (
                        row["reward"] == net[row["validator_index"]] * chain.sync_participant_reward
                    )
        return out, slots

    expected, slots = asyncio.run(truth())
    duties = {d.validator.index: d for d in SyncDuty.objects.filter(validator__farm=farm)}
    assert sorted(duties) == members
    for index in members:
        assert duties[index].reward == expected[index], index
        assert duties[index].slots == slots
    assert duties[12].missed == 2  # slot 5 of each epoch
