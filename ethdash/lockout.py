"""The answer to a locked-out login (django-axes' AXES_LOCKOUT_CALLABLE): the login page again,
with a message that says what happened and for how long, 429 and Retry-After."""

from math import ceil

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render

LOCKED_OUT = (
    "Too many failed logins for this username from your address: logging in is locked {until}. "
    "An administrator can unlock it sooner (Admin → Axes → Access attempts)."
)


def locked_out(request, original_response=None, credentials=None):
    cooloff = settings.AXES_COOLOFF_TIME
    if cooloff:
        minutes = max(1, ceil(cooloff.total_seconds() / 60))
        until = f"for {minutes} minute{'s' if minutes != 1 else ''}"
    else:
        until = "until an administrator unlocks it"
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    form = AuthenticationForm(request, initial={"username": username})
    context = {
        "form": form,
        "locked_out": LOCKED_OUT.format(until=until),
        "next": request.POST.get("next", request.GET.get("next", "")),
    }
    response = render(request, "registration/login.html", context, status=429)
    if cooloff:
        response["Retry-After"] = str(int(cooloff.total_seconds()))
    return response
