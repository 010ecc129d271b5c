from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.csrf import csrf_failure as django_csrf_failure

from ethdash import health, registry
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
    """Liveness: the process answers. Nothing else is asked (no database, no Redis), so a probe
    that restarts dead processes never restarts a healthy one for a dependency's outage."""
    return JsonResponse({"status": "ok"})


def readyz(request):
    """Readiness (ethdash.health.readiness): 200 when every check passes, else 503. Anonymous
    callers and non-staff users get the verdict only; staff get each check with its detail."""
    checks = health.readiness()
    ready = all(check.ok for check in checks)
    body = {"status": "ok" if ready else "unavailable"}
    if _is_staff(request):
        body["checks"] = health.as_json(checks)
    return JsonResponse(body, status=200 if ready else 503)


def _is_staff(request):
    try:
        return request.user.is_active and request.user.is_staff
    except Exception:  # the session lives in the database, which may be the thing that is down
        return False


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: under /api/ and /worker/ a JSON 403 that says why; elsewhere Django's
    page."""
    if wants_json_errors(request):
        return json_error(403, f"CSRF check failed: {reason}", "csrf_failed")
    return django_csrf_failure(request, reason=reason)
