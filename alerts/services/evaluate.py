"""Turning what the domains observe into alerts that open once, resolve once and say so once.

A domain registers its alert kinds (ethdash.registry.AlertKind) and calls the core's "stored"
hook after each store; on_stored() evaluates the farm's enabled rules of the kinds that store
feeds, for the objects it touched, and sweep() evaluates the "nothing arrived" kinds of every
farm on a timer. For each rule and object:

- the condition holds (the value past the threshold): a PENDING row is kept while the grace
  runs (for grace_s seconds and grace_count consecutive evaluations), then it OPENs;
- it stops holding while PENDING: the row is deleted, nothing was said (a flap within the grace);
- an OPEN alert RESOLVEs only once the value is back past the threshold by the hysteresis, so a
  value hovering at the threshold does not flap;
- an event kind's occurrence (its key) is recorded and notified once, never open.

Every change of state is a conditional write (the unique (rule, dedupe) constraint for a new
row, `state = ...` in the UPDATE's WHERE for a change), so two workers evaluating the same
store open, notify and resolve once between them. The notifications of each change are queued
in the same transaction (alerts.services.notify).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from alerts.models import Alert, AlertRule
from alerts.services import notify
from ethdash import registry
from ethdash.db import insert_rows, update_by_pk
from ethdash.registry import AlertKind, Observation

logger = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What one evaluation changed, for callers, tests and the bench."""

    opened: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)
    events: list[Alert] = field(default_factory=list)
    pending: int = 0
    cleared: int = 0
    seconds: float = 0.0


def params(rule: AlertRule, kind: AlertKind) -> dict:
    """The figures a kind's observe() is given: the rule's, else the kind's defaults."""
    return {
        **kind.params,
        "threshold": kind.threshold if rule.threshold is None else rule.threshold,
        "window_s": rule.window_s or kind.window_s,
    }


def holds(kind: AlertKind, value: float, threshold: float | None) -> bool:
    """Whether the alert's condition holds at `value`."""
    if threshold is None:
        return value >= 1
    return value > threshold if kind.above else value < threshold


def clears(kind: AlertKind, value: float, threshold: float | None, hysteresis: float) -> bool:
    """Whether an open alert may resolve at `value`: back past the threshold by `hysteresis`."""
    if threshold is None:
        return value < 1
    return value <= threshold - hysteresis if kind.above else value >= threshold + hysteresis


def targets(rule: AlertRule, observation: Observation) -> bool:
    if rule.target == AlertRule.Target.GROUP:
        return rule.target_id in observation.groups
    if rule.target == AlertRule.Target.OBJECT:
        return rule.target_id == observation.object_id
    return True


def rules_for(farm_id: int, kinds: Iterable[AlertKind]):
    names = [kind.name for kind in kinds]
    if not names:
        return []
    return list(
        AlertRule.objects.filter(farm_id=farm_id, enabled=True, kind__in=names).order_by("pk")
    )


def on_stored(farm_id: int, topic: str, ids: Collection[int] | None, *, now=None) -> Outcome:
    """The stored hook's listener: the farm's rules of the kinds `topic` feeds, for `ids`."""
    kinds = [kind for kind in registry.alert_kinds() if kind.topic == topic]
    return evaluate(farm_id, kinds, ids, now=now)


def sweep(*, now=None) -> Outcome:
    """The periodic pass: every farm's rules of the periodic kinds, over all their objects. One
    farm's failure is logged and the others are still evaluated."""
    kinds = [kind for kind in registry.alert_kinds() if kind.periodic]
    total = Outcome()
    farms = (
        AlertRule.objects.filter(enabled=True, kind__in=[k.name for k in kinds])
        .values_list("farm_id", flat=True)
        .distinct()
    )
    for farm_id in list(farms):
        try:
            outcome = evaluate(farm_id, kinds, None, now=now)
        except Exception:
            logger.exception("alert sweep failed for farm %s", farm_id)
            continue
        total.opened += outcome.opened
        total.resolved += outcome.resolved
        total.events += outcome.events
        total.seconds += outcome.seconds
    return total


def evaluate(
    farm_id: int, kinds: Iterable[AlertKind], ids: Collection[int] | None, *, now=None
) -> Outcome:
    started = time.perf_counter()
    now = now or timezone.now()
    by_name = {kind.name: kind for kind in kinds}
    outcome = Outcome()
    # Shared by the kinds' observe() calls of this evaluation: kinds that read the same rows
    # (the rig, its GPUs) read them once (see AlertKind).
    memo = {}
    work = []
    for rule in rules_for(farm_id, by_name.values()):
        kind = by_name[rule.kind]
        figures = {**params(rule, kind), "memo": memo}
        observed = [o for o in kind.observe(farm_id, ids, figures) if targets(rule, o)]
        work.append((rule, kind, observed, figures["threshold"]))
    live = _live_alerts([item for item in work if not item[1].event], ids)
    for rule, kind, observed, threshold in work:
        if kind.event:
            if observed:
                with transaction.atomic():
                    _events(rule, kind, observed, now, outcome)
            continue
        current = live.get(rule.pk, {})
        if not current and not any(holds(kind, o.value, threshold) for o in observed):
            # Nothing holds and nothing is pending or open: nothing to write. The common case
            # after a store, and it costs no statement.
            continue
        with transaction.atomic():
            _conditions(rule, kind, observed, current, now, outcome, threshold)
    notify.schedule_delivery(farm_id, outcome.opened + outcome.resolved + outcome.events)
    outcome.seconds = time.perf_counter() - started
    return outcome


