"""Sending what alerts.services.notify queued: each farm's unsent notifications, per channel, as
one message each or as one digest when a burst queued many.

Guarantees:
- Nothing is sent twice by two workers: a channel is delivered to only while its row is locked
  (select_for_update(skip_locked=True) on PostgreSQL; SQLite's immediate transactions serialise
  writers anyway), so a second worker skips a channel being delivered to.
- Nothing is sent twice by a retried task: the rows sent are marked (sent_at, digest) in the
  same transaction that claimed them, committed right after the send, and a retry only looks
  at rows still unsent. The choice: the claim, the send and the mark share one transaction per
  channel and batch. A crash between the receiver accepting the message and the commit (a
  window of milliseconds) leaves the rows unsent and they go again: at least once, never lost.
  Marking them sent before sending would make it at most once, losing the alert a
  crash or a timeout interrupts, which is worse for an alert than a rare repeat. The lock is
  held across the send; each sender is bounded by its timeouts (ethdash.outbound).
- A failure is recorded on the notifications (attempts, error) and on the channel (failures,
  last_error, last_error_at); the delivery task retries with backoff. After
  ETHDASH_ALERT_CHANNEL_MAX_FAILURES failures in a row the channel is marked failing and its
  pending notifications are suppressed ("channel failing"), so nothing is retried forever; a
  success (or a test that succeeds) resets the count.
- ETHDASH_ALERT_DIGEST_MIN or more notifications for one channel go as ONE message naming them
  all, the same digest id on each row.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from alerts.channels import DeliveryError, Message, module_for
from alerts.models import Notification, NotificationChannel
from ethdash import registry

# Most notifications one digest names; a larger backlog goes as several digests.
DIGEST_MAX = 200
CHANGE_WORDS = {"opened": "Opened", "resolved": "Resolved", "event": "Event", "test": "Test"}


@dataclass
class DeliveryOutcome:
    """What one run did, for the task (whether to retry) and the tests."""

    sent: int = 0  # notifications sent
    messages: int = 0  # messages sent (a digest is one)
    failed: list[int] = field(default_factory=list)  # channels that failed and may be retried
    marked_failing: list[int] = field(default_factory=list)
    suppressed: int = 0

    @property
    def retry(self) -> bool:
        return bool(self.failed)

    def as_dict(self) -> dict:
        return {
            "sent": self.sent,
            "messages": self.messages,
            "failed": self.failed,
            "marked_failing": self.marked_failing,
            "suppressed": self.suppressed,
        }


def pending(farm_id: int):
    """The farm's notifications still to send: unsent, unsuppressed, about an alert (a failed
    test notification is a record, not a message to send again)."""
    return Notification.objects.filter(
        farm_id=farm_id, sent_at__isnull=True, suppressed="", alert__isnull=False
    )


def deliver_farm(farm_id: int) -> DeliveryOutcome:
    """Send every pending notification of the farm; see the module's guarantees."""
    outcome = DeliveryOutcome()
    # Queued before their channel was switched off or marked failing: kept as a record only.
    outcome.suppressed += (
        pending(farm_id).filter(channel__failing=True).update(suppressed="channel failing")
    )
    outcome.suppressed += (
        pending(farm_id).filter(channel__enabled=False).update(suppressed="channel disabled")
    )
    channel_ids = sorted(set(pending(farm_id).values_list("channel_id", flat=True)))
    for channel_id in channel_ids:
        while _deliver_batch(farm_id, channel_id, outcome):
            pass
    return outcome


def _deliver_batch(farm_id: int, channel_id: int, outcome: DeliveryOutcome) -> bool:
    """Deliver up to DIGEST_MAX pending notifications to one channel; True when all of them
    went and more may be waiting."""
    with transaction.atomic():
        channel = (
            NotificationChannel.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=channel_id, farm_id=farm_id, enabled=True, failing=False)
            .select_related("farm")
            .first()
        )
        if channel is None:  # another worker holds it, or it was switched off meanwhile
            return False
        rows = list(
            pending(farm_id)
            .filter(channel=channel)
            .select_for_update(of=("self",))
            .select_related("alert", "alert__rule")
            .order_by("created_at", "pk")[:DIGEST_MAX]
        )
        if not rows:
            return False
        sender = module_for(channel.kind)
        if len(rows) >= settings.ETHDASH_ALERT_DIGEST_MIN:
            batches = [(uuid.uuid4(), rows)]
        else:
            batches = [(None, [row]) for row in rows]
        sent: list[Notification] = []
        for digest, batch in batches:
            if digest:
                message = digest_message(channel, batch, digest)
            else:
                message = single_message(channel, batch[0])
            try:
                sender.send(channel, message)
            except DeliveryError as exc:
                # What went before this failure did go (and resets the count of failures in a
                # row); this one then counts as the first.
                _mark_sent(channel, sent, outcome)
                _record_failure(channel, batch, str(exc), outcome)
                return False
            for row in batch:
                row.digest = digest
            sent.extend(batch)
            outcome.messages += 1
        _mark_sent(channel, sent, outcome)
        return len(rows) == DIGEST_MAX


