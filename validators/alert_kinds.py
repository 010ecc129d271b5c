"""What a farm's validators and beacon nodes can be watched for (ethdash.registry.AlertKind),
registered in ValidatorsConfig.ready(). The alerts app evaluates them on the core's "stored"
hook, which this app calls after each stored epoch ("validator", every validator of the farm),
after each proposal stored ("validator_proposal", the proposers) and after each node check
("beacon_node", the nodes checked).

A farm may have 100,000 validators: every observe function is one query (two with the lookup
of the last processed epoch), set-based, and yields an Observation only for the validators with
something to report. The engine resolves the alert of an object it no longer observes, so a
validator that attests again simply drops out of the "missed attestation" observations.

Each per-epoch kind is evaluated once per processed epoch (the store calls the hook once per
stored epoch, never for a replayed one), so a rule's grace_count counts epochs. Proposals have
a topic of their own for that reason: the listener stores an orphaned proposal between epochs,
and evaluating the per-epoch kinds then would count one epoch twice.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from datetime import timedelta

from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from ethdash.registry import AlertKind, Observation, register_alert_kind
from validators.models import (
    BeaconNode,
    EpochSummary,
    Proposal,
    Status,
    StatusChange,
    Validator,
    ValidatorEpoch,
)
from validators.services.chain import Flag
from validators.services.nodes import slot_at

# Statuses a validator leaves the chain through, alerted once each (informational).
LEAVING = (
    Status.EXITED_UNSLASHED,
    Status.EXITED_SLASHED,
    Status.WITHDRAWAL_POSSIBLE,
    Status.WITHDRAWAL_DONE,
)
STATUS_LABELS = dict(Status.choices)


def last_processed_epoch(farm_id: int) -> int | None:
    """The farm's newest epoch stored from the chain (a skipped one has no figures)."""
    return (
        EpochSummary.objects.filter(farm_id=farm_id, skipped="")
        .order_by("-epoch")
        .values_list("epoch", flat=True)
        .first()
    )


def _url_for(name: str):
    # reverse() once per call, not once per validator: 100,000 reverse() calls take seconds.
    marker = 987654321
    pattern = reverse(name, args=[marker])
    return lambda pk: pattern.replace(str(marker), str(pk))


def _name(index, label: str) -> str:
    return label or f"#{index}"


def _only(queryset, ids: Collection[int] | None, field: str = "validator_id"):
    return queryset if ids is None else queryset.filter(**{f"{field}__in": list(ids)})


WATCHED_FLAGS = Flag.MISSED | Flag.NEGATIVE | Flag.SYNC_MISSED


def _epoch(farm_id: int, params: Mapping) -> int | None:
    """last_processed_epoch(), read once per evaluation (params["memo"], see AlertKind)."""
    memo = params.get("memo", {})
    key = ("validator-epoch", farm_id)
    if key not in memo:
        memo[key] = last_processed_epoch(farm_id)
    return memo[key]


def _flagged(farm_id: int, ids, flag: Flag, params: Mapping):
    """The validators whose last processed epoch has `flag`: (epoch, [(pk, index, label,
    income, sync_missed)]). The row exists only for an imperfect epoch, so a perfect one reads
    nothing; the epoch's rows are found by the epoch index, their validators by primary key. The
    rows of the three flagged kinds are read once per evaluation, in one query."""
    epoch = _epoch(farm_id, params)
    if epoch is None:
        return None, []
    memo = params.get("memo", {})
    key = ("validator-flagged", farm_id, epoch, None if ids is None else tuple(ids))
    if key not in memo:
        rows = (
            ValidatorEpoch.objects.filter(validator__farm_id=farm_id, epoch=epoch)
            .annotate(hit=F("flags").bitand(int(WATCHED_FLAGS)))
            .filter(hit__gt=0)
            .order_by()
        )
        memo[key] = list(
            _only(rows, ids).values_list(
                "validator_id", "validator__index", "validator__label", "flags", "income",
                "sync_missed",
            )
        )  # fmt: skip
    return epoch, [row for row in memo[key] if row[3] & flag]


def observe_missed_attestations(farm_id, ids, params: Mapping) -> Iterator[Observation]:
    epoch, rows = _flagged(farm_id, ids, Flag.MISSED, params)
    url = _url_for("validator-detail")
    for pk, index, label, *_ in rows:
        yield Observation(pk, _name(index, label), 1, url(pk), f"epoch {epoch:,}")


