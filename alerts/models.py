"""Alert rules, the alerts they open, where their messages go and the messages themselves.

The kinds a rule can watch are not listed here: each domain registers its own
(`ethdash.registry.AlertKind`), so this app knows no domain's models."""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from accounts.models import Farm


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class NotificationChannel(models.Model):
    class Kind(models.TextChoices):
        EMAIL = "email", "E-mail"
        WEBHOOK = "webhook", "Webhook (JSON)"
        APPRISE = "apprise", "Apprise URL (Telegram, Discord, Slack, ntfy, Pushover, Matrix, ...)"

    farm = models.ForeignKey(Farm, on_delete=models.CASCADE, related_name="notification_channels")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # An e-mail address, a webhook URL or an Apprise URL; may hold secrets (tokens, passwords),
    # so pages and the API show it masked (alerts.services.channels.masked).
    target = models.CharField(max_length=2000)
    # Webhooks only: when set, each body is signed (HMAC-SHA256) in X-Ethdash-Signature.
    secret = models.CharField(max_length=200, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Delivery's record: consecutive failures, and once they pass the limit the channel is
    # marked failing and skipped until its owner fixes it or sends a test that succeeds.
    failures = models.PositiveIntegerField(default=0)
    failing = models.BooleanField(default=False)
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["farm", "name"], name="channel_unique_farm_name")
        ]

    def __str__(self):
        return f"{self.name} ({self.get_kind_display().split(' (')[0]})"


class AlertRule(models.Model):
    class Target(models.TextChoices):
        ALL = "all", "Every object"
        GROUP = "group", "A group"
        OBJECT = "object", "One object"

    farm = models.ForeignKey(Farm, on_delete=models.CASCADE, related_name="alert_rules")
    # A kind registered by a domain (ethdash.registry.alert_kinds()); checked by the forms and
    # the API, not by a choices list, which would tie this app to the domains.
    kind = models.CharField(max_length=40)
    name = models.CharField(max_length=120, blank=True)
    target = models.CharField(max_length=10, choices=Target.choices, default=Target.ALL)
    target_id = models.PositiveBigIntegerField(null=True, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    # How far past the threshold, back on the good side, a value must go to resolve.
    hysteresis = models.FloatField(null=True, blank=True)
    # Grace: the condition must hold this long ("for N minutes")...
    grace_s = models.PositiveIntegerField(default=0)
    # ...and in this many consecutive evaluations ("N consecutive epochs").
    grace_count = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    window_s = models.PositiveIntegerField(null=True, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    enabled = models.BooleanField(default=True)
    channels = models.ManyToManyField(NotificationChannel, blank=True, related_name="rules")
    # No second message about the same object within this many seconds of the last.
    cooldown_s = models.PositiveIntegerField(default=0)
    # At most this many messages a UTC day for the rule; the rest are recorded, not sent.
    daily_cap = models.PositiveIntegerField(default=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "pk"]

    def __str__(self):
        return self.name or self.kind


class Alert(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending (within its grace)"
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    farm = models.ForeignKey(Farm, on_delete=models.CASCADE, related_name="alerts")
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=40)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    object_type = models.CharField(max_length=30)
    object_id = models.PositiveBigIntegerField()
    object_name = models.CharField(max_length=200)
    url = models.CharField(max_length=300, blank=True)
    state = models.CharField(max_length=10, choices=State.choices)
    event = models.BooleanField(default=False)
    # What makes an alert one of a kind while it matters: "<object id>" while pending or open
    # (None once resolved), "<object id>:<key>" for an event, kept. Unique per rule, so two
    # workers evaluating the same store open one alert, whoever is first.
    dedupe = models.CharField(max_length=200, null=True, blank=True)
    seen_at = models.DateTimeField()
    streak = models.PositiveIntegerField(default=1)
    opened_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    muted_until = models.DateTimeField(null=True, blank=True)
    # The value that tripped it (kept), and the one it resolved at: None when the object was no
    # longer observed (deleted, or no longer what the kind watches).
    value = models.FloatField(null=True, blank=True)
    resolved_value = models.FloatField(null=True, blank=True)
    message = models.CharField(max_length=500)

    class Meta:
        ordering = ["-opened_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "dedupe"], name="alert_unique_rule_dedupe")
        ]
        indexes = [
            models.Index(fields=["farm", "state", "-opened_at"], name="alert_farm_state"),
            models.Index(fields=["farm", "object_type", "object_id"], name="alert_farm_object"),
        ]

    def __str__(self):
        return self.message


class Notification(models.Model):
    """One message to send (or sent) to one channel about one change of an alert: the outbox
    the delivery task works through, and the record of what was sent."""

    class Change(models.TextChoices):
        OPENED = "opened", "Opened"
        RESOLVED = "resolved", "Resolved"
        EVENT = "event", "Event"
        TEST = "test", "Test"

    farm = models.ForeignKey(Farm, on_delete=models.CASCADE, related_name="notifications")
    alert = models.ForeignKey(
        Alert, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    channel = models.ForeignKey(
        NotificationChannel, on_delete=models.CASCADE, related_name="notifications"
    )
    change = models.CharField(max_length=10, choices=Change.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Several notifications sent as one digest message share its id.
    digest = models.UUIDField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    # Why it was not sent: "muted", "cap", "cooldown", "channel failing" (kept, for the record).
    suppressed = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["farm", "sent_at"], name="notification_farm_sent")]
        constraints = [
            models.UniqueConstraint(
                fields=["alert", "channel", "change"],
                condition=Q(alert__isnull=False),
                name="notification_once_per_change",
            )
        ]

    def __str__(self):
        return f"{self.change} -> {self.channel}"
