from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string

from ethdash import db, registry


@login_required
def overview(request):
    """The tiles the apps registered, in order; each renders its own template and context."""
    tiles = registry.tiles()
    return render(
        request,
        "overview.html",
        {
            "tiles": [render_to_string(tile.template, tile.context(request)) for tile in tiles],
            "scripts": [script for tile in tiles for script in tile.scripts],
        },
    )


def healthz(request):
    """Liveness for load balancers: the process answers and the database does too."""
    try:
        db.ping()
    except Exception as exc:
        return JsonResponse({"status": "error", "database": str(exc)}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})
