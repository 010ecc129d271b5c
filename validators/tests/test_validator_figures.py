"""Validator figures from hand-built day rows with known numbers: income windows, APR on the
summed effective balance (0x02 validators of 2,048 ETH), withdrawals that are not income, a
validator activated mid-window, duty figures and the daily income export."""

import datetime as dt

import pytest

from tests.factories import BeaconNodeFactory, ValidatorDayFactory, ValidatorFactory
from validators.models import Validator
from validators.services.chain import epochs_per_year
from validators.services.figures import (
    CSV_HEADER,
    combine,
    daily_income_rows,
    figures_by,
    parse_day_range,
    set_figures,
    utc_today,
    validator_figures,
    validator_rows,
)

GWEI = 10**9
EPOCHS_PER_DAY = 225
EPY = epochs_per_year(12, 32)


def beacon_node(farm):
    return BeaconNodeFactory(
        farm=farm, name="node", genesis_time=1_606_824_023, seconds_per_slot=12, slots_per_epoch=32
    )


def validator(farm, index, **extra):
    return ValidatorFactory(farm=farm, index=index, pubkey=f"0x{index:096x}", **extra)


def day_row(v, day, *, effective_eth=32, epochs=EPOCHS_PER_DAY, **fields):
    defaults = {
        "first_epoch": 1000,
        "last_epoch": 1000 + epochs - 1,
        "epochs": epochs,
        "attestations": epochs,  # active all along: an attestation due every epoch
        "start_balance": effective_eth * GWEI,
        "end_balance": effective_eth * GWEI,
        "effective_balance_sum": effective_eth * GWEI * epochs,
    }
    return ValidatorDayFactory(validator=v, day=day, **(defaults | fields))


@pytest.fixture
def farm(alpha):
    beacon_node(alpha.farm)
    return alpha.farm


def days_ago(n):
    return utc_today() - dt.timedelta(days=n)


def test_apr_divides_by_summed_effective_balance_of_a_2048_eth_validator(farm):
    big = validator(farm, 1)  # 0x02 compounding validator
    small = validator(farm, 2)
    for n in range(1, 8):
        day_row(big, days_ago(n), effective_eth=2048, income=5_000_000 * 64)
        day_row(small, days_ago(n), effective_eth=32, income=5_000_000)
    figures = figures_by(Validator.objects.filter(farm=farm))
    # Both earn the same rate on their effective balance, so both have the same APR.
    rate = 5_000_000 / (32 * GWEI * EPOCHS_PER_DAY) * EPY
    assert figures[big.pk].week.apr_consensus == pytest.approx(rate)
    assert figures[small.pk].week.apr_consensus == pytest.approx(rate)
    together = set_figures(Validator.objects.filter(farm=farm))
    assert together.week.income == 6 * 5_000_000 * 65  # days 1-6 ago; day 7 ago is outside
    assert together.week.apr_consensus == pytest.approx(rate)
    # What 32 ETH per validator would give: 32.5 times too high. Never that.
    assert together.week.apr_consensus < rate * 1.001
    assert together.month.income == 7 * 5_000_000 * 65
    assert together.month.effective_balance_sum == 7 * (2048 + 32) * GWEI * EPOCHS_PER_DAY


def test_withdrawal_day_does_not_lower_income(farm):
    v = validator(farm, 3)
    # A partial withdrawal sweeps 0.5 ETH: the balance falls, the stored income stays positive.
    day_row(
        v,
        days_ago(1),
        start_balance=32_500_000_000,
        end_balance=32_003_000_000,
        withdrawals=500_000_000,
        income=3_000_000,
    )
    day_row(v, days_ago(2), deposits=1 * GWEI, income=2_900_000)
    figures = validator_figures(v)
    assert figures.day.income == 3_000_000
    assert figures.day.withdrawals == 500_000_000
    assert figures.week.income == 5_900_000
    assert figures.week.deposits == GWEI
    assert figures.week.apr_consensus > 0


