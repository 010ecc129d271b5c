"""The validators' and beacon nodes' alert kinds, on epochs stored the way processing stores
them: each alert opens once after its grace, says so once, resolves once when the condition
clears; a flap within the grace says nothing; an event alerts once per occurrence; and the
store calls the stored hook, so an alert follows a processed epoch with nobody calling it."""

import datetime as dt
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Alert, AlertRule, Notification, NotificationChannel
from alerts.services.defaults import default_rule
from alerts.services.evaluate import evaluate
from ethdash import registry
from validators.models import BeaconNode, Validator, ValidatorSync
from validators.services.epochs import EpochRead, ProposalRead, ValidatorState, compute_epoch
from validators.services.events import _store_orphaned
from validators.services.nodes import record_failure
from validators.services.store import store_epoch

GWEI = 10**9
EB = 32 * GWEI
IDEAL = (3_000, 5_600, 3_000, 0)
MISSED = (0, -5_600, -3_000, 0)
DAY = dt.date(2026, 11, 25)
T0 = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)
EPOCH_S = 384


class Chain:
    """Stores the farm's epochs one after another, each from a hand-built node answer."""

    def __init__(self, farm):
        self.farm = farm
        self.epoch = 10
        self.status = {}  # index -> (status, exit_epoch), for the next epochs until changed

    def store(self, *, missed=(), sync=None, proposals=(), status=None):
        rows = {v.index: v for v in Validator.objects.filter(farm=self.farm)}
        self.status.update(status or {})
        states, rewards = {}, {}
        for index, row in rows.items():
            name, exit_epoch = self.status.get(index, ("active_ongoing", None))
            reward = MISSED if index in missed else IDEAL
            states[index] = ValidatorState(
                index=index,
                pubkey="0x" + f"{index:096x}",
                status=name,
                balance=row.balance + sum(reward),
                effective_balance=EB,
                slashed=row.slashed or name.endswith("_slashed"),
                withdrawal_credentials="0x01" + "00" * 11 + "ab" * 20,
                activation_epoch=0,
                exit_epoch=exit_epoch,
                withdrawable_epoch=None,
            )
            rewards[index] = reward
        read = EpochRead(
            epoch=self.epoch,
            states=states,
            start_balances={},
            rewards=rewards,
            ideal={EB: IDEAL},
            proposals=list(proposals),
            withdrawals=[],
            deposits={},
            sync=sync or {},
            sync_period_length=256,
        )
        result = compute_epoch(read, {i: v.balance for i, v in rows.items()})
        assert store_epoch(self.farm.pk, read, result, validators=rows, day=DAY, node_id=None)
        self.epoch += 1


@pytest.fixture
def farm(alpha):
    farm = alpha.farm
    ValidatorSync.objects.create(farm=farm)
    for index in range(4):
        Validator.objects.create(farm=farm, index=index, balance=EB, balance_epoch=10)
    NotificationChannel.objects.create(
        farm=farm, name="ops", kind="webhook", target="https://hooks.example.com/x"
    )
    return farm


@pytest.fixture
def chain(farm):
    return Chain(farm)


def rule(farm, name, **changes) -> AlertRule:
    row = default_rule(farm.pk, registry.alert_kind(name))
    for field, value in changes.items():
        setattr(row, field, value)
    row.save()
    return row


class Watch:
    """Evaluates one kind the way the stored hook does (every object of the farm), one
    evaluation an epoch apart, and tells what is open and what was sent."""

    def __init__(self, farm, name):
        self.farm, self.name, self.now = farm, name, T0

    def __call__(self, seconds=EPOCH_S, ids=None):
        self.now += timedelta(seconds=seconds)
        return evaluate(self.farm.pk, [registry.alert_kind(self.name)], ids, now=self.now)

    def open(self, state=Alert.State.OPEN):
        return sorted(
            Alert.objects.filter(kind=self.name, state=state).values_list("object_name", flat=True)
        )

    def sent(self):
        return sorted(
            Notification.objects.filter(alert__kind=self.name).values_list(
                "alert__object_name", "change"
            )
        )


