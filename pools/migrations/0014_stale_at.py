"""Pool accounts read "stale" when no poll has answered for 3 poll intervals (stale_at, set at
each answer; PoolAccount.current_status). Accounts polled before this get their stale_at from
their last answer, so a worker that is already down does not leave them reading OK."""

from datetime import timedelta

from django.db import migrations, models

# The formats' default poll intervals (pools.formats.<format>.DEFAULT_INTERVAL_S) when this was
# written: a migration does not read code that may change after it.
DEFAULT_INTERVAL_S = {
    "open-ethereum-pool": 120,
    "miningcore": 120,
    "ethermine-v1": 180,
    "nanopool-v1": 120,
}
STALE_AFTER_POLLS = 3


def backfill(apps, schema_editor):
    PoolAccount = apps.get_model("pools", "PoolAccount")
    accounts = PoolAccount.objects.filter(status__in=["ok", "waiting"]).select_related("pool")
    for account in accounts.iterator():
        answered = account.last_success_at if account.status == "ok" else account.last_poll_at
        if answered is None:
            continue
        pool = account.pool
        interval_s = pool.poll_interval_s or DEFAULT_INTERVAL_S.get(pool.api_format, 120)
        stale_at = answered + timedelta(seconds=interval_s * STALE_AFTER_POLLS)
        PoolAccount.objects.filter(pk=account.pk).update(stale_at=stale_at)


class Migration(migrations.Migration):
    dependencies = [
        ("pools", "0013_finite_figures"),
    ]

    operations = [
        migrations.AddField(
            model_name="poolaccount",
            name="stale_at",
            field=models.DateTimeField(
                blank=True,
                help_text="Stale if the pool has not answered before this time.",
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="poolaccount",
            name="status",
            field=models.CharField(
                choices=[
                    ("new", "New (never polled)"),
                    ("ok", "OK"),
                    ("waiting", "Waiting for first shares"),
                    ("error", "Error"),
                    ("stale", "Stale (not polled lately)"),
                ],
                default="new",
                max_length=10,
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
