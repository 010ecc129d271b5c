from django.contrib.auth.decorators import login_required
from django.db import connection
from django.db.models import Count, Q, Sum
from django.http import JsonResponse
from django.shortcuts import render

from rigs.models import Rig
from rigs.views import shows_farm, visible_rigs, with_figures


@login_required
def overview(request):
    rigs = visible_rigs(request)
    totals = rigs.order_by().aggregate(
        rigs=Count("id", distinct=True),
        online=Count("id", filter=Q(status=Rig.Status.ONLINE), distinct=True),
        hashrate_hs=Sum("hashrate_hs", filter=Q(status=Rig.Status.ONLINE)),
        power_w=Sum("power_w", filter=Q(status=Rig.Status.ONLINE)),
    )
    return render(
        request,
        "overview.html",
        {"rigs": with_figures(rigs), "totals": totals, "show_farm": shows_farm(request)},
    )


@login_required
def placeholder(request, *, title, coming):
    return render(request, "placeholder.html", {"title": title, "coming": coming})


def healthz(request):
    """Liveness for load balancers: the process answers and the database does too."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return JsonResponse({"status": "error", "database": str(exc)}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})