def test_every_kind_is_registered_with_a_topic_the_store_calls():
    kinds = {k.name: k for k in registry.alert_kinds() if k.object_type != "rig"}
    for name in (
        "validator_missed_attestation",
        "validator_balance_down",
        "validator_sync_missed",
        "validator_slashed",
        "validator_exited",
        "validator_proposal_missed",
        "beacon_node_down",
        "beacon_node_behind",
        "execution_node_down",
    ):
        assert kinds[name].topic in ("validator", "validator_proposal", "beacon_node")
    assert all(kinds[n].periodic for n in kinds if kinds[n].topic == "beacon_node")
    assert not any(kinds[n].periodic for n in kinds if kinds[n].topic.startswith("validator"))


def test_missed_attestations_open_after_n_epochs_once_and_resolve_once(farm, chain):
    rule(farm, "validator_missed_attestation")  # default: 2 consecutive epochs
    watch = Watch(farm, "validator_missed_attestation")
    chain.store(missed={1})
    watch()
    assert watch.open() == [] and watch.open(Alert.State.PENDING) == ["#1"]
    chain.store(missed={1, 2})
    outcome = watch()
    assert [a.object_name for a in outcome.opened] == ["#1"]
    chain.store(missed={1, 2})
    watch()
    assert watch.open() == ["#1", "#2"]
    assert watch.sent() == [("#1", "opened"), ("#2", "opened")]
    chain.store()
    outcome = watch()
    assert sorted(a.object_name for a in outcome.resolved) == ["#1", "#2"]
    chain.store()
    watch()
    assert watch.open() == [] and watch.open(Alert.State.PENDING) == []
    assert watch.sent() == [
        ("#1", "opened"),
        ("#1", "resolved"),
        ("#2", "opened"),
        ("#2", "resolved"),
    ]
    alert = Alert.objects.get(kind="validator_missed_attestation", object_name="#1")
    assert alert.url == f"/validators/{alert.object_id}/"
    assert "epoch 11" in alert.message


def test_one_missed_epoch_then_an_attested_one_says_nothing(farm, chain):
    rule(farm, "validator_missed_attestation")
    watch = Watch(farm, "validator_missed_attestation")
    for missed in ({0}, set(), {0}, set()):
        chain.store(missed=missed)
        watch()
    assert Alert.objects.filter(kind="validator_missed_attestation").count() == 0
    assert watch.sent() == []


def test_balance_down_opens_after_three_losing_epochs_and_resolves_on_a_gain(farm, chain):
    rule(farm, "validator_balance_down")  # income below 0 gwei, 3 consecutive epochs
    watch = Watch(farm, "validator_balance_down")
    for _ in range(2):
        chain.store(missed={3})
        watch()
    chain.store()  # a flap within the grace
    watch()
    assert watch.sent() == [] and watch.open(Alert.State.PENDING) == []
    for _ in range(4):
        chain.store(missed={3})
        watch()
    assert watch.open() == ["#3"]
    alert = Alert.objects.get(kind="validator_balance_down")
    assert alert.value == -8_600 and "-8,600 gwei" in alert.message
    chain.store()
    watch()
    assert watch.open() == []
    assert watch.sent() == [("#3", "opened"), ("#3", "resolved")]


def test_sync_committee_misses_open_and_resolve_once(farm, chain):
    rule(farm, "validator_sync_missed")
    watch = Watch(farm, "validator_sync_missed")
    chain.store(sync={0: [900, -900]})
    watch()
    chain.store(sync={0: [900, 900]})  # one bad epoch: nothing
    watch()
    assert watch.sent() == []
    for _ in range(3):
        chain.store(sync={0: [-900, -900, 900]})
        watch()
    assert watch.open() == ["#0"]
    assert Alert.objects.get(kind="validator_sync_missed").value == 2
    chain.store(sync={0: [900, 900]})
    watch()
    assert watch.sent() == [("#0", "opened"), ("#0", "resolved")]


