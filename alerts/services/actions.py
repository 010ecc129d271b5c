"""What a farm's people do with an alert: acknowledge it, mute it for a while."""

from datetime import timedelta

from django.db.models import Case, Value, When
from django.utils import timezone

from alerts.models import Alert

# The mute durations the pages offer, in minutes: 1 h, 4 h, 24 h, 7 days.
MUTE_MINUTES = (60, 240, 1440, 10080)
MAX_MUTE_MINUTES = MUTE_MINUTES[-1]


def acknowledge(alert: Alert, user, *, now=None) -> Alert:
    """Records who acknowledged the alert and when; a second acknowledgement keeps the first."""
    now = now or timezone.now()
    user_id = getattr(user, "pk", None)
    Alert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=now, acknowledged_by_id=user_id
    )
    alert.refresh_from_db(fields=["acknowledged_at", "acknowledged_by"])
    return alert


def mute(alert: Alert, minutes: int, *, now=None) -> Alert:
    """No message about the alert is sent until `minutes` from now (notify reads muted_until);
    a shorter mute than the one running replaces it."""
    if not 1 <= minutes <= MAX_MUTE_MINUTES:
        raise ValueError(f"A mute lasts 1 to {MAX_MUTE_MINUTES} minutes.")
    alert.muted_until = (now or timezone.now()) + timedelta(minutes=minutes)
    Alert.objects.filter(pk=alert.pk).update(muted_until=alert.muted_until)
    return alert


def visible(queryset):
    """What the pages and the API list: open alerts and the history (resolved alerts and
    events); a pending alert (within its grace) has said nothing yet and is not shown."""
    return queryset.exclude(state=Alert.State.PENDING)


def open_first(queryset):
    """Open alerts first, then the history; the newest first within each."""
    is_open = Case(When(state=Alert.State.OPEN, then=Value(0)), default=Value(1))
    return queryset.annotate(_open_first=is_open).order_by("_open_first", "-opened_at", "-pk")
