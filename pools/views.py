from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.db.models import Max
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from accounts.scoping import scope_to_farms
from ethdash.timeseries import iso
from pools.models import PoolAccount, PoolSample

CHART_WINDOW = timedelta(days=1)


def visible_accounts(request):
    return (
        scope_to_farms(PoolAccount.objects.select_related("pool", "farm"), request)
        .annotate(last_payout_at=Max("payouts__paid_at"))
        .order_by("farm__name", "pool__name", "login")
    )


@login_required
def account_list(request):
    return render(request, "pools/list.html", {"accounts": visible_accounts(request)})


@login_required
def account_detail(request, pk):
    account = get_object_or_404(visible_accounts(request), pk=pk)
    since = timezone.now() - CHART_WINDOW
    rows = PoolSample.objects.filter(account=account, ts__gte=since).order_by("ts")
    series = {"ts": [], "current": [], "average": [], "reported": []}
    for row in rows.values_list(
        "ts", "current_hashrate_hs", "average_hashrate_hs", "reported_hashrate_hs"
    ):
        ts, current, average, reported = row
        series["ts"].append(iso(ts))
        series["current"].append(current)
        series["average"].append(average)
        series["reported"].append(reported)
    return render(
        request,
        "pools/detail.html",
        {
            "account": account,
            "workers": account.workers.select_related("rig").order_by("name"),
            "payouts": account.payouts.all()[:50],
            "chart_data": {"account": account.pk, **series},
        },
    )