def test_slashed_opens_at_once_stays_open_and_resolves_once_withdrawn(farm, chain):
    rule(farm, "validator_slashed")
    watch = Watch(farm, "validator_slashed")
    chain.store(status={2: ("active_slashed", 40)})
    outcome = watch()
    assert [a.object_name for a in outcome.opened] == ["#2"]
    assert outcome.opened[0].severity == "critical"
    for _ in range(3):
        chain.store()
        watch()
    assert watch.open() == ["#2"]
    chain.store(status={2: ("withdrawal_done", 40)})
    watch()
    assert watch.open() == []
    assert watch.sent() == [("#2", "opened"), ("#2", "resolved")]


def test_exit_and_withdrawal_are_each_one_event(farm, chain):
    rule(farm, "validator_exited")
    watch = Watch(farm, "validator_exited")
    chain.store(status={1: ("active_exiting", 12)})
    watch()
    chain.store(status={1: ("exited_unslashed", 12)})
    watch()
    for _ in range(3):  # read again and again: said once
        chain.store()
        watch()
    chain.store(status={1: ("withdrawal_done", 12)})
    watch()
    chain.store()
    watch()
    events = Alert.objects.filter(kind="validator_exited").order_by("pk")
    assert [(a.state, a.event) for a in events] == [("resolved", True)] * 2
    assert ["exited" in events[0].message, "withdrawn" in events[1].message] == [True, True]
    assert watch.sent() == [("#1", "event"), ("#1", "event")]


def test_a_validator_first_read_long_after_its_exit_is_no_news(farm, chain):
    rule(farm, "validator_exited")
    chain.store(status={3: ("exited_unslashed", 5)})
    Watch(farm, "validator_exited")()
    assert not Alert.objects.filter(kind="validator_exited").exists()


def test_a_missed_or_orphaned_proposal_alerts_once_a_slot(farm, chain):
    rule(farm, "validator_proposal_missed")
    watch = Watch(farm, "validator_proposal_missed")
    chain.store(proposals=[ProposalRead(321, 0, "missed"), ProposalRead(322, 1, "proposed")])
    watch()
    watch()
    chain.store()
    watch()
    assert watch.sent() == [("#0", "event")]
    # The listener stores an orphaned block between epochs; the epoch's processing reads it
    # again later: one event for the slot.
    v2 = Validator.objects.get(farm=farm, index=2)
    _store_orphaned(farm.pk, [(13 * 32 + 5, "0xdead", v2.pk)], 32)
    watch(ids=[v2.pk])
    chain.store(proposals=[ProposalRead(13 * 32 + 5, 2, "orphaned", block_root="0xdead")])
    watch()
    assert watch.sent() == [("#0", "event"), ("#2", "event")]
    messages = sorted(
        Alert.objects.filter(kind="validator_proposal_missed").values_list("message", flat=True)
    )
    assert "slot 321 missed" in messages[0] and "slot 421 orphaned" in messages[1]


@pytest.fixture
def node(farm):
    return BeaconNode.objects.create(
        farm=farm,
        name="lighthouse-1",
        url="http://10.0.0.5:5052",
        health=BeaconNode.Health.READY,
        head_slot=1_000,
        sync_distance=0,
        checked_at=timezone.now(),
        genesis_time=int(timezone.now().timestamp()) - 12 * 1_000,
        seconds_per_slot=12,
        slots_per_epoch=32,
    )


def set_node(node, **fields):
    fields.setdefault("checked_at", timezone.now())
    BeaconNode.objects.filter(pk=node.pk).update(**fields)


def test_a_node_down_past_its_grace_opens_once_and_resolves_once(farm, node):
    rule(farm, "beacon_node_down")  # grace 60 s
    watch = Watch(farm, "beacon_node_down")
    record_failure(node, "connection refused")
    watch(0)
    watch(30)
    assert watch.open(Alert.State.PENDING) == ["lighthouse-1"] and watch.sent() == []
    watch(31)
    watch(15)
    assert watch.open() == ["lighthouse-1"]
    set_node(node, health=BeaconNode.Health.READY)
    watch(15)
    watch(15)
    assert watch.sent() == [("lighthouse-1", "opened"), ("lighthouse-1", "resolved")]
    assert "connection refused" in Alert.objects.get(kind="beacon_node_down").message


