"""Backfill against the simulated beacon node: a farm's backfill_from is honoured oldest first,
after the live epochs of each run, bounded by the states the node keeps (the simulator prunes
states older than `history_epochs` with 404, as Lighthouse, Teku and Prysm do without an
archive), with its progress and reason on the page and in the admin; and what it stores agrees
with the chain to the gwei without touching the validators' current figures."""

import time

import pytest
from django.contrib.auth import get_user_model

from tests.factories import logged_in
from tests.loops import simulated_beacon_node
from validators.models import BeaconNode, EpochSummary, Validator, ValidatorDay, ValidatorSync
from validators.services.process import process_farm
from validators.services.retention import purge_expired

SPE = 8
SECONDS_PER_SLOT = 60.0  # slow: the node's oldest kept epoch does not move during a test
WATCHED = range(12)
HEAD_SLOT = 40 * SPE + 3  # three slots into epoch 40: the newest final epoch is 38
HISTORY = 20  # states kept: from slot 163, so epoch 21 is the oldest whole one


@pytest.fixture
def sim(settings):
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    # Half a slot in, so that the clock stays in the same slot for the test's seconds.
    genesis = time.time() - (HEAD_SLOT + 0.5) * SECONDS_PER_SLOT
    with simulated_beacon_node(
        seconds_per_slot=SECONDS_PER_SLOT,
        slots_per_epoch=SPE,
        registry_size=1000,
        genesis_time=genesis,
        history_epochs=HISTORY,
    ) as server:
        yield server


@pytest.fixture
def farm(alpha, sim):
    farm = alpha.farm
    url = f"http://127.0.0.1:{sim.sockets[0].getsockname()[1]}"
    BeaconNode.objects.create(farm=farm, name="lighthouse-1", url=url, priority=0)
    Validator.objects.bulk_create([Validator(farm=farm, index=i) for i in WATCHED])
    return farm


@pytest.fixture
def admin_client(db):
    return logged_in(get_user_model().objects.create_superuser("root", "root@example.invalid", "x"))


def sync_of(farm):
    return ValidatorSync.objects.get(farm=farm)


def run_until_done(farm, max_epochs=4):
    runs = []
    while True:
        run = process_farm(farm.pk, max_epochs=max_epochs)
        assert not run.error, run.error
        runs.append(run)
        if not sync_of(farm).backfilling:
            return runs
        assert len(runs) < 20


def test_a_new_farm_backfills_from_the_epoch_asked_for_after_the_live_epochs(farm, sim):
    chain = sim.chain
    ValidatorSync.objects.create(farm=farm, backfill_from=30)
    first = process_farm(farm.pk, max_epochs=4)
    # The live epoch first (the newest final one), then the rest of the run's budget, oldest
    # first, from the epoch asked for.
    assert first.stored == [38] and first.backfilled == [30, 31, 32] and not first.error
    sync = sync_of(farm)
    assert (sync.next_epoch, sync.backfill_start, sync.backfill_until) == (39, 30, 37)
    assert sync.backfill_progress == "backfilling: epoch 33 of 30–37, 37 %"
    assert sync.backfill_note == ""
    # The live figures are the live epoch's, not the backfill's older ones.
    for validator in Validator.objects.filter(farm=farm):
        assert validator.balance == chain.balance(validator.index, 39)
        assert validator.balance_epoch == 39
    runs = run_until_done(farm)
    assert [e for run in runs for e in run.backfilled] == [33, 34, 35, 36, 37]
    assert sync_of(farm).backfill_progress == "backfilled epochs 30–37"
    # Every epoch counted once, to the gwei, whichever order the epochs came in; the day rows
    # begin at the backfill's first epoch and end at the live one.
    live_end = sync_of(farm).next_epoch
    stored = EpochSummary.objects.filter(farm=farm).order_by("epoch")
    assert list(stored.values_list("epoch", flat=True)) == list(range(30, live_end))
    for validator in Validator.objects.filter(farm=farm):
        days = list(ValidatorDay.objects.filter(validator=validator).order_by("day"))
        known = sum(chain.income(validator.index, e)["total"] for e in range(30, live_end))
        assert sum(d.income for d in days) == known, validator.index
        assert sum(d.epochs for d in days) == live_end - 30
        assert days[0].first_epoch == 30
        assert days[0].start_balance == chain.balance(validator.index, 30)
        assert days[-1].last_epoch == live_end - 1
        assert days[-1].end_balance == chain.balance(validator.index, live_end)
        assert validator.balance == chain.balance(validator.index, live_end)


