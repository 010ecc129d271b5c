"""Pool figures are finite floats: existing rows are repaired, then CHECK constraints keep it so.

A pool's answer may carry a number JSON parses as infinity (1e400), or hashrates whose sum
overflows; stored, such a figure breaks every JSON answer and chart that reads it. The pool
formats now refuse them (pools.formats.values) and these constraints (ethdash.db.finite_check)
refuse them from any writer. Repair: each figure that is NaN or ±infinity (on PostgreSQL; SQLite
stores NaN as NULL, so only infinities are found there) becomes NULL, no reading; the rows keep
their other figures (shares, workers, payouts), which are not floats.
"""

from django.db import migrations, models

# Beyond every finite figure a pool reports; on PostgreSQL NaN compares above it too.
BOUND = 1e300

TABLES = {
    "PoolAccount": [
        "current_hashrate_hs", "average_hashrate_hs", "reported_hashrate_hs",
        "measured_hashrate_hs", "effective_ratio",
    ],
    "PoolSample": ["current_hashrate_hs", "average_hashrate_hs", "reported_hashrate_hs"],
    "PoolWorker": ["current_hashrate_hs", "average_hashrate_hs", "reported_hashrate_hs"],
    "PoolWorkerSample": ["current_hashrate_hs", "reported_hashrate_hs"],
    "PoolStatsSample": [
        "pool_hashrate_hs", "effort", "network_hashrate_hs", "network_difficulty",
    ],
}  # fmt: skip


def repair_non_finite(apps, schema_editor):
    """Sets every non-finite figure of the tables above to NULL. Returns {model: nulled}."""
    done = {}
    for name, columns in TABLES.items():
        model = apps.get_model("pools", name)
        nulled = 0
        for column in columns:
            bad = models.Q(**{f"{column}__gt": BOUND}) | models.Q(**{f"{column}__lt": -BOUND})
            nulled += model.objects.filter(bad).update(**{column: None})
        done[name] = nulled
    if schema_editor.connection.vendor == "postgresql":
        # PostgreSQL alters no table with deferred checks pending in this transaction.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    return done


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_currency_help"),
        ("pools", "0012_pool_account_failed_polls"),
        ("rigs", "0009_finite_figures"),
    ]

    operations = [
        migrations.RunPython(repair_non_finite, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="poolaccount",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("current_hashrate_hs__isnull", True),
                        models.Q(
                            ("current_hashrate_hs__gte", -1e300),
                            ("current_hashrate_hs__lte", 1e300),
                        ),
                        _connector="OR",
                    ),
                    models.Q(
                        ("average_hashrate_hs__isnull", True),
                        models.Q(
                            ("average_hashrate_hs__gte", -1e300),
                            ("average_hashrate_hs__lte", 1e300),
                        ),
                        _connector="OR",
                    ),
                    models.Q(
                        ("reported_hashrate_hs__isnull", True),
                        models.Q(
                            ("reported_hashrate_hs__gte", -1e300),
                            ("reported_hashrate_hs__lte", 1e300),
                        ),
                        _connector="OR",
                    ),
                    models.Q(
                        ("measured_hashrate_hs__isnull", True),
                        models.Q(
                            ("measured_hashrate_hs__gte", -1e300),
                            ("measured_hashrate_hs__lte", 1e300),
                        ),
                        _connector="OR",
                    ),
                    models.Q(
                        ("effective_ratio__isnull", True),
                        models.Q(("effective_ratio__gte", -1e300), ("effective_ratio__lte", 1e300)),
                        _connector="OR",
                    ),
                ),
                name="poolaccount_figures_finite",
            ),
        ),
        migrations.AddConstraint(
            model_name="poolsample",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("current_hashrate_hs__isnull", True),
                        models.Q(
                            ("current_hashrate_hs__gte", -1e300),
                            ("current_hashrate_hs__lte", 1e300),
                        ),
                        _connector="OR",
                    ),
                    models.Q(
                        ("average_hashrate_hs__isnull", True),
                        models.Q(
                            ("average_hashrate_hs__gte", -1e300),
                            ("average_hashrate_hs__lte", 1e300),
                        ),
                        _connector="OR",
                    ),
                    models.Q(
                        ("reported_hashrate_hs__isnull", True),
                        models.Q(
                            ("reported_hashrate_hs__gte", -1e300),
                            ("reported_hashrate_hs__lte", 1e300),
                        ),
                        _connector="OR",
                    ),
                ),
                name="poolsample_finite",
            ),
        ),
        migrations.AddConstraint(
            model_name="poolstatssample",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("pool_hashrate_hs__isnull", True),
                        models.Q(
                            ("pool_hashrate_hs__gte", -1e300), ("pool_hashrate_hs__lte", 1e300)
                        ),
                        _connector="OR",
                    ),
                    models.Q(
                        ("effort__isnull", True),
                        models.Q(("effort__gte", -1e300), ("effort__lte", 1e300)),
                        _connector="OR",
                    ),
                    models.Q(
                        ("network_hashrate_hs__isnull", True),
                        models.Q(
                            ("network_hashrate_hs__gte", -1e300),
                            ("network_hashrate_hs__lte", 1e300),
                        ),
                        _connector="OR",
                    ),
                    models.Q(
                        ("network_difficulty__isnull", True),
                        models.Q(
                            ("network_difficulty__gte", -1e300), ("network_difficulty__lte", 1e300)
                        ),
                        _connector="OR",
                    ),
                ),
                name="poolstatssample_finite",
            ),
        ),
        migrations.AddConstraint(
            model_name="poolworker",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("current_hashrate_hs__isnull", True),
                        models.Q(
                            ("current_hashrate_hs__gte", -1e300),
                            ("current_hashrate_hs__lte", 1e300),
                        ),
                        _connector="OR",
                    ),
                    models.Q(
                        ("average_hashrate_hs__isnull", True),
                        models.Q(
                            ("average_hashrate_hs__gte", -1e300),
                            ("average_hashrate_hs__lte", 1e300),
                        ),
                        _connector="OR",
                    ),
                    models.Q(
                        ("reported_hashrate_hs__isnull", True),
                        models.Q(
                            ("reported_hashrate_hs__gte", -1e300),
                            ("reported_hashrate_hs__lte", 1e300),
                        ),
                        _connector="OR",
                    ),
                ),
                name="poolworker_figures_finite",
            ),
        ),
        migrations.AddConstraint(
            model_name="poolworkersample",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("current_hashrate_hs__isnull", True),
                        models.Q(
                            ("current_hashrate_hs__gte", -1e300),
                            ("current_hashrate_hs__lte", 1e300),
                        ),
                        _connector="OR",
                    ),
                    models.Q(
                        ("reported_hashrate_hs__isnull", True),
                        models.Q(
                            ("reported_hashrate_hs__gte", -1e300),
                            ("reported_hashrate_hs__lte", 1e300),
                        ),
                        _connector="OR",
                    ),
                ),
                name="poolworkersample_finite",
            ),
        ),
    ]