def _wanted(kind: AlertKind, observed, ids) -> set[int] | None:
    """The objects whose pending or open alerts of `kind` this evaluation judges: all (None)
    on the sweep; else those observed, and the stored ids themselves when they name the kind's
    own objects (one of them no longer observed resolves). Ids of another kind of object (a
    rig's GPUs, an account's workers) leave the alerts of what was not observed as they are."""
    if ids is None:
        return None
    wanted = {o.object_id for o in observed}
    if kind.object_type == kind.topic:
        wanted.update(ids)
    return wanted


def _live_alerts(work, ids) -> dict[int, dict[int, Alert]]:
    """{rule id: {object id: its pending or open alert}} for the condition rules of `work`, in
    one query for all of them rather than one per rule."""
    if not work:
        return {}
    wanted = {rule.pk: _wanted(kind, observed, ids) for rule, kind, observed, _ in work}
    alerts = Alert.objects.filter(
        rule_id__in=list(wanted), state__in=[Alert.State.PENDING, Alert.State.OPEN]
    )
    if ids is not None:
        alerts = alerts.filter(object_id__in=set().union(*wanted.values()))
    live = {}
    for alert in alerts:
        objects = wanted[alert.rule_id]
        if objects is None or alert.object_id in objects:
            live.setdefault(alert.rule_id, {})[alert.object_id] = alert
    return live


def _message(kind: AlertKind, rule: AlertRule, observation: Observation, threshold) -> str:
    figure = ""
    if threshold is not None:
        figure = f": {_number(observation.value)}{kind.unit}"
        figure += f" ({'above' if kind.above else 'below'} {_number(threshold)}{kind.unit})"
    detail = f"; {observation.detail}" if observation.detail else ""
    return f"{kind.label}: {observation.name}{figure}{detail}"[:500]


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"


def _new_row(rule, kind, observation, now, *, state, dedupe, threshold) -> Alert:
    return Alert(
        farm_id=rule.farm_id,
        rule=rule,
        kind=kind.name,
        severity=rule.severity,
        object_type=kind.object_type,
        object_id=observation.object_id,
        object_name=observation.name[:200],
        url=observation.url[:300],
        state=state,
        dedupe=dedupe,
        seen_at=now,
        value=observation.value,
        message=_message(kind, rule, observation, threshold),
    )


def _events(rule, kind, observed, now, outcome) -> None:
    rows = [
        _new_row(
            rule,
            kind,
            o,
            now,
            state=Alert.State.RESOLVED,
            dedupe=f"{o.object_id}:{o.key}"[:200],
            threshold=None,
        )
        for o in observed
    ]
    for row in rows:
        row.event, row.opened_at, row.resolved_at = True, now, now
    if not rows:
        return
    keys = [row.dedupe for row in rows]
    known = set(Alert.objects.filter(rule=rule, dedupe__in=keys).values_list("dedupe", flat=True))
    fresh = [row for row in rows if row.dedupe not in known]
    recorded = []
    for row in fresh:
        try:
            with transaction.atomic():
                row.save(force_insert=True)
        except IntegrityError:  # another worker recorded it first
            continue
        recorded.append(row)
    notify.queue_many(rule, recorded, "event", now=now)
    outcome.events += recorded


