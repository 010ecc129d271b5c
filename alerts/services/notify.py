"""Queueing what an alert's change of state says, to whom, and handing it to delivery.

queue() is called in the transaction that changed the alert: it records one Notification per
channel of the rule (a rule with no channel of its own uses every channel of the farm), or
records why it is not sent (the alert muted, the rule's daily cap reached, its cooldown
running, the channel failing). The unique (alert, channel, change) constraint makes a second
evaluation of the same change queue nothing. schedule_delivery() starts the delivery task once
the transaction commits, a few seconds later, so that the alerts of one burst (a power cut, 40
rigs down) go out as one digest (alerts.services.delivery), and pushes the changes to the
farm's open pages.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from alerts.models import Alert, Notification, NotificationChannel
from ethdash import live


def queue(alert: Alert, change: str, *, now=None) -> list[Notification]:
    """One alert's change: see queue_many."""
    return queue_many(alert.rule, [alert], change, now=now)


def queue_many(rule, alerts: list[Alert], change: str, *, now=None) -> list[Notification]:
    """Queues one change of several alerts of one rule: a notification per channel of the rule
    (every channel of the farm when the rule names none), each sent unless the channel is
    failing, the alert muted, the rule's daily cap reached, its cooldown running for the object,
    or (for "resolved") nobody was told it opened: then it is recorded with that reason. A fixed
    number of queries however many alerts: the channels, the day's count and the cooldown are
    read once, and the count grows as this burst queues."""
    if not alerts:
        return []
    now = now or timezone.now()
    own = list(rule.channels.all())
    channels = [c for c in own if c.enabled] if own else list(
        NotificationChannel.objects.filter(farm_id=rule.farm_id, enabled=True)
    )  # fmt: skip
    if not channels:
        return []
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    sent_today = dict(
        Notification.objects.filter(
            alert__rule=rule, channel__in=channels, created_at__gte=day_start, suppressed=""
        )
        .values_list("channel_id")
        .annotate(n=Count("pk"))
        .values_list("channel_id", "n")
    )
    pks = [a.pk for a in alerts]
    cooling: set[tuple[int, int]] = set()
    if change != "resolved" and rule.cooldown_s:
        cooling = set(
            Notification.objects.filter(
                alert__rule=rule,
                alert__object_id__in=[a.object_id for a in alerts],
                channel__in=channels,
                suppressed="",
                created_at__gte=now - timedelta(seconds=rule.cooldown_s),
            )
            .exclude(alert_id__in=pks)
            .values_list("channel_id", "alert__object_id")
        )
    told: set[tuple[int, int]] = set()
    if change == "resolved":
        told = set(
            Notification.objects.filter(
                alert_id__in=pks, change=Notification.Change.OPENED, suppressed=""
            ).values_list("alert_id", "channel_id")
        )
    rows = []
    for alert in alerts:
        for channel in channels:
            reason = ""
            if channel.failing:
                reason = "channel failing"
            elif alert.muted_until and alert.muted_until > now:
                reason = "muted"
            elif sent_today.get(channel.pk, 0) >= rule.daily_cap:
                reason = "cap"
            elif (channel.pk, alert.object_id) in cooling:
                reason = "cooldown"
            elif change == "resolved" and (alert.pk, channel.pk) not in told:
                reason = "opening not sent"
            if not reason:
                sent_today[channel.pk] = sent_today.get(channel.pk, 0) + 1
            rows.append(
                Notification(
                    farm_id=alert.farm_id,
                    alert=alert,
                    channel=channel,
                    change=change,
                    suppressed=reason,
                )
            )
    return Notification.objects.bulk_create(rows, ignore_conflicts=True)


def event(alert: Alert, change: str) -> dict:
    """The live event a change pushes to the farm's pages (see DESIGN: alert.opened,
    alert.resolved; an event kind's occurrence is pushed as alert.opened, already resolved)."""
    return {
        "type": "alert.resolved" if change == "resolved" else "alert.opened",
        "id": alert.pk,
        "ts": (alert.resolved_at if change == "resolved" else alert.opened_at).isoformat(),
        "kind": alert.kind,
        "severity": alert.severity,
        "state": alert.state,
        "object_type": alert.object_type,
        "object_id": alert.object_id,
        "object_name": alert.object_name,
        "value": alert.value,
        "message": alert.message,
        "url": alert.url,
    }


def schedule_delivery(farm_id: int, changed: list[Alert]) -> None:
    """After the commit: push the changes live and start delivery of what is queued."""
    if not changed:
        return
    events = [event(a, "resolved" if a.state == Alert.State.RESOLVED and not a.event else "opened")
              for a in changed]  # fmt: skip

    def after_commit():
        live.push(farm_id, *events)
        if Notification.objects.filter(
            farm_id=farm_id, sent_at__isnull=True, suppressed=""
        ).exists():
            from alerts.tasks import deliver_notifications

            deliver_notifications.apply_async(
                (farm_id,), countdown=settings.ETHDASH_ALERT_DIGEST_WINDOW_S
            )

    transaction.on_commit(after_commit)
