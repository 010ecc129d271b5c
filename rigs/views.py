from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Sum
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from accounts.models import Farm
from accounts.scoping import (
    WRITE_ROLES,
    can_write,
    farm_ids_for_request,
    farm_ids_for_user,
    scope_to_farms,
)
from ethdash.timeseries import iso
from rigs.formats import hiveos_conf
from rigs.forms import HiveConfigForm, RigForm
from rigs.models import Gpu, HiveConfig, Rig
from rigs.services import hive_agent
from rigs.services.efficiency import gpu_figures, rig_figures, rig_uptime_pct
from rigs.services.freshness import figures_stale, stale_after_s
from rigs.services.series import gpu_series, rig_series

# The page's range buttons; "1h" is the live view that extends from websocket events.
RANGES = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
GPU_SORTS = {
    "rig": lambda row: (row["gpu"].rig.name, row["gpu"].index),
    "hashrate": lambda row: row["figures"].hashrate_hs,
    "temperature": lambda row: row["temperature_c"],
    "power": lambda row: row["figures"].power_w,
    "efficiency": lambda row: row["figures"].efficiency_hj,
    "energy": lambda row: row["figures"].energy_j_per_day,
    "cost": lambda row: row["figures"].cost_per_day,
    "rejected": lambda row: row["figures"].rejected_pct,
    "stale": lambda row: row["figures"].stale_pct,
}


def visible_rigs(request):
    return (
        scope_to_farms(Rig.objects.select_related("farm"), request)
        .annotate(gpu_count=Count("gpus"))
        .order_by("farm__name", "name")
    )


def shows_farm(request):
    return len(farm_ids_for_request(request)) > 1


def with_figures(rigs):
    rigs = list(rigs)
    figures = rig_figures(rigs)
    now = timezone.now()
    for rig in rigs:
        rig.figures = figures[rig.pk]
        _mark_freshness(rig, now)
    return rigs


def _mark_freshness(rig, now):
    rig.stale = figures_stale(rig, now=now)
    rig.stale_after_s = stale_after_s(rig)


def overview_tile(request):
    """The overview page's rig block (ethdash.registry): totals over the online rigs, and the
    rig table."""
    rigs = visible_rigs(request)
    online = Rig.online_now()
    totals = rigs.order_by().aggregate(
        rigs=Count("id", distinct=True),
        online=Count("id", filter=online, distinct=True),
        hashrate_hs=Sum("hashrate_hs", filter=online),
        power_w=Sum("power_w", filter=online),
    )
    return {"rigs": with_figures(rigs), "totals": totals, "show_farm": shows_farm(request)}


@login_required
def rig_list(request):
    rigs = with_figures(visible_rigs(request))
    return render(request, "rigs/list.html", {"rigs": rigs, "show_farm": shows_farm(request)})


def _chart_range(request):
    name = request.GET.get("range", "1h")
    if name not in RANGES:
        raise Http404("Unknown range.")
    until = timezone.now()
    return name, until - RANGES[name], until


def _iso_series(series):
    return series | {"ts": [iso(ts) for ts in series["ts"]]}


@login_required
def rig_detail(request, pk):
    rig = get_object_or_404(visible_rigs(request), pk=pk)
    range_name, since, until = _chart_range(request)
    series = rig_series(rig, since=since, until=until)
    chart_data = {
        "rig": rig.pk,
        "range": range_name,
        "resolution": series["resolution"],
        "live": range_name == "1h",
        "since": iso(since),
        "until": iso(until),
        "gpus": [_iso_series(gpu) for gpu in series["gpus"]],
        "totals": _iso_series(series["rig"]),
    }
    day = rig_figures([rig])[rig.pk]
    _mark_freshness(rig, timezone.now())
    gpus = list(rig.gpus.all())
    per_gpu = gpu_figures(gpus)
    for gpu in gpus:
        gpu.figures = per_gpu[gpu.pk]
    context = {
        "rig": rig,
        "gpus": gpus,
        "chart_data": chart_data,
        "ranges": list(RANGES),
        "range": range_name,
        "day": day,
        "uptime_30d": rig_uptime_pct(rig, days=30),
        "can_edit": can_write(request, rig.farm_id),
    }
    return render(request, "rigs/detail.html", context)