def _mark_sent(channel: NotificationChannel, rows: list[Notification], outcome) -> None:
    if not rows:
        return
    now = timezone.now()
    for digest in {row.digest for row in rows}:
        Notification.objects.filter(pk__in=[r.pk for r in rows if r.digest == digest]).update(
            sent_at=now, digest=digest, error="", attempts=F("attempts") + 1
        )
    NotificationChannel.objects.filter(pk=channel.pk).update(failures=0, last_sent_at=now)
    channel.failures = 0
    outcome.sent += len(rows)


def _record_failure(channel, rows: list[Notification], error: str, outcome) -> None:
    error = error[:500]
    now = timezone.now()
    Notification.objects.filter(pk__in=[r.pk for r in rows]).update(
        attempts=F("attempts") + 1, error=error
    )
    failures = channel.failures + 1
    failing = failures >= settings.ETHDASH_ALERT_CHANNEL_MAX_FAILURES
    NotificationChannel.objects.filter(pk=channel.pk).update(
        failures=failures, failing=failing, last_error=error, last_error_at=now
    )
    if failing:
        outcome.marked_failing.append(channel.pk)
        outcome.suppressed += (
            pending(channel.farm_id).filter(channel=channel).update(suppressed="channel failing")
        )
    else:
        outcome.failed.append(channel.pk)


# -- the messages ------------------------------------------------------------------------------


def link(alert) -> str:
    """Where the alert's object is shown. There is no site URL setting, so this is the path on
    the site (relative), as the alert stores it; the alerts page when it has none."""
    return alert.url or "/alerts/"


def _figure(alert, value) -> str:
    kind = registry.alert_kind(alert.kind)
    unit = f" {kind.unit.strip()}" if kind and kind.unit else ""
    return f"{value:g}{unit}"


def _value(alert, change="opened") -> str:
    """The value a message shows: the one that tripped the alert; for a resolution, the one it
    resolved at, then the one that tripped it."""
    if change == "resolved" and not alert.event:
        now = (
            "no longer observed"
            if alert.resolved_value is None
            else (_figure(alert, alert.resolved_value))
        )
        was = f", was {_figure(alert, alert.value)}" if alert.value is not None else ""
        return f"{now}{was}"
    if alert.value is None:
        return ""
    return _figure(alert, alert.value)


def _rule_name(alert) -> str:
    kind = registry.alert_kind(alert.kind)
    return alert.rule.name or (kind.label if kind else alert.kind)


def _line(row: Notification) -> str:
    alert = row.alert
    value = _value(alert, row.change)
    return (
        f"{CHANGE_WORDS.get(row.change, row.change)} [{alert.severity.upper()}] "
        f"{alert.object_type} {alert.object_name}: {alert.message}"
        f"{f' (value {value})' if value else ''} {link(alert)}"
    )


def alert_payload(alert) -> dict:
    kind = registry.alert_kind(alert.kind)
    return {
        "id": alert.pk,
        "kind": alert.kind,
        "rule": _rule_name(alert),
        "severity": alert.severity,
        "state": alert.state,
        "object_type": alert.object_type,
        "object_id": alert.object_id,
        "object_name": alert.object_name,
        "value": alert.value,
        "resolved_value": alert.resolved_value,
        "unit": kind.unit if kind else "",
        "message": alert.message,
        "url": link(alert),
        "opened_at": alert.opened_at.isoformat() if alert.opened_at else None,
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
    }


def _payload(channel, rows, digest, title, text) -> dict:
    return {
        "ethdash": 1,
        "farm_id": channel.farm_id,
        "digest": str(digest) if digest else None,
        "title": title,
        "text": text,
        "notifications": [
            {"id": row.pk, "change": row.change, "alert": alert_payload(row.alert)} for row in rows
        ],
    }


def single_message(channel, row: Notification) -> Message:
    alert = row.alert
    word = CHANGE_WORDS.get(row.change, row.change)
    title = f"[ethdash] {alert.severity.upper()} {word.lower()}: {alert.message}"[:200]
    when = alert.resolved_at if row.change == "resolved" else alert.opened_at
    lines = [
        f"{word}: {alert.message}",
        f"Object: {alert.object_type} {alert.object_name} (#{alert.object_id})",
    ]
    if value := _value(alert, row.change):
        lines.append(f"Value: {value}")
    lines += [f"Severity: {alert.severity}", f"Rule: {_rule_name(alert)}"]
    if when:
        lines.append(f"At: {when:%Y-%m-%d %H:%M:%S} UTC")
    lines.append(f"Link: {link(alert)}")
    text = "\n".join(lines)
    return Message(title, text, _payload(channel, [row], None, title, text))


def digest_message(channel, rows: list[Notification], digest) -> Message:
    counts = Counter(CHANGE_WORDS.get(row.change, row.change).lower() for row in rows)
    summary = ", ".join(f"{count} {word}" for word, count in sorted(counts.items()))
    title = f"[ethdash] {len(rows)} alert changes on {channel.farm.name}: {summary}"[:200]
    text = "\n".join([f"{len(rows)} alert changes ({summary}):", *(_line(row) for row in rows)])
    return Message(title, text, _payload(channel, rows, digest, title, text))
