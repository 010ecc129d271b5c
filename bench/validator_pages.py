"""Validator pages benchmark: the list page, a figure sort, a deep page, the read API and a
validator page of a large operator (100,000 validators, 30 UTC days of day rows: 3,000,000
ValidatorDay rows), on PostgreSQL.

    .venv/bin/python bench/validator_pages.py [--validators 100000] [--days 30] [--runs 7]

On PostgreSQL (DATABASE_URL, loopback only; its own database, --db, dropped at the end). The
data is seeded with SQL (generate_series): one farm and its owner, the validators with their
current figures, two groups, the day rows (income about 2,500,000 gwei a day, a few missed
attestations, execution income "0" but on a few proposal days), a beacon node with its chain
constants, the farm's sync cursor and the last 500 epochs' summaries (the live chart).

Each URL is requested by Django's test Client logged in as the owner (the whole stack: URL
resolution, middleware, session, view, template or serializer), once to warm up and then --runs
times, bounded by --budget-s per URL; median and p95 are reported with the number of queries of
one request. The baseline, measured in the same run, is a trivial logged-in page (the API
tokens page), so a slower or busier machine shows in both. The last line is one JSON object.
"""

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402

GWEI = 10**9
EPOCHS_PER_DAY = 225

log = harness.logger("validator-pages")


def parse_args():
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validators", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30, help="UTC days of day rows, today too")
    parser.add_argument("--runs", type=int, default=7, help="timed requests per URL")
    parser.add_argument("--budget-s", type=float, default=120.0, help="time cap per URL")
    args = harness.parse_bench_args(parser, "ethdash_bench_validator_pages")
    if args.validators < 1 or not 1 <= args.days <= 400 or args.runs < 1:
        raise SystemExit("--validators and --runs must be at least 1, --days in [1, 400]")
    return args