def test_the_backfill_stops_at_the_oldest_epoch_the_node_keeps_with_the_reason(farm, sim):
    ValidatorSync.objects.create(farm=farm, backfill_from=5)
    first = process_farm(farm.pk, max_epochs=4)
    # Epoch 5's states are pruned (404): the oldest state the node serves is epoch 21's.
    assert first.stored == [38] and first.backfilled == [21, 22] and not first.error
    sync = sync_of(farm)
    assert sync.backfill_start == 21 and sync.backfill_next == 23
    assert sync.backfill_note.startswith(
        "Asked from epoch 5; lighthouse-1 keeps states from epoch 21 only (no archive: for "
        "epoch 5 it answered lighthouse-1: "
    )
    assert "404" in sync.backfill_note
    assert sync.backfill_progress == "backfilling: epoch 23 of 21–37, 11 %"
    run_until_done(farm)
    epochs = set(EpochSummary.objects.filter(farm=farm).values_list("epoch", flat=True))
    assert min(epochs) == 21 and set(range(21, 39)) <= epochs
    # Nothing recorded for the epochs the node never had: no skipped rows by the hundred.
    assert not EpochSummary.objects.filter(farm=farm).exclude(skipped="").exists()


def test_a_node_keeping_nothing_older_ends_the_backfill_with_the_reason(farm, sim):
    sim.chain.history_epochs = 3  # states from epoch 38 on: only the live ones
    ValidatorSync.objects.create(farm=farm, backfill_from=5)
    run = process_farm(farm.pk, max_epochs=4)
    assert run.stored == [38] and run.backfilled == [] and not run.error
    sync = sync_of(farm)
    assert not sync.backfilling and sync.backfill_progress == "backfill: nothing to fetch"
    assert sync.backfill_note.startswith("The beacon nodes keep no state from epoch 5 to 37: ")


def test_a_backfill_asked_for_later_fills_in_before_the_live_epochs(farm, sim, settings):
    ValidatorSync.objects.create(farm=farm, next_epoch=36)
    run = process_farm(farm.pk, max_epochs=4)
    assert run.stored == [36, 37, 38] and run.backfilled == []
    before = {v.pk: (v.balance, v.status) for v in Validator.objects.filter(farm=farm)}
    ValidatorSync.objects.filter(farm=farm).update(backfill_from=33)
    run = process_farm(farm.pk, max_epochs=4)
    assert run.backfilled == [33, 34, 35]
    assert sync_of(farm).backfill_progress == "backfilled epochs 33–35"
    assert {v.pk: (v.balance, v.status) for v in Validator.objects.filter(farm=farm)} == before
    # Asked again from an epoch stored already: nothing to fetch, and said so.
    ValidatorSync.objects.filter(farm=farm).update(
        backfill_from=34, backfill_start=None, backfill_next=None, backfill_until=None
    )
    run = process_farm(farm.pk, max_epochs=4)
    assert run.backfilled == []
    assert sync_of(farm).backfill_note == "Epochs 34–38 are stored already."
    # The per-epoch totals purged (retention): the day rows still say what is stored.
    settings.ETHDASH_VALIDATOR_EPOCH_RETENTION_DAYS = 0
    assert purge_expired()["summaries"] == 6
    income = sorted(ValidatorDay.objects.values_list("validator_id", "day", "income"))
    ValidatorSync.objects.filter(farm=farm).update(
        backfill_from=33, backfill_start=None, backfill_next=None, backfill_until=None
    )
    run = process_farm(farm.pk, max_epochs=4)
    assert (
        run.backfilled == [] and sync_of(farm).backfill_note == "Epochs 33–38 are stored already."
    )
    assert sorted(ValidatorDay.objects.values_list("validator_id", "day", "income")) == income