def test_a_node_down_for_less_than_its_grace_says_nothing(farm, node):
    rule(farm, "beacon_node_down")
    watch = Watch(farm, "beacon_node_down")
    record_failure(node, "timed out")
    watch(0)
    set_node(node, health=BeaconNode.Health.READY)
    watch(30)
    assert not Alert.objects.filter(kind="beacon_node_down").exists() and watch.sent() == []


def test_a_node_nobody_checks_any_more_is_down(farm, node):
    rule(farm, "beacon_node_down", grace_s=0)
    watch = Watch(farm, "beacon_node_down")
    set_node(node, checked_at=timezone.now() - timedelta(minutes=20))
    watch(0)
    alert = Alert.objects.get(kind="beacon_node_down")
    assert alert.state == "open" and "not checked for 20 min" in alert.message


def test_a_node_behind_opens_once_and_resolves_past_the_hysteresis(farm, node):
    rule(farm, "beacon_node_behind")  # above 8 slots for 60 s; resolves at 4 or fewer
    watch = Watch(farm, "beacon_node_behind")
    set_node(node, health=BeaconNode.Health.SYNCING, sync_distance=40, head_slot=960)
    watch(0)
    watch(61)
    assert watch.open() == ["lighthouse-1"]
    set_node(node, health=BeaconNode.Health.READY, sync_distance=6, head_slot=994)
    watch(15)
    assert watch.open() == ["lighthouse-1"]  # within the hysteresis
    set_node(node, sync_distance=0, head_slot=1_000)
    watch(15)
    watch(15)
    assert watch.sent() == [("lighthouse-1", "opened"), ("lighthouse-1", "resolved")]


def test_a_stuck_head_is_behind_even_when_the_node_says_it_is_synced(farm, node):
    rule(farm, "beacon_node_behind", grace_s=0)
    set_node(node, head_slot=900, sync_distance=0)
    Watch(farm, "beacon_node_behind")(0)
    assert Alert.objects.get(kind="beacon_node_behind").value >= 100


def test_an_execution_client_offline_opens_once_and_resolves_once(farm, node):
    rule(farm, "execution_node_down")
    watch = Watch(farm, "execution_node_down")
    set_node(node, el_offline=True, health=BeaconNode.Health.SYNCING)
    watch(0)
    watch(61)
    # The beacon node going down meanwhile tells nothing new about its execution client.
    record_failure(node, "refused")
    watch(15)
    assert watch.open() == ["lighthouse-1 (execution)"]
    set_node(node, el_offline=False, health=BeaconNode.Health.READY)
    watch(15)
    assert watch.sent() == [
        ("lighthouse-1 (execution)", "opened"),
        ("lighthouse-1 (execution)", "resolved"),
    ]


def test_the_hook_evaluates_after_a_processed_epoch_and_a_node_failure(
    farm, chain, node, django_capture_on_commit_callbacks
):
    rule(farm, "validator_missed_attestation", grace_count=1)
    rule(farm, "validator_proposal_missed")
    rule(farm, "beacon_node_down")
    with django_capture_on_commit_callbacks(execute=True):
        chain.store(missed={2}, proposals=[ProposalRead(333, 1, "missed")])
    opened = Alert.objects.filter(state=Alert.State.OPEN).values_list("kind", "object_name")
    assert list(opened) == [("validator_missed_attestation", "#2")]
    event = Alert.objects.get(event=True)
    assert (event.kind, event.object_name) == ("validator_proposal_missed", "#1")
    assert Notification.objects.count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        record_failure(node, "connection refused")
    assert Alert.objects.get(kind="beacon_node_down").state == Alert.State.PENDING