def _conditions(rule, kind, observed, current, now, outcome, threshold) -> None:
    """One rule's condition alerts, set-based: a burst (an incident, 10,000 validators missing)
    costs a few statements, not a few per alert (one at a time, opening 1,000 validator alerts
    took twice the epoch's own store time). `current`: {object id: its pending or open alert}
    (_live_alerts); `threshold`: the rule's, else the kind's (params())."""
    hysteresis = kind.hysteresis if rule.hysteresis is None else rule.hysteresis
    grace = timedelta(seconds=rule.grace_s)
    fresh, again, dropped, resolving = [], [], [], []
    by_object = {}
    for o in observed:
        by_object[o.object_id] = o
        alert = current.get(o.object_id)
        if holds(kind, o.value, threshold):
            if alert is None:
                fresh.append(o)
            elif alert.state == Alert.State.PENDING:
                again.append(alert)
        elif alert is not None:
            if alert.state == Alert.State.PENDING:
                dropped.append(alert.pk)  # a flap within the grace: nothing said, nothing kept
            elif clears(kind, o.value, threshold, hysteresis):
                resolving.append(alert)
    # An object the kind no longer observes (deleted, or no longer what the kind watches, such
    # as a rig whose miner now answers) has nothing wrong left: its alert resolves.
    for object_id, alert in current.items():
        if object_id not in by_object:
            if alert.state == Alert.State.PENDING:
                dropped.append(alert.pk)
            else:
                resolving.append(alert)
    if dropped:
        # A pending alert has no notifications (they are queued when it opens), so its rows go
        # in one DELETE; QuerySet.delete() would first load every row to cascade, which took
        # 1.6 s for the 19,786 pending alerts of a 100,000-validator incident's recovery.
        pending = Alert.objects.filter(pk__in=dropped, state=Alert.State.PENDING)
        outcome.cleared += pending._raw_delete(pending.db)
    if again:
        Alert.objects.filter(pk__in=[a.pk for a in again], state=Alert.State.PENDING).update(
            streak=F("streak") + 1
        )
        for alert in again:
            alert.streak += 1
    if fresh:
        # Whoever inserts a row first owns it; a second worker's insert is ignored, and it then
        # reads the row as it stands.
        _insert_pending(
            [
                _new_row(
                    rule,
                    kind,
                    o,
                    now,
                    state=Alert.State.PENDING,
                    dedupe=str(o.object_id),
                    threshold=threshold,
                )
                for o in fresh
            ]
        )
        if rule.grace_s or rule.grace_count > 1:
            # Not due before the next evaluation: nothing more to do with them now.
            outcome.pending += len(fresh)
            fresh = []
        again += list(
            Alert.objects.filter(
                rule=rule,
                state=Alert.State.PENDING,
                dedupe__in=[str(o.object_id) for o in fresh],
            )
        )
    due = [a for a in again if now - a.seen_at >= grace and a.streak >= rule.grace_count]
    outcome.pending += len(again) - len(due)
    _open(due, kind, rule, by_object, threshold, now, outcome)
    _resolve(rule, resolving, by_object, now, outcome)


PENDING_COLUMNS = [
    "farm_id", "rule_id", "kind", "severity", "object_type", "object_id", "object_name", "url",
    "state", "event", "dedupe", "seen_at", "streak", "value", "message",
]  # fmt: skip
PENDING_TYPES = [
    "bigint", "bigint", "text", "text", "text", "bigint", "text", "text",
    "text", "boolean", "text", "timestamptz", "integer", "double precision", "text",
]  # fmt: skip


def _insert_pending(rows: list[Alert]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING of new pending alerts in array batches
    (ethdash.db.insert_rows): Django's bulk_create sends a placeholder per value, and building
    the 19,786 pending alerts of a 100,000-validator incident that way took most of 2 s."""
    to_db = connection.ops.adapt_datetimefield_value
    insert_rows(
        Alert,
        PENDING_COLUMNS,
        [
            (
                a.farm_id,
                a.rule_id,
                a.kind,
                a.severity,
                a.object_type,
                a.object_id,
                a.object_name,
                a.url,
                a.state,
                a.event,
                a.dedupe,
                to_db(a.seen_at),
                a.streak,
                a.value,
                a.message,
            )
            for a in rows
        ],
        array_types=PENDING_TYPES,
        on_conflict="ON CONFLICT DO NOTHING",
    )


def _claimed(pks, state) -> set[int]:
    """The rows of `pks` still in `state`, locked for this transaction; rows another worker
    holds are skipped (it is changing them), so each change is made once."""
    return set(
        Alert.objects.select_for_update(skip_locked=True)
        .filter(pk__in=pks, state=state)
        .values_list("pk", flat=True)
    )


def _open(due, kind, rule, by_object, threshold, now, outcome) -> None:
    if not due:
        return
    mine = _claimed([a.pk for a in due], Alert.State.PENDING)
    opened = [a for a in due if a.pk in mine]
    for alert in opened:
        observation = by_object[alert.object_id]
        alert.state, alert.opened_at = Alert.State.OPEN, now
        alert.value = observation.value
        alert.message = _message(kind, rule, observation, threshold)
        alert.rule = rule
    update_by_pk(
        Alert,
        [a.pk for a in opened],
        {"value": [a.value for a in opened], "message": [a.message for a in opened]},
        same={"state": Alert.State.OPEN, "opened_at": now},
    )
    notify.queue_many(rule, opened, "opened", now=now)
    outcome.opened += opened


def _resolve(rule, resolving, by_object, now, outcome) -> None:
    if not resolving:
        return
    mine = _claimed([a.pk for a in resolving], Alert.State.OPEN)
    resolved = [a for a in resolving if a.pk in mine]
    for alert in resolved:
        alert.state, alert.resolved_at, alert.dedupe = Alert.State.RESOLVED, now, None
        observation = by_object.get(alert.object_id)
        # The value it resolved at, beside the one that tripped it (kept in `value`), so the
        # "resolved" message says where it stands now, not what it was when it opened.
        alert.resolved_value = observation.value if observation is not None else None
    update_by_pk(
        Alert,
        [a.pk for a in resolved],
        {"resolved_value": [a.resolved_value for a in resolved]},
        same={"state": Alert.State.RESOLVED, "resolved_at": now, "dedupe": None},
    )
    notify.queue_many(rule, resolved, "resolved", now=now)
    outcome.resolved += resolved
