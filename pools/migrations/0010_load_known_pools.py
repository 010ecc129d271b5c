"""Loads pools/known_pools.json into the known pools table. Later edits of the file are loaded
with `manage.py load_known_pools` (docs/deploy.md, "Upgrading").

The loader is frozen here, as every migration's code must be: it uses the historical KnownPool
of this point in the migrations and a copy of the fields it had then, never the app's live
loader, so a field added to KnownPool later (or a key added to the file) cannot break a fresh
install at this step. The file is read as it is at migrate time: keys it has that this model
lacks are ignored, and the later loads fill them in. The file's checks (formats, addresses) are
the live loader's and its tests'; this step only copies the shipped entries."""

import json
from pathlib import Path

from django.db import migrations

KNOWN_POOLS_FILE = Path(__file__).resolve().parent.parent / "known_pools.json"
# KnownPool's fields from the file as of 0009, besides `key` and `rate_limit`.
FIELDS = ("name", "api_format", "base_url", "pool_id", "coin", "coin_decimals", "chain_id",
          "website", "source")  # fmt: skip


def load(apps, schema_editor, path=KNOWN_POOLS_FILE):
    model = apps.get_model("pools", "KnownPool")
    columns = {field.name for field in model._meta.concrete_fields}
    for entry in json.loads(Path(path).read_text())["pools"]:
        limit = entry.get("rate_limit") or (None, None)
        values = {field: entry[field] for field in FIELDS if field in entry}
        values |= {"rate_limit_requests": limit[0], "rate_limit_window_s": limit[1]}
        # An empty value takes the model's default ("" for text, 18 decimals, no chain id).
        values = {k: v for k, v in values.items() if k in columns and v not in (None, "")}
        model.objects.update_or_create(key=entry["key"], defaults=values)


class Migration(migrations.Migration):
    dependencies = [("pools", "0009_known_pools_pool_stats_waiting_accounts")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
