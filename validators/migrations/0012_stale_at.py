"""Beacon nodes read "silent" when no check has answered for ETHDASH_NODE_SILENT_S (stale_at,
set at each check; BeaconNode.current_health). Nodes checked before this get their stale_at from
their last check, so a worker that is already down does not leave them reading ready."""

from datetime import timedelta

from django.conf import settings
from django.db import migrations, models
from django.db.models import F


def backfill(apps, schema_editor):
    BeaconNode = apps.get_model("validators", "BeaconNode")
    BeaconNode.objects.filter(checked_at__isnull=False).update(
        stale_at=F("checked_at") + timedelta(seconds=settings.ETHDASH_NODE_SILENT_S)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("validators", "0011_alert_lookups"),
    ]

    operations = [
        migrations.AddField(
            model_name="beaconnode",
            name="stale_at",
            field=models.DateTimeField(
                blank=True,
                help_text="Silent if no check has answered before this time.",
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="beaconnode",
            name="health",
            field=models.CharField(
                choices=[
                    ("unknown", "Not checked yet"),
                    ("ready", "Ready"),
                    ("syncing", "Syncing"),
                    ("optimistic", "Optimistic (execution client not validated)"),
                    ("down", "Unreachable or failing"),
                    ("silent", "Not checked lately"),
                ],
                default="unknown",
                max_length=12,
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
