"""The validators' SQL (validators.db) gives the same answers on SQLite and PostgreSQL: day sums
with execution income exact past 2^63, per day and per window, for keys that span farms."""

import datetime as dt

from validators.db import sum_days
from validators.models import Validator, ValidatorDay

BIG_WEI = 123_456_789_012_345_678_901  # past 2^63 and 15 significant digits
TODAY = dt.date(2026, 11, 30)
YESTERDAY = TODAY - dt.timedelta(days=1)


def _day(validator, day, *, income, execution_income=0):
    return ValidatorDay.objects.create(
        validator=validator,
        day=day,
        first_epoch=1,
        last_epoch=2,
        epochs=2,
        start_balance=32 * 10**9,
        end_balance=32 * 10**9,
        income=income,
        execution_income=execution_income,
    )


def test_sum_days_sums_execution_income_exactly_per_day_and_per_window(alpha, bravo):
    a = Validator.objects.create(farm=alpha.farm, index=1)
    b = Validator.objects.create(farm=bravo.farm, index=2)
    _day(a, YESTERDAY, income=5, execution_income=BIG_WEI)
    _day(a, TODAY, income=7)
    _day(b, TODAY, income=11, execution_income=BIG_WEI + 1)
    days = ValidatorDay.objects.all()

    # Ungrouped validators of two farms share the key None; each farm keeps its own rows.
    per_day = sum_days(days, ["validator__group_id", "validator__farm_id"])
    found = {
        (row["validator__farm_id"], row["day"]): (row["income"], row.get("execution_income"))
        for row in per_day
    }
    assert {key: (income, int(wei or 0)) for key, (income, wei) in found.items()} == {
        (alpha.farm.pk, YESTERDAY): (5, BIG_WEI),
        (alpha.farm.pk, TODAY): (7, 0),
        (bravo.farm.pk, TODAY): (11, BIG_WEI + 1),
    }

    windows = {"today": (TODAY, TODAY), "both": (YESTERDAY, TODAY)}
    per_window = sum_days(days, ["validator_id", "validator__farm_id"], windows=windows)
    found = {
        row["validator_id"]: {
            name: (row[f"{name}__income"], int(row.get(f"{name}__execution_income") or 0))
            for name in windows
        }
        for row in per_window
    }
    assert found == {
        a.pk: {"today": (7, 0), "both": (12, BIG_WEI)},
        b.pk: {"today": (11, BIG_WEI + 1), "both": (11, BIG_WEI + 1)},
    }
