"""Loads pools/known_pools.json into the known pools table. Later edits of the file are loaded
with `manage.py load_known_pools`."""

from django.db import migrations


def load(apps, schema_editor):
    from pools.services.known import load_known_pools

    load_known_pools(model=apps.get_model("pools", "KnownPool"))


class Migration(migrations.Migration):
    dependencies = [("pools", "0009_known_pools_pool_stats_waiting_accounts")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