def test_validator_activated_mid_window_has_its_true_rate(farm):
    veteran = validator(farm, 4)
    newcomer = validator(farm, 5)
    for n in range(0, 30):
        day_row(veteran, days_ago(n), income=4_000_000)
    # Activated three days ago, half-way through that day: 112 epochs, then two full days.
    day_row(newcomer, days_ago(2), epochs=112, income=4_000_000 * 112 // 225)
    day_row(newcomer, days_ago(1), income=4_000_000)
    day_row(newcomer, days_ago(0), income=4_000_000)
    figures = figures_by(Validator.objects.filter(farm=farm))
    # 2.5 days of data: enough for a 7-day APR (2 days), its true rate; not for 30 days (7).
    assert figures[newcomer.pk].week.apr_consensus == pytest.approx(
        figures[veteran.pk].week.apr_consensus, rel=1e-3
    )
    assert figures[newcomer.pk].month.epochs == 112 + 2 * 225
    assert figures[newcomer.pk].month.apr is None
    assert figures[newcomer.pk].month.apr_note == "needs 7 days of data, has 2.5 days"
    assert figures[newcomer.pk].month.income == 4_000_000 * 2 + 4_000_000 * 112 // 225


def test_windows_are_utc_days(farm):
    v = validator(farm, 6)
    for n, income in [(0, 1), (1, 10), (6, 100), (7, 1000), (29, 10_000), (30, 100_000)]:
        day_row(v, days_ago(n), income=income)
    figures = validator_figures(v)
    assert figures.today.income == 1
    assert figures.day.income == 10  # the last complete day only
    assert figures.week.income == 111  # today and the 6 days before it
    assert figures.month.income == 11_111  # day 30 ago is outside


def test_execution_income_is_exact_and_kept_apart(farm):
    v = validator(farm, 7)
    big_wei = 123_456_789_012_345_678_901  # more than 2^63 and than a float holds exactly
    day_row(v, days_ago(1), income=3_000_000, execution_income=big_wei, proposals=1)
    day_row(v, days_ago(3), income=3_000_000, execution_income=1)
    figures = validator_figures(v)
    assert figures.day.execution_income == big_wei
    assert figures.week.execution_income == big_wei + 1
    assert figures.week.income_wei == 6_000_000 * GWEI + big_wei + 1
    balance_years = 2 * 32 * GWEI * EPOCHS_PER_DAY / EPY
    assert figures.week.apr_execution == pytest.approx((big_wei + 1) / GWEI / balance_years)
    assert figures.week.apr == pytest.approx(
        figures.week.apr_consensus + figures.week.apr_execution
    )


def test_duty_figures(farm):
    v = validator(farm, 8)
    day_row(
        v,
        days_ago(0),
        attestation_reward=900,
        attestation_ideal=1000,
        attestations=225,
        attestations_missed=2,
        missed_cost=80,
        proposals=1,
        proposals_missed=1,
        proposal_reward=40_000_000,
        sync_duties=100,
        sync_missed=4,
    )
    day_row(v, days_ago(1), attestation_reward=1000, attestation_ideal=1000, attestations=225)
    figures = validator_figures(v)
    assert figures.today.effectiveness == pytest.approx(0.9)
    assert figures.week.effectiveness == pytest.approx(1900 / 2000)
    assert figures.week.attestations_missed == 2
    assert figures.week.missed_cost == 80
    assert (figures.week.proposals, figures.week.proposals_missed) == (1, 1)
    assert figures.today.sync_participation == pytest.approx(0.96)
    assert figures.day.sync_participation is None  # no sync duty that day


def test_no_chain_constants_no_apr(alpha):
    v = validator(alpha.farm, 9)  # the farm has no beacon node
    day_row(v, days_ago(1), income=3_000_000)
    figures = validator_figures(v)
    assert figures.week.income == 3_000_000
    assert figures.week.apr is None


def test_rows_and_combined_totals(farm):
    a, b = validator(farm, 10), validator(farm, 11)
    day_row(a, days_ago(1), income=7, execution_income=5)
    rows = validator_rows(Validator.objects.filter(farm=farm).order_by("index"))
    assert [r.validator.pk for r in rows] == [a.pk, b.pk]
    assert rows[1].figures.week.income == 0 and rows[1].figures.week.apr is None
    total = combine(r.figures for r in rows)
    assert (total.week.income, total.week.execution_income) == (7, 5)
    assert total.week.apr == pytest.approx(rows[0].figures.week.apr)


def test_daily_income_export_rows(farm):
    v = validator(farm, 12)
    day_row(
        v,
        dt.date(2026, 3, 1),
        income=3_100_000,
        execution_income=45_000_000_000_000_001,
        withdrawals=17_000_000,
        end_balance=32_001_000_000,
    )
    day_row(v, dt.date(2026, 3, 2), income=-1_000, end_balance=32_000_999_000)
    rows = list(daily_income_rows(Validator.objects.filter(pk=v.pk)))
    assert len(CSV_HEADER) == len(rows[0])
    assert rows == [
        ["2026-03-01", 12, v.pubkey, 3_100_000, "0.003100000", 45_000_000_000_000_001,
         "0.045000000000000001", 17_000_000, 0, 32_001_000_000, "32.001000000"],
        ["2026-03-02", 12, v.pubkey, -1_000, "-0.000001000", 0, "0.000000000000000000", 0, 0,
         32_000_999_000, "32.000999000"],
    ]  # fmt: skip
    only = list(daily_income_rows(Validator.objects.filter(pk=v.pk), since=dt.date(2026, 3, 2)))
    assert [row[0] for row in only] == ["2026-03-02"]


@pytest.mark.parametrize(
    "params, message",
    [
        ({"from": "2026-13-01"}, "'from' must be a date"),
        ({"to": "yesterday"}, "'to' must be a date"),
        ({"from": "2026-03-02", "to": "2026-03-01"}, "must not be after"),
        ({"from": "20260301"}, "'from' must be a date"),
    ],
)
def test_bad_day_ranges_are_refused(params, message):
    with pytest.raises(ValueError, match=message):
        parse_day_range(params)


def test_day_range_parsed():
    assert parse_day_range({"from": "2026-01-01", "to": ""}) == (dt.date(2026, 1, 1), None)


def test_minutes_of_data_give_income_but_no_apr(farm):
    """One proposal in the first 20 minutes would annualise to thousands of percent: no APR."""
    v = validator(farm, 20)
    day_row(v, days_ago(0), epochs=3, income=60_000_000, proposal_reward=59_000_000, proposals=1)
    figures = validator_figures(v)
    for window in (figures.today, figures.week, figures.month):
        assert window.income == 60_000_000
        assert (window.apr, window.apr_consensus, window.apr_execution) == (None, None, None)
    assert figures.week.covered_s == 3 * 384
    assert figures.week.apr_note == "needs 2 days of data, has 0.3 h"
    assert figures.today.apr_note == "needs a full day of data: see 24 h"
    totals = set_figures(Validator.objects.filter(farm=farm))
    assert totals.week.income == 60_000_000 and totals.week.apr is None


def test_apr_once_the_data_covers_the_window_minimum(farm):
    v = validator(farm, 21)
    # Exactly 2 days of active epochs (450 × 384 s): the 7-day APR is given, to the exact figure.
    day_row(v, days_ago(2), income=4_000_000, execution_income=3 * 10**16)
    day_row(v, days_ago(1), income=5_000_000)
    figures = validator_figures(v)
    balance_years = 32 * GWEI * 2 * EPOCHS_PER_DAY / EPY
    assert figures.week.covered_s == 2 * 86_400
    assert figures.week.apr_consensus == 9_000_000 / balance_years
    assert figures.week.apr_execution == 3 * 10**16 / GWEI / balance_years
    assert figures.week.apr_note == ""
    # A complete UTC day is enough for the 24-hour window; 30 days need 7.
    assert figures.day.apr_consensus == 5_000_000 / (32 * GWEI * EPOCHS_PER_DAY / EPY)
    assert figures.month.apr is None and figures.month.income == 9_000_000


def test_a_sets_span_is_its_longest_followed_member_day_by_day(farm):
    veteran, newcomer = validator(farm, 22), validator(farm, 23)
    day_row(veteran, days_ago(2), income=4_000_000)
    day_row(veteran, days_ago(1), income=4_000_000)
    day_row(newcomer, days_ago(1), epochs=10, income=100_000)
    together = set_figures(Validator.objects.filter(farm=farm))
    # Two days, not 2 + 10 epochs: members side by side do not lengthen the span.
    assert together.week.covered_s == 2 * 86_400
    balance_years = 32 * GWEI * (2 * EPOCHS_PER_DAY + 10) / EPY
    assert together.week.apr_consensus == 8_100_000 / balance_years
    rows = validator_rows(Validator.objects.filter(farm=farm).order_by("index"))
    assert rows[1].figures.week.apr is None  # the newcomer alone: 10 epochs
    assert combine(r.figures for r in rows).week.covered_s == 2 * 86_400
