"""Validator pages, CSV exports and the read API: they render with data and empty, carry the
live chart, scope to the user's farms, export exact CSV, refuse bad dates, and cost a bounded
number of queries however many validators a farm has."""

import csv
import datetime as dt
import io

import pytest
from django.db import connection

from tests import test_browser
from tests.factories import (
    BeaconNodeFactory,
    EpochSummaryFactory,
    ProposalFactory,
    StatusChangeFactory,
    SyncDutyFactory,
    ValidatorDayFactory,
    ValidatorEpochFactory,
    ValidatorFactory,
    ValidatorGroupFactory,
    ValidatorSyncFactory,
    WithdrawalFactory,
)
from validators.models import Validator, ValidatorDay
from validators.services.chain import Flag
from validators.services.figures import CSV_HEADER, utc_today

GWEI = 10**9
# The browser test's fixtures: a live server in this process and Playwright's Chromium.
server = test_browser.server
playwright_api = test_browser.playwright_api


def days_ago(n):
    return utc_today() - dt.timedelta(days=n)


def day_row(v, day, **fields):
    defaults = {
        "first_epoch": 1000, "last_epoch": 1224, "epochs": 225, "start_balance": 32 * GWEI,
        "end_balance": 32 * GWEI, "effective_balance_sum": 32 * GWEI * 225,
        "attestation_reward": 2_000_000, "attestation_ideal": 2_000_000, "attestations": 225,
    }  # fmt: skip
    return ValidatorDayFactory(validator=v, day=day, **(defaults | fields))


@pytest.fixture
def staked(alpha):
    """Alpha with a ready beacon node, a group, a validator with a proposal (MEV payment and a
    relay claiming more), an imperfect epoch, a sync period, a withdrawal and a status change."""
    farm = alpha.farm
    BeaconNodeFactory(
        farm=farm, name="lighthouse-1", health="ready", head_slot=3_200_100, sync_distance=0,
        genesis_time=1_606_824_023, seconds_per_slot=12, slots_per_epoch=32,
    )  # fmt: skip
    ValidatorSyncFactory(farm=farm, next_epoch=99_990, head_epoch=100_001)
    group = ValidatorGroupFactory(farm=farm, name="Lido set")
    v = ValidatorFactory(
        farm=farm, index=424242, pubkey="0x" + "a1" * 48, label="home staker", group=group,
        status="active_ongoing", balance=32_010_000_000, effective_balance=32 * GWEI,
        last_duty="attested", last_duty_epoch=100_000,
    )  # fmt: skip
    day_row(v, days_ago(1), income=3_000_000, execution_income=45_000_000_000_000_001,
            proposals=1, withdrawals=17_000_000)  # fmt: skip
    day_row(v, days_ago(0), income=1_000_000)
    ProposalFactory(
        validator=v, slot=3_200_000, epoch=100_000, outcome="proposed", consensus_reward=41_000_000,
        execution="done", priority_fees=5_000_000_000_000_001, mev_payment=40_000_000_000_000_000,
        execution_reward=45_000_000_000_000_001, relay="flashbots",
        relay_value=41_000_000_000_000_000, relay_mismatch=True,
    )  # fmt: skip
    ProposalFactory(validator=v, slot=3_100_000, epoch=96_875, outcome="missed")
    ValidatorEpochFactory(
        validator=v, epoch=99_999, income=-9_000, head=0, target=-5_000, source=-4_000,
        inactivity=0, ideal_head=3_000, ideal_target=5_000, ideal_source=4_000,
        flags=Flag.MISSED | Flag.NEGATIVE,
    )  # fmt: skip
    SyncDutyFactory(validator=v, period=1300, from_epoch=99_840, until_epoch=100_095,
                    slots=500, missed=3, reward=9_000_000)  # fmt: skip
    WithdrawalFactory(validator=v, withdrawal_index=77, slot=3_199_999, epoch=99_999,
                      address="0x" + "b2" * 20, amount=17_000_000)  # fmt: skip
    StatusChangeFactory(validator=v, epoch=90_000, status="active_ongoing")
    EpochSummaryFactory(farm=farm, epoch=99_999, validators=1, active=1, income=13_337)
    EpochSummaryFactory(farm=farm, epoch=100_000, validators=1, active=1, income=14_000)
    alpha.validator, alpha.group = v, group
    return alpha


