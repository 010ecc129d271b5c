from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from accounts.scoping import farm_ids_for_request, scope_to_farms
from ethdash.timeseries import iso
from rigs.models import Rig
from rigs.services.series import gpu_chart_series, rig_chart_series

CHART_WINDOW = timedelta(hours=1)


def visible_rigs(request):
    return (
        scope_to_farms(Rig.objects.select_related("farm"), request)
        .annotate(gpu_count=Count("gpus"))
        .order_by("farm__name", "name")
    )


def shows_farm(request):
    return len(farm_ids_for_request(request)) > 1


@login_required
def rig_list(request):
    return render(
        request, "rigs/list.html", {"rigs": visible_rigs(request), "show_farm": shows_farm(request)}
    )


@login_required
def rig_detail(request, pk):
    rig = get_object_or_404(visible_rigs(request), pk=pk)
    until = timezone.now()
    since = until - CHART_WINDOW
    gpus = gpu_chart_series(rig, since=since, until=until)
    totals = rig_chart_series(rig, since=since, until=until)
    chart_data = {
        "rig": rig.pk,
        "window_s": int(CHART_WINDOW.total_seconds()),
        "gpus": [gpu | {"ts": [iso(ts) for ts in gpu["ts"]]} for gpu in gpus],
        "totals": totals | {"ts": [iso(ts) for ts in totals["ts"]]},
    }
    return render(
        request,
        "rigs/detail.html",
        {"rig": rig, "gpus": rig.gpus.all(), "chart_data": chart_data},
    )
