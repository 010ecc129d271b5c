"""Display of stored SI units at the edge: H/s as MH/s or GH/s, W as kW, °C."""

import functools
from decimal import Decimal

from django import template
from django.utils import timezone

register = template.Library()

MISSING = "–"

_HASHRATE_PREFIXES = [(1e12, "TH/s"), (1e9, "GH/s"), (1e6, "MH/s"), (1e3, "kH/s")]


def dash_when_missing(filter_function):
    """A filter that shows "–" for a value never read (None, or "" from a template variable that
    does not resolve) instead of formatting it."""

    @functools.wraps(filter_function)  # Django reads the filter's arguments through the wrapper
    def wrapper(value, *args):
        if value is None or value == "":
            return MISSING
        return filter_function(value, *args)

    return wrapper


def coins(base_units, decimals, places) -> str:
    """An amount in a coin's smallest unit shown in coins, exactly, rounded to `places`."""
    value = Decimal(base_units) / (Decimal(10) ** int(decimals))
    return f"{value:,.{int(places)}f}"


@register.filter
@dash_when_missing
def hashrate(value):
    for scale, unit in _HASHRATE_PREFIXES:
        if value >= scale:
            return f"{value / scale:.2f} {unit}"
    return f"{value:.0f} H/s"


@register.filter
@dash_when_missing
def watts(value):
    return f"{value / 1000:.2f} kW" if value >= 1000 else f"{value:.0f} W"


@register.filter
@dash_when_missing
def celsius(value):
    return f"{value:.0f} °C"


@register.filter
def timesince_short(value):
    if value is None:
        return "never"
    seconds = int((timezone.now() - value).total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


@register.filter
@dash_when_missing
def efficiency(hash_per_joule):
    """H/J shown with the hashrate prefixes: 508 kH/J."""
    return hashrate(hash_per_joule).replace("/s", "/J")


@register.filter
@dash_when_missing
def kwh_per_day(joules_per_day):
    return f"{joules_per_day / 3.6e6:.2f} kWh"


@register.filter
@dash_when_missing
def percent(value):
    return f"{value:.1f} %"


@register.filter
@dash_when_missing
def money(value, currency=""):
    return f"{value:.2f} {currency}".strip()


@register.filter
@dash_when_missing
def duration(seconds):
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


@register.filter
@dash_when_missing
def coin(base_units, decimals):
    """An amount in the coin's smallest unit shown in coins, exactly, to 6 places."""
    return coins(base_units, decimals, 6)


@register.filter
@dash_when_missing
def percent_of_one(ratio):
    return f"{ratio * 100:.0f} %"
