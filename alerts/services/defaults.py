"""Every farm starts watched: one rule per registered alert kind, with the kind's defaults, as
Hive OS and minerstat switch their standard notifications on for a new account."""

from django.db import transaction
from django.db.models.signals import post_save

from accounts.models import Farm
from alerts.models import AlertRule
from ethdash import registry


def default_rule(farm_id: int, kind) -> AlertRule:
    return AlertRule(
        farm_id=farm_id,
        kind=kind.name,
        threshold=kind.threshold,
        grace_s=kind.grace_s,
        grace_count=kind.grace_count,
        window_s=kind.window_s,
        severity=kind.severity,
        enabled=kind.default_enabled,
    )


def ensure_default_rules(farm_id: int) -> list[AlertRule]:
    """Adds a rule for each kind the farm has none of (a farm made before a kind existed gets
    it too); a kind the farm has a rule of, even a disabled one, is left as the user set it."""
    have = set(AlertRule.objects.filter(farm_id=farm_id).values_list("kind", flat=True))
    rules = [default_rule(farm_id, k) for k in registry.alert_kinds() if k.name not in have]
    return AlertRule.objects.bulk_create(rules)


def _farm_saved(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        transaction.on_commit(lambda: ensure_default_rules(instance.pk))


def connect():
    post_save.connect(_farm_saved, sender=Farm, dispatch_uid="alerts.default_rules")
