"""Reconciliation: the pool's effective hashrate (what its shares prove) against what the
account's rigs measured themselves. A sustained gap is how dev fees, stale shares and hijacked
rigs show: effective under ETHDASH_POOL_GAP_PCT % of measured, averaged over the last hour, is
flagged on the account (gap_since), and the flag clears when the hour's average recovers."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Avg, Count, Min
from django.utils import timezone

from ethdash.db import bulk_update_columns
from pools.models import PoolAccount, PoolSample, PoolWorker
from rigs.models import RigSample

WINDOW = timedelta(hours=1)
# An hour's average needs samples from (nearly) the start of the hour to mean anything.
COVERAGE_SLACK = timedelta(minutes=10)


def reconcile_accounts(*, now=None):
    """Updates measured hashrate, effective ratio and the gap flag of every account with
    workers matched to rigs. Returns the ids of accounts flagged now."""
    now = now or timezone.now()
    since = now - WINDOW
    rigs_by_account = {}
    for account_id, rig_id in (
        PoolWorker.objects.filter(rig__isnull=False).values_list("account_id", "rig_id").distinct()
    ):
        rigs_by_account.setdefault(account_id, set()).add(rig_id)
    if not rigs_by_account:
        return []
    pool_hour = {
        row["account_id"]: row
        for row in PoolSample.objects.filter(account_id__in=rigs_by_account, ts__gte=since)
        .values("account_id")
        .annotate(effective=Avg("current_hashrate_hs"), first=Min("ts"), n=Count("id"))
    }
    all_rigs = set().union(*rigs_by_account.values())
    rig_hour = dict(
        RigSample.objects.filter(rig_id__in=all_rigs, ts__gte=since)
        .values("rig_id")
        .annotate(avg=Avg("hashrate_hs"))
        .values_list("rig_id", "avg")
    )
    threshold = settings.ETHDASH_POOL_GAP_PCT / 100
    accounts = list(PoolAccount.objects.filter(pk__in=rigs_by_account))
    flagged = []
    for account in accounts:
        measured = sum(rig_hour.get(rig_id) or 0.0 for rig_id in rigs_by_account[account.pk])
        hour = pool_hour.get(account.pk)
        account.measured_hashrate_hs = measured or None
        if not hour or not measured or hour["effective"] is None:
            account.effective_ratio = None
            account.gap_since = None
            continue
        account.effective_ratio = hour["effective"] / measured
        covered = hour["first"] <= since + COVERAGE_SLACK and hour["n"] >= 2
        if covered and account.effective_ratio < threshold:
            if account.gap_since is None:
                account.gap_since = now
            flagged.append(account.pk)
        else:
            account.gap_since = None
    bulk_update_columns(accounts, ["measured_hashrate_hs", "effective_ratio", "gap_since"])
    return flagged
