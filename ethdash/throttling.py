"""Request throttling: DRF throttles on the default cache (Redis in production, process memory
embedded), per token or user and per client address, answered with 429 and Retry-After.

Scopes and their rates are settings (docs/configuration.md, docs/api.md):
- `api`: every API request of one token, or of one logged-in user (ETHDASH_THROTTLE_API);
- `anon`: API requests without credentials, per client address (ETHDASH_THROTTLE_ANON);
- `telemetry`: pushes to one rig's telemetry endpoint by one token or user
  (ETHDASH_THROTTLE_TELEMETRY). A farm's agents share no budget with each other or with the
  reads: a farm of a hundred rigs pushing every 5 s is a hundred separate 12-a-minute streams;
- `hive`: the Hive OS agent's /worker/api, per rig id and client address (ETHDASH_THROTTLE_HIVE),
  counted before its password is checked, so guessing a rig's password is throttled too.

A rate is "N/s", "N/min", "N/hour" or "N/day" (DRF's notation), or "off". The client address is
the connection's, or the one the trusted proxies in front of ethdash add to X-Forwarded-For
(ETHDASH_TRUSTED_PROXIES, the number of them); the login lockout (django-axes) uses the same.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


def client_ip(request) -> str:
    """The client's address: REMOTE_ADDR, or with ETHDASH_TRUSTED_PROXIES = N proxies in front,
    the address the outermost trusted proxy saw (the N-th from the right of X-Forwarded-For).
    Addresses a client writes into X-Forwarded-For itself are left of that and never used."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = settings.ETHDASH_TRUSTED_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return remote


def client_ip_for_axes(request) -> str:
    # django-axes calls this with the login request (AXES_CLIENT_IP_CALLABLE).
    return client_ip(request)


class _SettingRateThrottle(SimpleRateThrottle):
    """A throttle whose rate is read from a setting when it is used (tests and operators change
    it without a restart of DRF's import-time settings)."""

    setting = ""

    def get_rate(self):
        return getattr(settings, self.setting)

    def get_ident(self, request):
        return client_ip(request)


def _caller(request) -> str | None:
    """ "token:<id>" or "user:<id>" for an authenticated request, None for an anonymous one."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    token = getattr(request, "auth", None)
    if token is not None and getattr(token, "pk", None) is not None:
        return f"token:{token.pk}"
    if user.pk is not None:
        return f"user:{user.pk}"
    return None


class ApiRateThrottle(_SettingRateThrottle):
    scope = "api"
    setting = "ETHDASH_THROTTLE_API"

    def get_cache_key(self, request, view):
        caller = _caller(request)
        if caller is None:
            return None  # AnonRateThrottle's
        return self.cache_format % {"scope": self.scope, "ident": caller}


class AnonRateThrottle(_SettingRateThrottle):
    scope = "anon"
    setting = "ETHDASH_THROTTLE_ANON"

    def get_cache_key(self, request, view):
        if _caller(request) is not None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TelemetryRateThrottle(_SettingRateThrottle):
    """Per caller and rig: one rig's agent is never slowed down by another rig's or by reads."""

    scope = "telemetry"
    setting = "ETHDASH_THROTTLE_TELEMETRY"

    def get_cache_key(self, request, view):
        caller = _caller(request)
        if caller is None:
            return None
        rig = view.kwargs.get("pk", "")
        return self.cache_format % {"scope": self.scope, "ident": f"{caller}:rig:{rig}"}


class HiveAgentThrottle(_SettingRateThrottle):
    """For the Hive OS agent's plain Django view: allow(request, rig_id) -> seconds to wait, or
    None when the request may go on."""

    scope = "hive"
    setting = "ETHDASH_THROTTLE_HIVE"

    def get_cache_key(self, request, view):
        rig_id = str(getattr(view, "rig_id", ""))[:40]
        return self.cache_format % {
            "scope": self.scope,
            "ident": f"{self.get_ident(request)}:rig:{rig_id}",
        }

    @classmethod
    def wait_s(cls, request, rig_id) -> float | None:
        throttle = cls()

        class _View:
            pass

        view = _View()
        view.rig_id = rig_id
        if throttle.allow_request(request, view):
            return None
        return throttle.wait() or 1.0
