"""Alert rules, alerts and where they are delivered. Evaluation and delivery come with the alerts
issue; the models are here so that later work adds fields rather than restructuring."""

from django.db import models

from accounts.models import Farm


class NotificationChannel(models.Model):
    class Kind(models.TextChoices):
        EMAIL = "email", "E-mail"
        TELEGRAM = "telegram", "Telegram"
        DISCORD = "discord", "Discord"
        WEBHOOK = "webhook", "Webhook"

    farm = models.ForeignKey(Farm, on_delete=models.CASCADE, related_name="notification_channels")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=120)
    target = models.CharField(max_length=500, help_text="Address, chat id or URL.")

    def __str__(self):
        return f"{self.name} ({self.kind})"


class AlertRule(models.Model):
    class Kind(models.TextChoices):
        RIG_OFFLINE = "rig_offline", "Rig offline"
        HASHRATE_DROP = "hashrate_drop", "Hashrate drop"
        GPU_TEMPERATURE = "gpu_temperature", "GPU temperature"

    farm = models.ForeignKey(Farm, on_delete=models.CASCADE, related_name="alert_rules")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    threshold = models.FloatField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    channels = models.ManyToManyField(NotificationChannel, blank=True)

    def __str__(self):
        return f"{self.get_kind_display()} ({self.farm})"


class Alert(models.Model):
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    subject = models.CharField(max_length=200)
    opened_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]

    def __str__(self):
        return self.subject
