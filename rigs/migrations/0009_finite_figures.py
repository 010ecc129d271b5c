"""Rig figures are finite floats: existing rows are repaired, then CHECK constraints keep it so.

Before this, a figure could overflow to infinity after its range check (a Hive OS `hs` of 1e306
in `ths` is 1e318 H/s: infinity), and was stored, copied into rollups that are never purged, and
from then on every JSON answer and chart reading it failed (JSON has no infinity). What repair
does, in every table a reading reaches, for each value that is NaN or ±infinity (on PostgreSQL;
SQLite stores NaN as NULL, so only infinities are found there):

- a GPU or rig sample whose hashrate is not finite is deleted: a sample is its hashrate, and
  there is no figure to put in its place;
- a rollup whose hashrate (avg, min, max or last) is not finite is deleted, being garbage as a
  whole, and its rig's rollups are marked stale from that bucket on
  (Rig.rollups_stale_from), so the next rollup run rebuilds them from the samples left;
- any other figure that is not finite (temperature, power, fan; a rig's or GPU's newest
  figures and 24-hour median) becomes NULL: no reading, which is what it was.

Then each table gets a CHECK constraint (ethdash.db.finite_check) that refuses NaN and
infinities from any writer. The repair reads only the rows that are not finite.
"""

from django.db import migrations, models

# Beyond every finite figure a rig can report; on PostgreSQL NaN compares above it too.
BOUND = 1e300

TABLES = {
    # model: (float columns, the ones whose non-finite value makes the row garbage)
    "Rig": (
        [
            "hashrate_median_24h_hs",
            "hashrate_hs",
            "hashrate_reported_hs",
            "hashrate_devices_hs",
            "power_w",
            "temperature_max_c",
        ],
        [],
    ),
    "Gpu": (["hashrate_hs", "temperature_c", "memory_temperature_c", "fan_pct", "power_w"], []),
    "GpuSample": (
        ["hashrate_hs", "temperature_c", "memory_temperature_c", "fan_pct", "power_w"],
        ["hashrate_hs"],
    ),
    "RigSample": (
        [
            "hashrate_hs",
            "hashrate_reported_hs",
            "hashrate_devices_hs",
            "power_w",
            "temperature_max_c",
        ],
        ["hashrate_hs"],
    ),
    "GpuRollup": (
        [
            "hashrate_avg",
            "hashrate_min",
            "hashrate_max",
            "hashrate_last",
            "power_avg",
            "power_min",
            "power_max",
            "power_last",
            "temperature_avg",
            "temperature_min",
            "temperature_max",
            "temperature_last",
            "fan_avg",
        ],
        ["hashrate_avg", "hashrate_min", "hashrate_max", "hashrate_last"],
    ),
    "RigRollup": (
        [
            "hashrate_avg",
            "hashrate_min",
            "hashrate_max",
            "hashrate_last",
            "power_avg",
            "power_min",
            "power_max",
            "power_last",
            "temperature_max_avg",
            "temperature_max_max",
        ],
        ["hashrate_avg", "hashrate_min", "hashrate_max", "hashrate_last"],
    ),
}
# Where a rollup's rig is.
ROLLUP_RIG = {"GpuRollup": "gpu__rig_id", "RigRollup": "rig_id"}


def not_finite(*columns):
    condition = models.Q(pk__in=[])
    for column in columns:
        condition |= models.Q(**{f"{column}__gt": BOUND}) | models.Q(**{f"{column}__lt": -BOUND})
    return condition


