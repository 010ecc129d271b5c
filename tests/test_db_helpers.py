from datetime import timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from ethdash.db import bulk_update_columns, insert_rows, sums_base_units, update_by_pk
from rigs.models import Rig, RigSample
from tests.factories import make_farm


def test_bulk_update_columns_writes_values_and_nulls_of_every_type(db):
    worlds = [make_farm(f"B{i}") for i in range(3)]
    rigs = [w.rig for w in worlds]
    when = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    rigs[0].hashrate_hs, rigs[0].last_seen_at, rigs[0].miner = 1.5e8, when, "T-Rex"
    rigs[1].hashrate_hs, rigs[1].last_seen_at, rigs[1].miner = None, None, ""
    rigs[2].electricity_price_per_kwh, rigs[2].gpus_reporting = Decimal("0.1234"), 7

    bulk_update_columns(
        rigs,
        ["hashrate_hs", "last_seen_at", "miner", "electricity_price_per_kwh", "gpus_reporting"],
        batch_size=2,
    )

    stored = {r.pk: r for r in Rig.objects.all()}
    assert (stored[rigs[0].pk].hashrate_hs, stored[rigs[0].pk].last_seen_at) == (1.5e8, when)
    assert stored[rigs[0].pk].miner == "T-Rex"
    assert stored[rigs[1].pk].hashrate_hs is None and stored[rigs[1].pk].last_seen_at is None
    assert stored[rigs[2].pk].electricity_price_per_kwh == Decimal("0.1234")
    assert stored[rigs[2].pk].gpus_reporting == 7


def test_update_by_pk_writes_values_and_nulls_of_every_type_in_batches(db):
    worlds = [make_farm(f"U{i}") for i in range(3)]
    pks = [w.rig.pk for w in worlds]
    when = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    update_by_pk(
        Rig,
        pks,
        {
            "hashrate_hs": [1.5e8, None, 2.0],
            "last_seen_at": [when, None, when],
            "miner": ["T-Rex", "", "lolMiner"],
            "electricity_price_per_kwh": [None, None, Decimal("0.1234")],
            "gpus_reporting": [1, 0, 7],
        },
        batch_size=2,
    )
    stored = {r.pk: r for r in Rig.objects.all()}
    assert (stored[pks[0]].hashrate_hs, stored[pks[0]].last_seen_at) == (1.5e8, when)
    assert stored[pks[1]].hashrate_hs is None and stored[pks[1]].last_seen_at is None
    assert stored[pks[2]].miner == "lolMiner" and stored[pks[2]].gpus_reporting == 7
    assert stored[pks[2]].electricity_price_per_kwh == Decimal("0.1234")


def test_update_by_pk_sets_one_value_for_all_rows_and_prepares_values_not_plain(db):
    worlds = [make_farm(f"S{i}") for i in range(3)]
    pks = [w.rig.pk for w in worlds]
    update_by_pk(
        Rig,
        pks,
        # "7" is not an int: the field's own preparation turns it into one (no plain fast path).
        {"gpus_reporting": [1, "7", None], "miner": ["a", "b", "c"]},
        same={"hashrate_hs": 3.0e9, "last_error": ""},
        batch_size=2,
    )
    stored = {r.pk: r for r in Rig.objects.all()}
    assert [stored[pk].gpus_reporting for pk in pks] == [1, 7, None]
    assert [stored[pk].miner for pk in pks] == ["a", "b", "c"]
    assert {stored[pk].hashrate_hs for pk in pks} == {3.0e9}


def test_base_unit_amounts_stay_exact_past_2_to_the_63(alpha):
    from pools.models import Payout

    huge = 123_456_789_012_345_678_901_234_567  # 123 million ETH in wei: past 2^63 and 15 digits
    Payout.objects.create(
        account=alpha.pool_account, tx_hash="0x" + "1" * 64, amount=huge, paid_at=timezone.now()
    )
    assert Payout.objects.get().amount == Decimal(huge)
    assert Payout.objects.filter(amount=huge).exists()


RIG_SAMPLE_COLUMNS = ["rig_id", "ts", "hashrate_hs", "gpus_reporting"]
RIG_SAMPLE_TYPES = ["bigint", "timestamptz", "double precision", "smallint"]


def test_insert_rows_prepares_batches_and_applies_the_conflict_clause(alpha):
    rig, to_db = alpha.rig, connection.ops.adapt_datetimefield_value
    start = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    times = [start + timedelta(seconds=5 * i) for i in range(5)]

    def insert(hashrates, on_conflict=""):
        batches = []

        def prepare(batch):
            batches.append(len(batch))
            return [(rig.pk, to_db(ts), hashrate_hs, 4) for ts, hashrate_hs in batch]

        insert_rows(
            RigSample,
            RIG_SAMPLE_COLUMNS,
            list(zip(times, hashrates, strict=True)),
            prepare=prepare,
            array_types=RIG_SAMPLE_TYPES,
            on_conflict=on_conflict,
            batch_size=2,
        )
        # One slice of the rows at a time: batches of 2 on SQLite, of 10,000 on PostgreSQL.
        assert batches == ([5] if connection.vendor == "postgresql" else [2, 2, 1])
        return list(RigSample.objects.order_by("ts").values_list("hashrate_hs", flat=True))

    assert insert([1.0] * 5) == [1.0] * 5
    # The same natural keys again: DO NOTHING keeps every row, DO UPDATE ... WHERE only some.
    assert insert([2.0] * 5, "ON CONFLICT (rig_id, ts) DO NOTHING") == [1.0] * 5
    table = connection.ops.quote_name(RigSample._meta.db_table)
    upward = (
        "ON CONFLICT (rig_id, ts) DO UPDATE SET hashrate_hs = excluded.hashrate_hs "
        f"WHERE excluded.hashrate_hs > {table}.hashrate_hs"
    )
    assert insert([0.5, 0.5, 0.5, 3.0, 3.0], upward) == [1.0, 1.0, 1.0, 3.0, 3.0]
    assert list(RigSample.objects.order_by("ts").values_list("ts", flat=True)) == times


def test_sums_base_units_says_whether_sql_sums_amounts_exactly(alpha):
    from pools.models import Payout

    huge = 123_456_789_012_345_678_901_234_567  # past 2^63 and 15 significant digits
    for i, amount in enumerate([huge, huge + 1]):
        Payout.objects.create(
            account=alpha.pool_account, tx_hash=f"0x{i:064x}", amount=amount, paid_at=timezone.now()
        )
    total = Payout.objects.aggregate(total=Sum("amount"))["total"]
    assert sums_base_units() == (total == Decimal(2 * huge + 1))