def visible_gpus(request):
    return scope_to_farms(Gpu.objects.select_related("rig__farm"), request, farm_field="rig__farm")


@login_required
def gpu_list(request):
    """Every GPU of the user's farms with its last-24-hour figures, sortable by any of them, to
    find the worst card in a farm."""
    gpus = list(visible_gpus(request).order_by("rig__name", "index"))
    figures = gpu_figures(gpus)
    now = timezone.now()
    rows = [
        {
            "gpu": gpu,
            "figures": figures[gpu.pk],
            "temperature_c": gpu.temperature_c,
            "stale": figures_stale(gpu.rig, last_seen_at=gpu.last_seen_at, now=now),
            "stale_after_s": stale_after_s(gpu.rig),
        }
        for gpu in gpus
    ]
    sort = request.GET.get("sort", "rig")
    key = sort.lstrip("-")
    if key not in GPU_SORTS:
        sort, key = "rig", "rig"
    present = [r for r in rows if GPU_SORTS[key](r) is not None]
    missing = [r for r in rows if GPU_SORTS[key](r) is None]
    present.sort(key=GPU_SORTS[key], reverse=sort.startswith("-"))
    columns = [
        ("rig", "Device"), ("hashrate", "Hashrate"), ("temperature", "Temp"), ("power", "Power"),
        ("efficiency", "Efficiency"), ("energy", "Energy / day"), ("cost", "Cost / day"),
        ("rejected", "Rejected"), ("stale", "Stale"),
    ]  # fmt: skip
    return render(
        request,
        "rigs/gpu_list.html",
        {
            "rows": present + missing,
            "sort": sort,
            "sort_columns": columns,
            "show_farm": shows_farm(request),
        },
    )


@login_required
def gpu_detail(request, pk):
    gpu = get_object_or_404(visible_gpus(request), pk=pk)
    range_name, since, until = _chart_range(request)
    series = gpu_series(gpu, since=since, until=until)
    return render(
        request,
        "rigs/gpu_detail.html",
        {
            "gpu": gpu,
            "stale": figures_stale(gpu.rig, last_seen_at=gpu.last_seen_at),
            "stale_after_s": stale_after_s(gpu.rig),
            "figures": gpu_figures([gpu])[gpu.pk],
            "chart_data": {"gpu": gpu.pk, "rig": gpu.rig_id, "live": range_name == "1h"}
            | _iso_series(series),
            "ranges": list(RANGES),
            "range": range_name,
        },
    )


def writable_farms(request):
    return Farm.objects.filter(pk__in=farm_ids_for_user(request.user, roles=WRITE_ROLES))


def _saved_message(request, saved):
    rig, trial = saved.rig, saved.trial
    verb = "added" if saved.created else "saved"
    if trial is None:
        polled = " It is polled within seconds." if rig.is_polled and saved.created else ""
        messages.success(request, f"Rig {rig.name} {verb}.{polled}")
    elif trial.ok:
        messages.success(
            request, f"Rig {rig.name} {verb}. {trial.summary()}; it is polled within seconds."
        )
    else:
        messages.warning(
            request,
            f"Rig {rig.name} {verb}, but its miner did not answer: {trial.summary()}. ethdash "
            f"keeps polling it every {rig.cadence_s} s; this page shows when it answers.",
        )


@login_required
def rig_add(request):
    """Adds a rig (polled, or pushed by its agent). Owners and managers of a farm only. The page's
    "Test connection" asks the API (rigs.api.views RigViewSet.test_connection); saving tries the
    miner once too, and saves even when it does not answer, with the warning shown."""
    farms = writable_farms(request)
    if not farms.exists():
        raise PermissionDenied("Only owners and managers of a farm add its rigs.")
    form = RigForm(request.POST or None, farms=farms)
    return _form_page(request, form, {"rig": None})