def test_list_page_with_data(owner_client, staked):
    page = owner_client.get("/validators/").content.decode()
    assert "lighthouse-1" in page and "Ready" in page and "3200100" in page
    assert "catching up 12 epochs" in page
    assert "#424242" in page and "home staker" in page and "Lido set" in page
    assert "32.01000" in page  # balance
    assert "0.04800" in page  # 24 h: 0.003 consensus + 0.045 execution
    # Two days of data: the 7-day APR, and for 30 days the reason there is none yet.
    assert "30 d needs 7 days of data, has 2 days" in page and "7 d needs" not in page
    assert 'id="epoch-chart"' in page and "vendor/plotly/plotly.min.js" in page
    assert "js/validators.js" in page and "13337" in page  # chart data from EpochSummary
    filtered = owner_client.get("/validators/?status=exited_unslashed").content.decode()
    assert "#424242" not in filtered
    grouped = owner_client.get(f"/validators/?group={staked.group.pk}&sort=-apr").content.decode()
    assert "#424242" in grouped
    assert "#424242" not in owner_client.get("/validators/?group=none").content.decode()


def test_list_page_empty(owner_client, alpha):
    page = owner_client.get("/validators/").content.decode()
    assert "No beacon node yet" in page
    assert "No validators here yet" in page
    assert 'id="epoch-chart"' in page