def test_backfill_progress_on_the_page_and_in_the_admin(farm, sim, owner_client, admin_client):
    ValidatorSync.objects.create(farm=farm, backfill_from=5)
    process_farm(farm.pk, max_epochs=4)
    page = owner_client.get("/validators/").content.decode()
    assert "backfilling: epoch 23 of 21–37, 11 %" in page
    assert "lighthouse-1 keeps states from epoch 21 only" in page
    listing = admin_client.get("/admin/validators/validatorsync/").content.decode()
    assert "backfilling: epoch 23 of 21–37, 11 %" in listing
    sync = sync_of(farm)
    change = f"/admin/validators/validatorsync/{sync.pk}/change/"
    assert "keeps states from epoch 21 only" in admin_client.get(change).content.decode()
    # A new backfill_from restarts the plan; the processing's own columns stay as they were.
    response = admin_client.post(change, {"backfill_from": "25"})
    assert response.status_code == 302
    sync = sync_of(farm)
    assert (sync.backfill_from, sync.backfill_next, sync.backfill_note) == (25, None, "")
    assert sync.next_epoch == 39
    run = process_farm(farm.pk, max_epochs=4)
    # From 25 up to the live epochs (21 and 22, stored, are older).
    assert run.backfilled == [25, 26, 27, 28]
    assert sync_of(farm).backfill_progress == "backfilling: epoch 29 of 25–37, 30 %"


def test_a_node_answering_500_for_old_states_is_read_as_pruned_in_a_backfill(
    farm, sim, monkeypatch
):
    """Some Prysm and Nimbus versions answer 500 ("Could not get state", "Trying to access a
    pruned historical state") where Lighthouse and Teku answer 404."""
    from simulators.beacon_chain import ApiError

    chain = sim.chain
    resolve, kept_from = chain.resolve_state, chain.oldest_kept_slot()

    def answering_500(state_id):
        slot = resolve(state_id)
        if 0 < slot < kept_from:
            raise ApiError(500, "Could not get state: pruned")
        return slot

    # Every state older than the kept ones answers 500 (the simulator's own 404s are off).
    monkeypatch.setattr(chain, "oldest_kept_slot", lambda: 0)
    monkeypatch.setattr(chain, "resolve_state", answering_500)
    ValidatorSync.objects.create(farm=farm, backfill_from=5)
    run = process_farm(farm.pk, max_epochs=4)
    assert run.stored == [38] and run.backfilled == [21, 22] and not run.error
    sync = sync_of(farm)
    assert "keeps states from epoch 21 only" in sync.backfill_note and "500" in sync.backfill_note
    # The node is not held for failing: it serves the live epochs.
    assert BeaconNode.objects.get(farm=farm).health == BeaconNode.Health.READY


@pytest.fixture
def pushed(monkeypatch):
    from ethdash import live

    events = []
    monkeypatch.setattr(
        live, "push", lambda farm_id, *more: events.extend((farm_id, e) for e in more)
    )
    return events


def test_lowering_backfill_from_mid_backfill_fills_every_epoch_not_stored(farm, sim, pushed):
    chain = sim.chain
    chain.history_epochs = 40  # every epoch kept: the range is the plan's alone
    ValidatorSync.objects.create(farm=farm, backfill_from=30)
    first = process_farm(farm.pk, max_epochs=4)
    assert first.backfilled == [30, 31, 32]
    # Asked from 20 (as the admin saves it) while 33–37 are still to come: they are not
    # left out, and 30–32 are not read again.
    ValidatorSync.objects.filter(farm=farm).update(
        backfill_from=20, backfill_start=None, backfill_next=None, backfill_until=None
    )
    pushed.clear()
    runs = run_until_done(farm)
    done = [e for run in runs for e in run.backfilled]
    assert done == [*range(20, 30), *range(33, 38)]
    sync = sync_of(farm)
    assert sync.backfill_progress == "backfilled epochs 20–37" and sync.backfill_note == ""
    live_end = sync.next_epoch
    stored = EpochSummary.objects.filter(farm=farm).order_by("epoch")
    assert list(stored.values_list("epoch", flat=True)) == list(range(20, live_end))
    for validator in Validator.objects.filter(farm=farm):
        days = ValidatorDay.objects.filter(validator=validator)
        known = sum(chain.income(validator.index, e)["total"] for e in range(20, live_end))
        assert sum(d.income for d in days) == known, validator.index
        assert sum(d.epochs for d in days) == live_end - 20
    # One event a run for its backfilled epochs, with each epoch's income for the chart.
    backfills = [e for _, e in pushed if e.get("backfill")]
    assert [[p["epoch"] for p in e["epochs"]] for e in backfills] == [
        run.backfilled for run in runs if run.backfilled
    ]
    for event in backfills:
        assert event["type"] == "validator.epoch" and event["farm"] == farm.pk
        assert event["epoch"] == event["epochs"][-1]["epoch"]
        assert event["first_epoch"] == event["epochs"][0]["epoch"]
        for point in event["epochs"]:
            summary = EpochSummary.objects.get(farm=farm, epoch=point["epoch"])
            assert point["income"] == summary.income