@login_required
def rig_edit(request, pk):
    """Changes a rig's name, source and cadence; owners and managers of its farm only."""
    rig = get_object_or_404(visible_rigs(request), pk=pk)
    if not can_write(request, rig.farm_id):
        raise PermissionDenied("Only owners and managers of the farm change its rigs.")
    name = rig.name  # the form changes the instance as it validates
    form = RigForm(request.POST or None, instance=rig)
    return _form_page(request, form, {"rig": rig, "rig_name": name})


def _form_page(request, form, context):
    """Saves a valid submission and goes to the rig's page with what its miner answered; else
    the form again, with its errors."""
    if request.method == "POST" and form.is_valid():
        saved = form.save_rig()
        if saved is not None:
            _saved_message(request, saved)
            return redirect("rigs:detail", pk=saved.rig.pk)
    return render(request, "rigs/form.html", {"form": form, **context})


@login_required
@require_http_methods(["GET", "POST"])
def rig_hive_password(request, pk):
    """The rig's Hive OS password (RIG_PASSWD for the agent's /worker/api): any member sees
    whether it has one; an owner or manager generates a new one, which is shown once, with the
    rig.conf lines to set. Only its hash is kept, so it can never be shown again."""
    rig = get_object_or_404(visible_rigs(request), pk=pk)
    writer = can_write(request, rig.farm_id)
    if request.method == "POST" and not writer:
        raise PermissionDenied("Only the farm's owners and managers set a rig's Hive password.")
    password = hive_agent.set_hive_password(rig) if request.method == "POST" else None
    context = {
        "rig": rig,
        "password": password,
        "can_write": writer,
        "host_url": request.build_absolute_uri("/").rstrip("/"),
    }
    return render(request, "rigs/hive_password.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def rig_hive_config(request, pk):
    """The rig's Hive OS files that ethdash answers the agent's hello with. Any member sees
    whether there are some and which; owners and managers see, paste, replace and remove them
    (wallet.conf can hold pool passwords and miner API keys)."""
    rig = get_object_or_404(visible_rigs(request), pk=pk)
    writer = can_write(request, rig.farm_id)
    if request.method == "POST" and not writer:
        raise PermissionDenied("Only the farm's owners and managers give ethdash a rig's files.")
    config = HiveConfig.objects.filter(rig=rig).first()
    form = None
    if request.method == "POST" and "remove" in request.POST:
        hive_agent.remove_hive_config(rig=rig)
        messages.success(request, "Forgotten: hello is answered without a configuration again.")
        return redirect("rigs:hive-config", pk=rig.pk)
    if request.method == "POST":
        form = HiveConfigForm(request.POST)
        if form.is_valid():
            try:
                _, removed = hive_agent.save_hive_config(rig=rig, **form.cleaned_data)
            except hiveos_conf.ConfError as error:
                form.add_error("rig_conf", str(error))
            else:
                note = (
                    f" RIG_PASSWD taken out of {removed} line(s): ethdash keeps no password in "
                    "clear, and puts the rig's own back when it answers."
                    if removed
                    else ""
                )
                messages.success(request, f"Saved; the next hello gets these files.{note}")
                return redirect("rigs:hive-config", pk=rig.pk)
    elif writer:
        initial = {} if config is None else {
            field: getattr(config, field)
            for field in ("rig_conf", *hive_agent.ANSWER_KEYS, "oc_files_confirmed")
        }  # fmt: skip
        form = HiveConfigForm(initial=initial)
    held, deleted = hive_agent.stored_files(config) if config is not None else ([], [])
    context = {
        "rig": rig,
        "config": config,
        "held": held,
        "deleted": deleted,
        "form": form,
        "can_write": writer,
    }
    return render(request, "rigs/hive_config.html", context)
