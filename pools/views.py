from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Max, Sum
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from accounts.models import Farm
from accounts.scoping import (
    WRITE_ROLES,
    farm_ids_for_request,
    farm_ids_for_user,
    scope_to_farms,
)
from ethdash.timeseries import iso
from pools.forms import AccountForm
from pools.models import Pool, PoolAccount, PoolSample
from pools.services import known
from pools.services.known import pools_for_farms
from pools.services.polling import interval_s
from pools.services.series import pool_stats_series
from pools.services.trial import trial_context, try_account, try_pool
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


def visible_pools(request):
    """Pools the user's farms have accounts at: the only pools whose page and figures they see."""
    farm_ids = farm_ids_for_request(request)
    return Pool.objects.filter(accounts__farm__in=farm_ids).distinct()


@login_required
def pool_detail(request, pk):
    """A pool's own figures (hashrate, miners, blocks, effort, network) over the last day, with
    the accounts of the user's farms there beside them."""
    pool = get_object_or_404(visible_pools(request), pk=pk)
    since = timezone.now() - CHART_WINDOW
    return render(
        request,
        "pools/pool.html",
        {
            "pool": pool,
            "latest": pool.stats_samples.order_by("-ts").first(),
            "accounts": visible_accounts(request).filter(pool=pool),
            "chart_data": pool_stats_series(pool, since=since),
            "poll_interval_s": interval_s(pool),
        },
    )


@login_required
def account_add(request):
    """Adds a pool account in two steps: "Try" asks the pool once and shows what it answered;
    "Save" stores it. The pool is a known one, one the user's farms already use, or a custom
    address whose format is tested (the pool's own statistics asked) before anything is saved.
    Owners and managers of a farm only."""
    write_farm_ids = farm_ids_for_user(request.user, roles=WRITE_ROLES)
    farms = Farm.objects.filter(pk__in=write_farm_ids)
    if not farms.exists():
        raise Http404("Only owners and managers of a farm add its pool accounts.")
    form = AccountForm(request.POST or None, farms=farms, pools=pools_for_farms(write_farm_ids))
    context = {"form": form}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        candidate = form.candidate_pool()
        login = data["login"].strip()
        if (
            candidate.pk
            and PoolAccount.objects.filter(farm=data["farm"], pool=candidate, login=login).exists()
        ):
            form.add_error("login", "This farm already has this account on this pool.")
            return render(request, "pools/add.html", context)
        if form.is_custom:
            stats, pool_error = try_pool(candidate)
            if pool_error is not None:
                form.add_error("base_url", custom_pool_problem(candidate, pool_error))
                return render(request, "pools/add.html", context)
            context["pool_stats"] = stats
        if request.POST.get("action") == "save":
            try:
                account = add_account(form, candidate, login)
            except known.PoolNameTaken:
                form.add_error(None, NAME_TAKEN)
                return render(request, "pools/add.html", context)
            messages.success(request, f"{account} added; it is polled within seconds.")
            return redirect("pools:detail", pk=account.pk)
        snapshot, error = try_account(candidate, login)
        context.update(trial_context(snapshot, error))
        context["candidate"] = candidate
    return render(request, "pools/add.html", context)


NAME_TAKEN = (
    "Another pool was saved with the same name at the same moment; nothing was saved. Save again."
)


def custom_pool_problem(pool, error):
    if error.kind in ("bad_answer", "not_found"):
        return (
            f"This address does not answer in the {pool.get_api_format_display()} format: {error} "
            "Check the format and the address (without /api)."
        )
    return f"The pool could not be reached ({error.kind}): {error}"


def add_account(form, candidate, login):
    data = form.cleaned_data
    if data["known"] is not None:
        return known.add_account(farm=data["farm"], login=login, label=data["label"],
                                 known=data["known"])  # fmt: skip
    pool = candidate
    if form.is_custom:
        pool = known.custom_pool(
            farm=data["farm"], api_format=candidate.api_format, base_url=candidate.base_url,
            pool_id=candidate.pool_id, coin=candidate.coin, coin_decimals=candidate.coin_decimals,
        )  # fmt: skip
    return known.add_account(farm=data["farm"], login=login, label=data["label"], pool=pool)
