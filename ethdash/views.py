from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.csrf import csrf_failure as django_csrf_failure

from ethdash import db, registry
from ethdash.api import json_error, wants_json_errors


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


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: under /api/ and /worker/ a JSON 403 that says why; elsewhere Django's
    page."""
    if wants_json_errors(request):
        return json_error(403, f"CSRF check failed: {reason}", "csrf_failed")
    return django_csrf_failure(request, reason=reason)