def observe_balance_down(farm_id, ids, params: Mapping) -> Iterator[Observation]:
    epoch, rows = _flagged(farm_id, ids, Flag.NEGATIVE, params)
    url = _url_for("validator-detail")
    for pk, index, label, _, income, _ in rows:
        yield Observation(pk, _name(index, label), income, url(pk), f"epoch {epoch:,}")


def observe_sync_missed(farm_id, ids, params: Mapping) -> Iterator[Observation]:
    epoch, rows = _flagged(farm_id, ids, Flag.SYNC_MISSED, params)
    url = _url_for("validator-detail")
    for pk, index, label, _, _, missed in rows:
        detail = f"{missed} sync-committee slot{'s' if missed != 1 else ''} in epoch {epoch:,}"
        yield Observation(pk, _name(index, label), missed, url(pk), detail)


def observe_slashed(farm_id, ids, params: Mapping) -> Iterator[Observation]:
    # Once withdrawn, a slashed validator has nothing left at stake: its alert resolves rather
    # than stay open for good.
    rows = Validator.objects.filter(farm_id=farm_id, slashed=True).exclude(
        status=Status.WITHDRAWAL_DONE
    )
    rows = _only(rows, ids, "pk").order_by().values_list("pk", "index", "label", "status")
    url = _url_for("validator-detail")
    for pk, index, label, status in rows:
        yield Observation(pk, _name(index, label), 1, url(pk), STATUS_LABELS.get(status, status))


def observe_proposals(farm_id, ids, params: Mapping) -> Iterator[Observation]:
    # The epoch just processed and the one before (the hook's evaluation may come after the
    # next epoch's store); the listener's orphaned proposals are newer still. Each slot alerts
    # once however often it is read again.
    epoch = _epoch(farm_id, params)
    rows = Proposal.objects.filter(
        validator__farm_id=farm_id,
        epoch__gte=max(0, (epoch or 0) - 1),
        outcome__in=[Proposal.Outcome.MISSED, Proposal.Outcome.ORPHANED],
    )
    rows = _only(rows, ids).values_list(
        "validator_id", "validator__index", "validator__label", "slot", "outcome"
    )
    url = _url_for("validator-detail")
    for pk, index, label, slot, outcome in rows:
        detail = f"slot {slot:,} {Proposal.Outcome(outcome).label.lower()}"
        yield Observation(pk, _name(index, label), 1, url(pk), detail, key=str(slot))


def observe_leaving(farm_id, ids, params: Mapping) -> Iterator[Observation]:
    # Only changes seen around the last epoch: a validator's first read records every
    # milestone it passed long ago, which is history, not news.
    epoch = _epoch(farm_id, params)
    if epoch is None:
        return
    leaving = Validator.objects.filter(farm_id=farm_id, status__in=LEAVING)
    rows = StatusChange.objects.filter(
        validator__in=_only(leaving, ids, "pk").values("pk"),
        status__in=LEAVING,
        epoch__gte=epoch - 1,
    ).values_list("validator_id", "validator__index", "validator__label", "status", "epoch")
    url = _url_for("validator-detail")
    for pk, index, label, status, at in rows:
        detail = f"{STATUS_LABELS.get(status, status).lower()} from epoch {at:,}"
        yield Observation(pk, _name(index, label), 1, url(pk), detail, key=status)


def _nodes(farm_id, ids):
    return _only(BeaconNode.objects.filter(farm_id=farm_id), ids, "pk")