def test_validator_page(owner_client, staked):
    response = owner_client.get(f"/validators/{staked.validator.pk}/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "0x" + "a1" * 48 in page
    assert 'id="balance-chart"' in page and 'id="income-chart"' in page
    # Proposals with both rewards, the MEV payment, the relay's claim and its mismatch.
    assert "0.04100" in page and "0.04500" in page and "0.04000" in page
    assert "flashbots" in page and "mismatch" in page
    # Timeline: the imperfect epoch, the missed proposal, the sync period, the withdrawal and
    # the status change.
    assert "attestation missed, negative income" in page
    assert "slot 3100000: missed" in page
    assert "sync committee period 1300" in page
    assert "withdrawal to 0x" + "b2" * 20 in page
    assert "status: Active" in page
    assert f"/validators/{staked.validator.pk}/income.csv" in page


def test_validator_page_without_history(owner_client, alpha):
    v = Validator.objects.create(farm=alpha.farm, pubkey="0x" + "c3" * 48)
    page = owner_client.get(f"/validators/{v.pk}/").content.decode()
    assert "No proposals yet." in page and "Nothing to show" in page


def test_group_page(owner_client, staked):
    page = owner_client.get(f"/validators/groups/{staked.group.pk}/").content.decode()
    assert "Lido set" in page and "#424242" in page
    assert f"/validators/groups/{staked.group.pk}/income.csv" in page
    empty = ValidatorGroupFactory(farm=staked.farm, name="empty")
    assert (
        "No validators in this group."
        in owner_client.get(f"/validators/groups/{empty.pk}/").content.decode()
    )


def _csv(response):
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_income_csv_is_exact(owner_client, staked):
    v = staked.validator
    response = owner_client.get(f"/validators/{v.pk}/income.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="validator-424242-income.csv"' in response["Content-Disposition"]
    rows = _csv(response)
    assert rows == [
        CSV_HEADER,
        [days_ago(1).isoformat(), "424242", v.pubkey, "3000000", "0.003000000",
         "45000000000000001", "0.045000000000000001", "17000000", "0", "32000000000",
         "32.000000000"],
        [days_ago(0).isoformat(), "424242", v.pubkey, "1000000", "0.001000000", "0",
         "0.000000000000000000", "0", "0", "32000000000", "32.000000000"],
    ]  # fmt: skip
    today = days_ago(0).isoformat()
    ranged = owner_client.get(f"/validators/{v.pk}/income.csv?from={today}&to={today}")
    assert [row[0] for row in _csv(ranged)] == ["date", today]
    group = owner_client.get(f"/validators/groups/{staked.group.pk}/income.csv")
    assert _csv(group) == rows


@pytest.mark.parametrize(
    "query", ["from=2026-02-30", "to=tomorrow", "from=2026-03-02&to=2026-03-01", "from=1"]
)
def test_income_csv_refuses_bad_dates(owner_client, staked, query):
    for url in (
        f"/validators/{staked.validator.pk}/income.csv?{query}",
        f"/validators/groups/{staked.group.pk}/income.csv?{query}",
    ):
        response = owner_client.get(url)
        assert response.status_code == 400
        assert "must" in response.content.decode()


def test_pages_need_login(client, staked):
    for url in ("/validators/", f"/validators/{staked.validator.pk}/"):
        assert client.get(url).status_code == 302


def test_lists_show_only_own_farms_validators(api, staked, bravo, intruder_client):
    assert "#424242" not in intruder_client.get("/validators/").content.decode()
    assert "lighthouse-1" not in intruder_client.get("/validators/").content.decode()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {bravo.token('read')}")
    assert api.get("/api/v1/validators/").json()["results"] == []
    assert api.get("/api/v1/validator-groups/").json()["results"] == []


def _many_validators(farm, count, *, group=None, start=500_000):
    """`count` active validators of 32 ETH with indexes from `start`, and three days of day
    rows each (3,000,000 gwei a day, 7 wei of execution income two days ago)."""
    validators = Validator.objects.bulk_create(
        [
            Validator(farm=farm, index=start + i, status="active_ongoing", balance=32 * GWEI,
                      effective_balance=32 * GWEI, group=group if i % 2 else None)
            for i in range(count)
        ]
    )  # fmt: skip
    ValidatorDay.objects.bulk_create(
        [
            ValidatorDay(validator=v, day=days_ago(n), first_epoch=1, last_epoch=2, epochs=225,
                         start_balance=32 * GWEI, end_balance=32 * GWEI,
                         effective_balance_sum=32 * GWEI * 225, income=3_000_000,
                         execution_income=7 if n == 2 else 0)
            for v in validators
            for n in range(3)
        ]
    )  # fmt: skip
    return validators


@pytest.mark.parametrize("count", [50, 250])
def test_list_page_queries_bounded(owner_client, staked, django_assert_max_num_queries, count):
    # The same number of queries for 51 validators (one page) and 251 (three pages): the page is
    # cut in SQL and only its validators' figures are computed. 18 on SQLite: session, user,
    # farms, chain constants, count, the figure order, the page's validators, their sums and
    # execution incomes, the status and balance totals, the farm's sums and execution incomes,
    # the epoch chart, the menu's farms, the header's open-alert count, nodes, syncs and groups
    # (PostgreSQL sums execution incomes in SQL: two fewer).
    _many_validators(staked.farm, count, group=staked.group)
    with django_assert_max_num_queries(18):
        response = owner_client.get("/validators/?sort=-30d")
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count("data-validator=") == min(count + 1, 100)
    if count + 1 > 100:
        assert f"page 1 of 3 ({count + 1} validators)" in page


def _table_indexes(page):
    """The validator indexes of the table's rows, in order."""
    table = page.split('id="validator-table"')[1].split("</table>")[0]
    return [int(cell.split("<")[0]) for cell in table.split('">#')[1:]]


def test_list_pages_and_sorts_in_sql_with_totals_over_all(owner_client, staked):
    farm = staked.farm
    validators = _many_validators(farm, 150)  # indexes 500,000 to 500,149
    # Three with a known order of 30-day income; one without any day row (unknown: last).
    top, second, low = validators[10], validators[20], validators[30]
    # Above the staked validator's 30 days (0.004 ETH consensus, 0.045 ETH execution) and APR.
    ValidatorDay.objects.filter(validator=top).update(income=30_000_000)
    ValidatorDay.objects.filter(validator=second).update(income=26_000_000)
    ValidatorDay.objects.filter(validator=low).update(income=-1_000)
    idle = ValidatorFactory(farm=farm, index=1, status="pending_queued")
    by_index = _table_indexes(owner_client.get("/validators/").content.decode())
    assert by_index[:3] == [1, 424242, 500_000] and len(by_index) == 100
    page2 = _table_indexes(owner_client.get("/validators/?page=2").content.decode())
    assert page2 == list(range(500_098, 500_150))
    richest = _table_indexes(owner_client.get("/validators/?sort=-30d").content.decode())
    assert richest[:2] == [top.index, second.index]
    last = owner_client.get("/validators/?sort=-30d&page=2").content.decode()
    assert _table_indexes(last)[-2:] == [low.index, idle.index]  # unknown last, both ways
    poorest = _table_indexes(owner_client.get("/validators/?sort=30d").content.decode())
    assert poorest[0] == low.index
    upward = owner_client.get("/validators/?sort=30d&page=2").content.decode()
    assert _table_indexes(upward)[-3:] == [second.index, top.index, idle.index]
    # An APR over 30 days needs 7 days of data: only top and second get them; the others (3
    # days, 2 for the staked one) have none, and come last like unknowns.
    ValidatorDay.objects.update(attestations=225)
    ValidatorDay.objects.bulk_create(
        [
            ValidatorDay(validator=v, day=days_ago(n), first_epoch=1, last_epoch=2, epochs=225,
                         attestations=225, start_balance=32 * GWEI, end_balance=32 * GWEI,
                         effective_balance_sum=32 * GWEI * 225, income=0)
            for v in (top, second)
            for n in range(3, 7)
        ]
    )  # fmt: skip
    by_apr = _table_indexes(owner_client.get("/validators/?sort=-apr").content.decode())
    assert by_apr[:3] == [top.index, second.index, 1]
    by_apr_up = owner_client.get("/validators/?sort=apr").content.decode()
    assert _table_indexes(by_apr_up)[:2] == [second.index, top.index]
    assert 'title="needs 7 days of data, has 3 days"' in by_apr_up
    yesterday = _table_indexes(owner_client.get("/validators/?sort=-24h").content.decode())
    if connection.vendor == "postgresql":
        # Yesterday's MEV payment puts the staked validator first; SQLite, where execution
        # amounts are text, orders by consensus income (validators.db.validator_ids_by_day_sums).
        assert yesterday[:3] == [424242, top.index, second.index]
    else:
        assert yesterday[:2] == [top.index, second.index]
    # The tiles count every validator of the farm, not the page's.
    page = owner_client.get("/validators/?page=2&status=pending_queued").content.decode()
    assert '<div class="value">152</div>' in page
    assert "Pending (in the activation queue): 1" in page and "Active: 151" in page
    month_gwei = 3_000_000 * 3 * 147 + (30_000_000 + 26_000_000 - 1_000) * 3 + 4_000_000
    month_wei = month_gwei * GWEI + 7 * 150 + 45_000_000_000_000_001
    assert f"{month_wei / 10**18:,.5f}" in page
    assert _table_indexes(page) == [1]  # the filter applies to the table


def test_list_sorts_by_validator_columns_with_unknown_last(owner_client, staked):
    farm = staked.farm
    ValidatorFactory(farm=farm, index=7, balance=40 * GWEI, label="zz")
    ValidatorFactory(farm=farm, index=8)  # no balance, no label: last both ways
    for sort, expected in [
        ("-balance", [7, 424242, 8]), ("balance", [424242, 7, 8]),
        ("label", [424242, 7, 8]), ("-label", [7, 424242, 8]), ("-index", [424242, 8, 7]),
        ("group", [424242, 7, 8]), ("bogus", [7, 8, 424242]),
    ]:  # fmt: skip
        page = owner_client.get(f"/validators/?sort={sort}").content.decode()
        assert _table_indexes(page) == expected, sort


def test_api_validators_with_figures(api, staked):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {staked.token('read')}")
    listing = api.get("/api/v1/validators/").json()
    assert listing["count"] == 1
    item = listing["results"][0]
    assert item["index"] == 424242 and item["group_name"] == "Lido set"
    last_24h = item["figures"]["last_24h"]
    assert last_24h["consensus_income_gwei"] == 3_000_000
    assert last_24h["execution_income_wei"] == "45000000000000001"
    assert last_24h["income_wei"] == "48000000000000001"
    assert last_24h["withdrawals_gwei"] == 17_000_000
    assert item["figures"]["last_7d"]["apr"] > 0
    # Two days of data: a 7-day APR (needs 2), none over 30 days (needs 7), income always.
    last_30d = item["figures"]["last_30d"]
    assert last_30d["apr"] is None and last_30d["apr_consensus"] is None
    assert last_30d["apr_covered_s"] == 2 * 86_400 and last_30d["apr_min_s"] == 7 * 86_400
    assert last_30d["apr_note"] == "needs 7 days of data, has 2 days"
    assert last_30d["consensus_income_gwei"] == 4_000_000
    assert item["figures"]["last_7d"]["effectiveness"] == 1.0
    v = staked.validator
    detail = api.get(f"/api/v1/validators/{v.pk}/").json()
    assert detail["figures"]["today"]["consensus_income_gwei"] == 1_000_000
    days = api.get(f"/api/v1/validators/{v.pk}/days/").json()["results"]
    assert [d["day"] for d in days] == [days_ago(0).isoformat(), days_ago(1).isoformat()]
    assert days[1]["execution_income"] == "45000000000000001"
    since = days_ago(0).isoformat()
    assert len(api.get(f"/api/v1/validators/{v.pk}/days/?from={since}").json()["results"]) == 1
    assert api.get(f"/api/v1/validators/{v.pk}/days/?from=nope").status_code == 400
    epochs = api.get(f"/api/v1/validators/{v.pk}/epochs/").json()["results"]
    assert epochs[0]["epoch"] == 99_999 and epochs[0]["reasons"] == ["missed", "negative"]
    proposals = api.get(f"/api/v1/validators/{v.pk}/proposals/").json()["results"]
    assert proposals[0]["mev_payment"] == "40000000000000000"
    assert proposals[0]["relay_value"] == "41000000000000000"
    assert proposals[0]["relay_mismatch"] is True
    assert api.get("/api/v1/validators/?status=active_ongoing").json()["count"] == 1
    assert api.get("/api/v1/validators/?status=exited_unslashed").json()["count"] == 0
    assert api.get("/api/v1/validators/?status=bogus").status_code == 400
    groups = api.get("/api/v1/validator-groups/").json()["results"]
    assert groups[0]["name"] == "Lido set" and groups[0]["validators"] == 1
    assert groups[0]["figures"]["last_24h"]["consensus_income_gwei"] == 3_000_000
    one = api.get(f"/api/v1/validator-groups/{staked.group.pk}/").json()
    assert one["figures"]["today"]["consensus_income_gwei"] == 1_000_000


def test_api_needs_read_scope(api, staked):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {staked.token('telemetry')}")
    assert api.get("/api/v1/validators/").status_code == 403


def test_schema_lists_validator_endpoints(owner_client):
    response = owner_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/validators/", "/api/v1/validators/{id}/", "/api/v1/validators/{id}/days/",
        "/api/v1/validators/{id}/epochs/", "/api/v1/validators/{id}/proposals/",
        "/api/v1/validator-groups/", "/api/v1/validator-groups/{id}/",
    ):  # fmt: skip
        assert path in paths


def test_owner_reaches_every_validator_url_that_intruders_cannot(owner_client, alpha):
    # The isolation test's 404s mean something only if the owner gets the object itself.
    from tests.test_isolation import OBJECT_ROUTES, farm_objects, url_of

    objects = farm_objects(alpha)
    routes = [r for r in OBJECT_ROUTES if r.name.startswith("validator") and "GET" in r.methods]
    assert len(routes) >= 9
    for route in routes:
        response = owner_client.get(url_of(route, objects))
        assert response.status_code == 200, route.label


@pytest.mark.browser
def test_list_chart_and_rows_follow_validator_epoch_events(
    transactional_db, staked, server, playwright_api
):
    import threading

    from django.db import connections

    from ethdash import live
    from tests.test_browser import PageErrors, launch, log_in, new_page

    v = staked.validator
    event = {
        "type": "validator.epoch", "farm": staked.farm.pk, "epoch": 100_001,
        "ts": "2026-11-20T12:00:00Z", "income": 15_000, "attestation_reward": 14_000,
        "attestation_ideal": 14_500, "attestations_missed": 1, "proposals": 0,
    }  # fmt: skip

    def store_then_push():
        try:
            Validator.objects.filter(pk=v.pk).update(
                status="active_slashed", balance=31_000_000_000
            )
            live.send_now(staked.farm.pk, [event])
        finally:
            connections.close_all()

    with playwright_api() as p:
        browser = launch(p)
        try:
            page = new_page(browser)
            errors = PageErrors(page)
            with errors.shown_on_failure(page, "validator-list"):
                log_in(page, server.url, staked.owner.username)
                page.goto(f"{server.url}/validators/")
                page.wait_for_selector("#live-status[data-state=live]")
                points = "() => document.getElementById('epoch-chart').data[0].x.length"
                assert page.evaluate(points) == 2
                # As store_epoch does: the epoch's figures are stored, then the event pushed.
                # The page re-reads its rows, so what it shows is what was stored (in a thread:
                # Django refuses ORM calls on Playwright's loop).
                thread = threading.Thread(target=store_then_push)
                thread.start()
                thread.join(timeout=10)
                page.wait_for_function(f"() => ({points})() === 3")
                row = f'tr[data-validator="{v.pk}"]'
                page.wait_for_function(
                    f"() => document.querySelector('{row} [data-field=balance]').textContent"
                    " === '31.00000'"
                )
                assert "Slashed (still active)" in page.text_content(f"{row} [data-field=status]")
                page.goto(f"{server.url}/validators/{v.pk}/")
                charts = (
                    "() => ['balance-chart', 'income-chart']"
                    ".map((id) => document.getElementById(id).data.length)"
                )
                assert page.evaluate(charts) == [1, 2]
            assert errors.errors == []
        finally:
            browser.close()