def test_a_new_backfill_from_between_runs_is_planned_on_the_next_run(
    farm, sim, admin_client, owner_client
):
    sim.chain.history_epochs = 40
    ValidatorSync.objects.create(farm=farm, backfill_from=30)
    process_farm(farm.pk, max_epochs=4)
    sync = sync_of(farm)
    change = f"/admin/validators/validatorsync/{sync.pk}/change/"
    assert admin_client.post(change, {"backfill_from": "26"}).status_code == 302
    run = process_farm(farm.pk, max_epochs=4)
    # No live epoch is due: the run's budget is the backfill's.
    assert run.backfilled == [26, 27, 28, 29]
    progress = "backfilling: epoch 30 of 26–37, 33 %"
    assert sync_of(farm).backfill_progress == progress
    assert progress in owner_client.get("/validators/").content.decode()


def test_a_new_backfill_from_during_a_run_is_not_overwritten_by_it(farm, sim, monkeypatch):
    """The admin saves a new backfill_from while a run is backfilling: the run's cursor
    writes are conditional on the plan it follows, so the new one is planned next run."""
    from validators.services import process

    sim.chain.history_epochs = 40
    ValidatorSync.objects.create(farm=farm, backfill_from=30)
    process_epoch = process.process_epoch

    def admin_saves_meanwhile(sync, epoch, nodes, **kwargs):
        outcome = process_epoch(sync, epoch, nodes, **kwargs)
        if kwargs.get("backfill") is not None:
            ValidatorSync.objects.filter(farm=farm).update(
                backfill_from=25, backfill_start=None, backfill_next=None, backfill_until=None
            )
        return outcome

    monkeypatch.setattr(process, "process_epoch", admin_saves_meanwhile)
    run = process_farm(farm.pk, max_epochs=4)
    # Epoch 30 is stored; the run then stops backfilling the old plan.
    assert run.backfilled == [30] and not run.error
    sync = sync_of(farm)
    assert (sync.backfill_from, sync.backfill_start, sync.backfill_next) == (25, None, None)
    monkeypatch.setattr(process, "process_epoch", process_epoch)
    run = process_farm(farm.pk, max_epochs=4)
    assert run.backfilled == [25, 26, 27, 28]
    assert sync_of(farm).backfill_progress == "backfilling: epoch 29 of 25–37, 30 %"
    run_until_done(farm)
    epochs = list(EpochSummary.objects.filter(farm=farm).values_list("epoch", flat=True))
    assert sorted(epochs) == list(range(25, sync_of(farm).next_epoch))


def test_a_slashed_validator_withdrawable_before_the_backfill_is_not_slashed_again(farm, sim):
    """Validator 3 of the simulated chain is slashed in epoch 2 and withdrawal_possible from 10:
    a backfill starting after a recorded withdrawal_possible takes `slashed` from the node's
    validator record, and flags no new slashing in its first epoch."""
    from validators.models import StatusChange, ValidatorEpoch
    from validators.services.chain import Flag
    from validators.services.process import backfill_validators

    sim.chain.history_epochs = 40
    three = Validator.objects.get(farm=farm, index=3)
    StatusChange.objects.create(validator=three, epoch=10, status="withdrawal_possible")
    assert backfill_validators(farm.pk, 12)[3].slashed is None
    ValidatorSync.objects.create(farm=farm, backfill_from=12)
    run = process_farm(farm.pk, max_epochs=3)
    assert run.backfilled == [12, 13] and not run.error
    flagged = ValidatorEpoch.objects.filter(validator__farm=farm, epoch__in=[12, 13])
    assert not [row.epoch for row in flagged if row.flags & Flag.SLASHED]
    # The statuses that tell: slashed, or not; the withdrawable ones do not.
    from validators.services.process import slashed_by_status

    assert [
        slashed_by_status(s)
        for s in ("active_slashed", "exited_slashed", "exited_unslashed", "active_ongoing")
    ] == [True, True, False, False]
    assert slashed_by_status("withdrawal_done") is None and slashed_by_status("") is None
