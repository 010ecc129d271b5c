from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Max, Sum
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from accounts.models import Farm
from accounts.scoping import WRITE_ROLES, farm_ids_for_user, scope_to_farms
from ethdash.timeseries import iso
from pools.forms import AccountForm
from pools.models import PoolAccount, PoolSample
from pools.services.polling import interval_s
from pools.services.trial import trial_context, try_account
from rigs.models import RigRollup

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
    measured = _measured_series(account, since)
    return render(
        request,
        "pools/detail.html",
        {
            "account": account,
            "workers": account.workers.select_related("rig").order_by("name"),
            "payouts": account.payouts.all()[:50],
            "chart_data": {"account": account.pk, **series, "measured": measured},
            "gap_threshold_pct": settings.ETHDASH_POOL_GAP_PCT,
            "poll_interval_s": interval_s(account.pool),
        },
    )


def _measured_series(account, since):
    """The matched rigs' own hashrate, summed per 5-minute bucket."""
    rig_ids = account.workers.filter(rig__isnull=False).values_list("rig_id", flat=True)
    rows = (
        RigRollup.objects.filter(rig_id__in=rig_ids, resolution="5m", ts__gte=since)
        .values("ts")
        .annotate(total=Sum("hashrate_avg"))
        .order_by("ts")
    )
    return {"ts": [iso(row["ts"]) for row in rows], "hashrate_hs": [row["total"] for row in rows]}


@login_required
def account_add(request):
    """Adds a pool account in two steps: "Try" fetches it once and shows what the pool answered;
    "Save" stores it. Owners and managers of a farm only."""
    farms = Farm.objects.filter(pk__in=farm_ids_for_user(request.user, roles=WRITE_ROLES))
    if not farms.exists():
        raise Http404("Only owners and managers of a farm add its pool accounts.")
    form = AccountForm(request.POST or None, farms=farms)
    context = {"form": form}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        duplicate = PoolAccount.objects.filter(
            farm=data["farm"], pool=data["pool"], login=data["login"].strip()
        ).exists()
        if duplicate:
            form.add_error("login", "This farm already has this account on this pool.")
        elif request.POST.get("action") == "save":
            account = PoolAccount.objects.create(
                farm=data["farm"],
                pool=data["pool"],
                login=data["login"].strip(),
                label=data["label"],
                next_poll_at=timezone.now(),
            )
            messages.success(request, f"{account} added; it is polled within seconds.")
            return redirect("pools:detail", pk=account.pk)
        else:
            snapshot, error = try_account(data["pool"], data["login"])
            context.update(trial_context(snapshot, error))
    return render(request, "pools/add.html", context)