def repair_non_finite(apps, schema_editor):
    """Deletes the rows that are garbage and sets every other non-finite figure to NULL (the
    module's docstring says which and why). Returns {model: (deleted, figures nulled)}."""
    Rig = apps.get_model("rigs", "Rig")
    done = {}
    for name, (columns, garbage_if) in TABLES.items():
        model = apps.get_model("rigs", name)
        deleted = 0
        if garbage_if:
            garbage = model.objects.filter(not_finite(*garbage_if))
            if name in ROLLUP_RIG:
                # The rollups deleted are rebuilt from the rig's samples by the next run.
                stale = garbage.values(ROLLUP_RIG[name]).annotate(oldest=models.Min("ts"))
                for row in stale:
                    rig = Rig.objects.get(pk=row[ROLLUP_RIG[name]])
                    if rig.rollups_stale_from is None or row["oldest"] < rig.rollups_stale_from:
                        Rig.objects.filter(pk=rig.pk).update(rollups_stale_from=row["oldest"])
            deleted = garbage.delete()[0]
        nulled = 0
        for column in columns:
            nulled += model.objects.filter(not_finite(column)).update(**{column: None})
        done[name] = (deleted, nulled)
    if schema_editor.connection.vendor == "postgresql":
        # The deferred foreign-key checks of the rows changed above run now: PostgreSQL alters
        # no table with checks pending, and the constraints are added in this transaction.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    return done


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_currency_help"),
        ("rigs", "0008_hive_config"),
    ]

    operations = [
        migrations.RunPython(repair_non_finite, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="gpu",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("hashrate_hs__isnull", True),
                        models.Q(("hashrate_hs__gte", -1e300), ("hashrate_hs__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("temperature_c__isnull", True),
                        models.Q(("temperature_c__gte", -1e300), ("temperature_c__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("memory_temperature_c__isnull", True),
                        models.Q(
                            ("memory_temperature_c__gte", -1e300),
                            ("memory_temperature_c__lte", 1e300),
                        ),
                        _connector="OR",
                    ),
                    models.Q(
                        ("fan_pct__isnull", True),
                        models.Q(("fan_pct__gte", -1e300), ("fan_pct__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("power_w__isnull", True),
                        models.Q(("power_w__gte", -1e300), ("power_w__lte", 1e300)),
                        _connector="OR",
                    ),
                ),
                name="gpu_figures_finite",
            ),
        ),
        migrations.AddConstraint(
            model_name="gpurollup",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("hashrate_avg__isnull", True),
                        models.Q(("hashrate_avg__gte", -1e300), ("hashrate_avg__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("hashrate_min__isnull", True),
                        models.Q(("hashrate_min__gte", -1e300), ("hashrate_min__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("hashrate_max__isnull", True),
                        models.Q(("hashrate_max__gte", -1e300), ("hashrate_max__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("hashrate_last__isnull", True),
                        models.Q(("hashrate_last__gte", -1e300), ("hashrate_last__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("power_avg__isnull", True),
                        models.Q(("power_avg__gte", -1e300), ("power_avg__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("power_min__isnull", True),
                        models.Q(("power_min__gte", -1e300), ("power_min__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("power_max__isnull", True),
                        models.Q(("power_max__gte", -1e300), ("power_max__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("power_last__isnull", True),
                        models.Q(("power_last__gte", -1e300), ("power_last__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("temperature_avg__isnull", True),
                        models.Q(("temperature_avg__gte", -1e300), ("temperature_avg__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("temperature_min__isnull", True),
                        models.Q(("temperature_min__gte", -1e300), ("temperature_min__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("temperature_max__isnull", True),
                        models.Q(("temperature_max__gte", -1e300), ("temperature_max__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("temperature_last__isnull", True),
                        models.Q(
                            ("temperature_last__gte", -1e300), ("temperature_last__lte", 1e300)
                        ),
                        _connector="OR",
                    ),
                    models.Q(
                        ("fan_avg__isnull", True),
                        models.Q(("fan_avg__gte", -1e300), ("fan_avg__lte", 1e300)),
                        _connector="OR",
                    ),
                ),
                name="gpurollup_finite",
            ),
        ),
        migrations.AddConstraint(
            model_name="gpusample",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("hashrate_hs__isnull", True),
                        models.Q(("hashrate_hs__gte", -1e300), ("hashrate_hs__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("temperature_c__isnull", True),
                        models.Q(("temperature_c__gte", -1e300), ("temperature_c__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("memory_temperature_c__isnull", True),
                        models.Q(
                            ("memory_temperature_c__gte", -1e300),
                            ("memory_temperature_c__lte", 1e300),
                        ),
                        _connector="OR",
                    ),
                    models.Q(
                        ("fan_pct__isnull", True),
                        models.Q(("fan_pct__gte", -1e300), ("fan_pct__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("power_w__isnull", True),
                        models.Q(("power_w__gte", -1e300), ("power_w__lte", 1e300)),
                        _connector="OR",
                    ),
                ),
                name="gpusample_finite",
            ),
        ),
        migrations.AddConstraint(
            model_name="rig",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("hashrate_median_24h_hs__isnull", True),
                        models.Q(
                            ("hashrate_median_24h_hs__gte", -1e300),
                            ("hashrate_median_24h_hs__lte", 1e300),
                        ),
                        _connector="OR",
                    ),
                    models.Q(
                        ("hashrate_hs__isnull", True),
                        models.Q(("hashrate_hs__gte", -1e300), ("hashrate_hs__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("hashrate_reported_hs__isnull", True),
                        models.Q(
                            ("hashrate_reported_hs__gte", -1e300),
                            ("hashrate_reported_hs__lte", 1e300),
                        ),
                        _connector="OR",
                    ),
                    models.Q(
                        ("hashrate_devices_hs__isnull", True),
                        models.Q(
                            ("hashrate_devices_hs__gte", -1e300),
                            ("hashrate_devices_hs__lte", 1e300),
                        ),
                        _connector="OR",
                    ),
                    models.Q(
                        ("power_w__isnull", True),
                        models.Q(("power_w__gte", -1e300), ("power_w__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("temperature_max_c__isnull", True),
                        models.Q(
                            ("temperature_max_c__gte", -1e300), ("temperature_max_c__lte", 1e300)
                        ),
                        _connector="OR",
                    ),
                ),
                name="rig_figures_finite",
            ),
        ),
        migrations.AddConstraint(
            model_name="rigrollup",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("hashrate_avg__isnull", True),
                        models.Q(("hashrate_avg__gte", -1e300), ("hashrate_avg__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("hashrate_min__isnull", True),
                        models.Q(("hashrate_min__gte", -1e300), ("hashrate_min__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("hashrate_max__isnull", True),
                        models.Q(("hashrate_max__gte", -1e300), ("hashrate_max__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("hashrate_last__isnull", True),
                        models.Q(("hashrate_last__gte", -1e300), ("hashrate_last__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("power_avg__isnull", True),
                        models.Q(("power_avg__gte", -1e300), ("power_avg__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("power_min__isnull", True),
                        models.Q(("power_min__gte", -1e300), ("power_min__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("power_max__isnull", True),
                        models.Q(("power_max__gte", -1e300), ("power_max__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("power_last__isnull", True),
                        models.Q(("power_last__gte", -1e300), ("power_last__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("temperature_max_avg__isnull", True),
                        models.Q(
                            ("temperature_max_avg__gte", -1e300),
                            ("temperature_max_avg__lte", 1e300),
                        ),
                        _connector="OR",
                    ),
                    models.Q(
                        ("temperature_max_max__isnull", True),
                        models.Q(
                            ("temperature_max_max__gte", -1e300),
                            ("temperature_max_max__lte", 1e300),
                        ),
                        _connector="OR",
                    ),
                ),
                name="rigrollup_finite",
            ),
        ),
        migrations.AddConstraint(
            model_name="rigsample",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("hashrate_hs__isnull", True),
                        models.Q(("hashrate_hs__gte", -1e300), ("hashrate_hs__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("hashrate_reported_hs__isnull", True),
                        models.Q(
                            ("hashrate_reported_hs__gte", -1e300),
                            ("hashrate_reported_hs__lte", 1e300),
                        ),
                        _connector="OR",
                    ),
                    models.Q(
                        ("hashrate_devices_hs__isnull", True),
                        models.Q(
                            ("hashrate_devices_hs__gte", -1e300),
                            ("hashrate_devices_hs__lte", 1e300),
                        ),
                        _connector="OR",
                    ),
                    models.Q(
                        ("power_w__isnull", True),
                        models.Q(("power_w__gte", -1e300), ("power_w__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("temperature_max_c__isnull", True),
                        models.Q(
                            ("temperature_max_c__gte", -1e300), ("temperature_max_c__lte", 1e300)
                        ),
                        _connector="OR",
                    ),
                ),
                name="rigsample_finite",
            ),
        ),
    ]
