from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from ethdash.db import bulk_update_columns, update_by_pk
from rigs.models import Rig
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


def test_base_unit_amounts_stay_exact_past_2_to_the_63(alpha):
    from pools.models import Payout

    huge = 123_456_789_012_345_678_901_234_567  # 123 million ETH in wei: past 2^63 and 15 digits
    Payout.objects.create(
        account=alpha.pool_account, tx_hash="0x" + "1" * 64, amount=huge, paid_at=timezone.now()
    )
    assert Payout.objects.get().amount == Decimal(huge)
    assert Payout.objects.filter(amount=huge).exists()