def seed(args):
    """The farm, its owner, validators, groups, day rows, node, sync cursor and epoch summaries;
    returns (farm, owner, a validator's pk, the number of day rows)."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from accounts.models import Farm, Membership
    from validators.models import BeaconNode, ValidatorGroup, ValidatorSync
    from validators.services.figures import utc_today

    farm = Farm.objects.create(name="large operator")
    owner = get_user_model().objects.create_user(username="operator", password=None)
    Membership.objects.create(user=owner, farm=farm, role=Membership.Role.OWNER)
    lido = ValidatorGroup.objects.create(farm=farm, name="Lido set")
    solo = ValidatorGroup.objects.create(farm=farm, name="Own stake")
    # Mainnet's genesis and constants; the head is "now", so today's day rows are partial.
    genesis = 1_606_824_023
    head_epoch = int((time.time() - genesis) // (12 * 32))
    BeaconNode.objects.create(
        farm=farm, name="lighthouse-1", url="http://127.0.0.1:5052", health="ready",
        head_slot=head_epoch * 32, sync_distance=0, genesis_time=genesis, seconds_per_slot=12,
        slots_per_epoch=32,
    )  # fmt: skip
    ValidatorSync.objects.create(farm=farm, next_epoch=head_epoch, head_epoch=head_epoch - 1)
    today = utc_today()
    # Epochs of today so far: the day rows of today hold only those.
    today_epochs = max(1, head_epoch - int((_day_start(today) - genesis) // 384))
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # Two groups of a third each, the rest ungrouped; balances spread over 0.1 ETH.
        cursor.execute(
            "INSERT INTO validators_validator (farm_id, index, pubkey, label, group_id, "
            "created_at, status, slashed, withdrawal_credentials, balance, balance_epoch, "
            "effective_balance, activation_epoch, last_duty, last_duty_epoch, is_live, "
            "is_live_epoch, last_error) "
            "SELECT %(farm)s, 1000000 + i, '0x' || lpad(to_hex(1000000 + i), 96, 'a'), "
            "CASE WHEN i %% 50 = 0 THEN 'node ' || (i %% 7) ELSE '' END, "
            "CASE i %% 3 WHEN 0 THEN %(lido)s WHEN 1 THEN %(solo)s END, now(), "
            "'active_ongoing', false, '0x01' || repeat('0', 22) || repeat('b2', 20), "
            "32000000000 + (i * 7919) %% 100000000, %(head)s, 32000000000, 200000, "
            "CASE WHEN i %% 97 = 0 THEN 'attestation missed' ELSE 'attested' END, %(head)s, "
            "true, %(head)s, '' FROM generate_series(0, %(n)s - 1) AS i",
            {"farm": farm.pk, "lido": lido.pk, "solo": solo.pk, "head": head_epoch,
             "n": args.validators},
        )  # fmt: skip
        # One row per validator and day. A full day: 225 epochs, about 2,500,000 gwei of income
        # (varying by validator), 225 attestation duties with a miss on about 1 in 8 days, a
        # proposal (execution income in wei, MEV-sized) on about 1 in 1,500 validator-days.
        cursor.execute(
            "INSERT INTO validators_validatorday (validator_id, day, first_epoch, last_epoch, "
            "epochs, start_balance, end_balance, effective_balance_sum, income, "
            "execution_income, attestation_reward, attestation_ideal, attestations, "
            "attestations_missed, head_missed, target_missed, source_missed, missed_cost, "
            "proposals, proposals_missed, proposals_orphaned, proposal_reward, sync_duties, "
            "sync_missed, sync_reward, withdrawals, deposits) "
            "SELECT v.id, %(today)s::date - d, e.first, e.first + e.n - 1, e.n, v.balance, "
            "v.balance, 32000000000::bigint * e.n, "
            "(2400000 + (v.id * 31 + d * 17) %% 200000 - m.missed * 11000) * e.n / 225, "
            "CASE WHEN (v.id * 13 + d * 7) %% 1500 = 0 "
            "THEN 30000000000000000 + ((v.id * 104729 + d) %% 1000000) * 1000000000007 "
            "ELSE 0 END, "
            "(2300000 - m.missed * 11000) * e.n / 225, 2300000 * e.n / 225, e.n, m.missed, "
            "m.missed, m.missed, m.missed, m.missed * 11000, "
            "CASE WHEN (v.id * 13 + d * 7) %% 1500 = 0 THEN 1 ELSE 0 END, 0, 0, "
            "CASE WHEN (v.id * 13 + d * 7) %% 1500 = 0 THEN 40000000 ELSE 0 END, 0, 0, 0, "
            "CASE WHEN (v.id + d) %% 60 = 0 THEN 2400000000 ELSE 0 END, 0 "
            "FROM validators_validator v CROSS JOIN generate_series(0, %(days)s - 1) AS d "
            "CROSS JOIN LATERAL (SELECT CASE WHEN (v.id * 7 + d * 3) %% 8 = 0 THEN 1 ELSE 0 END "
            "AS missed) m "
            "CROSS JOIN LATERAL (SELECT CASE WHEN d = 0 THEN %(today_epochs)s ELSE 225 END AS n, "
            "%(head)s - d * 225 - 225 AS first) e "
            "WHERE v.farm_id = %(farm)s",
            {"today": today, "days": args.days, "today_epochs": min(225, today_epochs),
             "head": head_epoch, "farm": farm.pk},
        )  # fmt: skip
        cursor.execute(
            "INSERT INTO validators_epochsummary (farm_id, epoch, processed_at, skipped, "
            "validators, active, effective_balance, income, attestation_reward, "
            "attestation_ideal, attestations_missed, head_missed, target_missed, source_missed, "
            "proposals, proposals_missed, proposals_orphaned, sync_reward, sync_missed, "
            "withdrawals, deposits, duration_ms, requests) "
            "SELECT %(farm)s, e, now(), '', %(n)s, %(n)s, 32000000000::bigint * %(n)s, "
            "%(n)s::bigint * 11000, %(n)s::bigint * 10200, %(n)s::bigint * 10222, "
            "%(n)s / 1800, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9000, 300 "
            "FROM generate_series(%(head)s - 500, %(head)s - 1) AS e",
            {"farm": farm.pk, "n": args.validators, "head": head_epoch},
        )  # fmt: skip
        cursor.execute("ANALYZE")
        cursor.execute("SELECT count(*) FROM validators_validatorday")
        day_rows = cursor.fetchone()[0]
        cursor.execute("SELECT min(id) FROM validators_validator WHERE farm_id = %s", [farm.pk])
        first_pk = cursor.fetchone()[0]
    log(f"seeded {args.validators} validators, {day_rows} day rows "
        f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
    return farm, owner, first_pk + args.validators // 2, day_rows


def _day_start(day):
    import datetime as dt

    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


def measure(client, url, runs, budget_s):
    """Warm-up, then up to `runs` timed GETs within `budget_s`; (timings, queries, bytes)."""
    from django.db import connection

    queries = []

    def count(execute, sql, params, many, context):
        # Not CaptureQueriesContext: each request's start clears the connection's query log.
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"GET {url}: {response.status_code}")
    size = len(response.content)
    timings, spent = [], 0.0
    while len(timings) < runs and (spent < budget_s or len(timings) < 2):
        started = time.perf_counter()
        response = client.get(url)
        _ = response.content
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise SystemExit(f"GET {url}: {response.status_code}")
        timings.append(elapsed)
        spent += elapsed
    return timings, len(queries), size


def summary(timings):
    ordered = sorted(timings)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(p95 * 1000, 1),
        "runs": len(ordered),
    }


def main():
    args = parse_args()
    with harness.django_bench_database(args.db, log, keep=args.keep_db):
        measure_pages(args)


def measure_pages(args):
    """Seeds the operator, then times each page and the baseline page around them."""
    from django.test import Client

    _, owner, validator_pk, day_rows = seed(args)
    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(owner)
    urls = {
        "baseline_tokens_page": "/accounts/tokens/",
        "list_default": "/validators/",
        "list_sort_30d": "/validators/?sort=-30d",
        "list_page_50": "/validators/?page=50",
        "api_list": "/api/v1/validators/",
        "validator_detail": f"/validators/{validator_pk}/",
        "baseline_tokens_page_again": "/accounts/tokens/",
    }
    results = {}
    for name, url in urls.items():
        timings, queries, size = measure(client, url, args.runs, args.budget_s)
        results[name] = {"url": url, **summary(timings), "queries": queries, "bytes": size}
        log(f"{name:28} {url:34} median {results[name]['median_ms']:9.1f} ms, p95 "
            f"{results[name]['p95_ms']:9.1f} ms, {queries} queries, {size} bytes")  # fmt: skip
    again = results.pop("baseline_tokens_page_again")
    # The baseline before and after the pages: the better of the two, so that a burst of
    # someone else's work during one of them does not flatter the ratios.
    base_ms = min(results["baseline_tokens_page"]["median_ms"], again["median_ms"])
    for entry in results.values():
        entry["ratio_to_baseline"] = round(entry["median_ms"] / base_ms, 1)
    harness.print_result(
        {
            "bench": "validator_pages",
            "validators": args.validators,
            "days": args.days,
            "day_rows": day_rows,
            "baseline_ms": base_ms,
            "pages": results,
            "nproc": os.cpu_count(),
        }
    )


if __name__ == "__main__":
    main()