def observe_node_down(farm_id, ids, params: Mapping) -> Iterator[Observation]:
    """A node that failed its last check or request, or that nobody has checked within
    `window_s` although the farm has validators (epoch processing checks each node at most once
    a slot, on every run): then the worker or the node went silent."""
    now = timezone.now()
    stale_before = now - timedelta(seconds=params.get("window_s") or 300)
    url = reverse("beacon-nodes")
    watched = Validator.objects.filter(farm_id=farm_id).exists()
    for node in _nodes(farm_id, ids):
        if node.health == BeaconNode.Health.DOWN:
            yield Observation(node.pk, node.name, 1, url, node.last_error)
        elif watched and node.checked_at is not None and node.checked_at < stale_before:
            minutes = int((now - node.checked_at).total_seconds() // 60)
            yield Observation(node.pk, node.name, 1, url, f"not checked for {minutes} min")


def observe_node_behind(farm_id, ids, params: Mapping) -> Iterator[Observation]:
    """Slots the node's head was behind at its last check: its own sync distance, or the
    wall-clock slot minus its head, whichever is larger (a stuck node may say it is synced)."""
    url = reverse("beacon-nodes")
    # A node that is down keeps its last figures: "unreachable" is its alert then.
    for node in _nodes(farm_id, ids):
        if node.head_slot is None or node.checked_at is None:
            continue
        wall = slot_at(node, node.checked_at)
        lag = 0 if wall is None else max(0, wall - node.head_slot)
        behind = max(node.sync_distance or 0, lag)
        detail = f"{node.get_health_display()}, head slot {node.head_slot:,}"
        yield Observation(node.pk, node.name, behind, url, detail)


def observe_execution_down(farm_id, ids, params: Mapping) -> Iterator[Observation]:
    """The execution client behind each beacon node, as the node reports it (el_offline, or
    optimistic: its payloads not validated). A node that is down keeps its last report, so its
    execution client's alert neither opens nor resolves on its account."""
    url = reverse("beacon-nodes")
    for node in _nodes(farm_id, ids):
        optimistic = node.health == BeaconNode.Health.OPTIMISTIC
        offline = node.el_offline or optimistic
        detail = "offline" if node.el_offline else ("not validated (optimistic)" if offline else "")
        yield Observation(node.pk, f"{node.name} (execution)", int(offline), url, detail)


KINDS = [
    AlertKind(
        name="validator_missed_attestation",
        label="Missed attestations",
        topic="validator",
        object_type="validator",
        observe=observe_missed_attestations,
        grace_count=2,
        help="No attestation counted for the validator in N consecutive processed epochs "
        "(grace count; default 2).",
    ),
    AlertKind(
        name="validator_balance_down",
        label="Balance down",
        topic="validator",
        object_type="validator",
        observe=observe_balance_down,
        unit=" gwei",
        above=False,
        threshold=0,
        limits=(-32 * 10**9, 0),
        grace_count=3,
        help="Consensus income (balance change plus withdrawals minus deposits) below the "
        "threshold in N consecutive processed epochs (grace count; default 3).",
    ),
    AlertKind(
        name="validator_proposal_missed",
        label="Proposal missed or orphaned",
        topic="validator_proposal",
        object_type="validator",
        observe=observe_proposals,
        event=True,
        help="A block of the validator's slot was missed, or dropped by a reorg (once a slot).",
    ),
    AlertKind(
        name="validator_sync_missed",
        label="Sync-committee duties missed",
        topic="validator",
        object_type="validator",
        observe=observe_sync_missed,
        unit=" slots",
        threshold=0,
        limits=(0, 64),
        grace_count=2,
        help="More sync-committee slots missed than the threshold in N consecutive processed "
        "epochs (grace count; default 2).",
    ),
    AlertKind(
        name="validator_slashed",
        label="Slashed",
        topic="validator",
        object_type="validator",
        observe=observe_slashed,
        severity="critical",
        help="The validator is slashed (until it is withdrawn).",
    ),
    AlertKind(
        name="validator_exited",
        label="Exited or withdrawn",
        topic="validator",
        object_type="validator",
        observe=observe_leaving,
        severity="info",
        event=True,
        help="The validator exited, became withdrawable or was withdrawn (once each).",
    ),
    AlertKind(
        name="beacon_node_down",
        label="Beacon node unreachable",
        topic="beacon_node",
        object_type="beacon_node",
        observe=observe_node_down,
        grace_s=60,
        window_s=300,
        severity="critical",
        periodic=True,
        help="The node failed its last check or request, or has not been checked within the "
        "window although the farm has validators.",
    ),
    AlertKind(
        name="beacon_node_behind",
        label="Beacon node syncing or behind",
        topic="beacon_node",
        object_type="beacon_node",
        observe=observe_node_behind,
        unit=" slots",
        threshold=8,
        limits=(1, 10_000),
        hysteresis=4,
        grace_s=60,
        periodic=True,
        help="The node's head was more slots behind the chain than the threshold at its last "
        "check.",
    ),
    AlertKind(
        name="execution_node_down",
        label="Execution node unreachable",
        topic="beacon_node",
        object_type="execution_node",
        observe=observe_execution_down,
        grace_s=60,
        severity="critical",
        periodic=True,
        help="The beacon node reports its execution client offline or not validated (optimistic).",
    ),
]


def register() -> None:
    for kind in KINDS:
        register_alert_kind(kind)
