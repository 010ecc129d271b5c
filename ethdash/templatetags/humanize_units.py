"""Display of stored SI units at the edge: H/s as MH/s or GH/s, W as kW, °C."""

from django import template
from django.utils import timezone

register = template.Library()

_HASHRATE_PREFIXES = [(1e12, "TH/s"), (1e9, "GH/s"), (1e6, "MH/s"), (1e3, "kH/s")]


@register.filter
def hashrate(value):
    if value is None or value == "":
        return "–"
    for scale, unit in _HASHRATE_PREFIXES:
        if value >= scale:
            return f"{value / scale:.2f} {unit}"
    return f"{value:.0f} H/s"


@register.filter
def watts(value):
    if value in (None, ""):
        return "–"
    return f"{value / 1000:.2f} kW" if value >= 1000 else f"{value:.0f} W"


@register.filter
def celsius(value):
    return "–" if value in (None, "") else f"{value:.0f} °C"


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
def efficiency(hash_per_joule):
    """H/J shown with the hashrate prefixes: 508 kH/J."""
    if hash_per_joule in (None, ""):
        return "–"
    return hashrate(hash_per_joule).replace("/s", "/J")


@register.filter
def kwh_per_day(joules_per_day):
    return "–" if joules_per_day in (None, "") else f"{joules_per_day / 3.6e6:.2f} kWh"


@register.filter
def percent(value):
    return "–" if value in (None, "") else f"{value:.1f} %"


@register.filter
def money(value, currency=""):
    return "–" if value in (None, "") else f"{value:.2f} {currency}".strip()


@register.filter
def duration(seconds):
    if seconds in (None, ""):
        return "–"
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


@register.filter
def coin(base_units, decimals):
    """An amount in the coin's smallest unit shown in coins, exactly, to 6 places."""
    if base_units in (None, ""):
        return "–"
    from decimal import Decimal

    value = Decimal(base_units) / (Decimal(10) ** int(decimals))
    return f"{value:,.6f}"


@register.filter
def percent_of_one(ratio):
    return "–" if ratio in (None, "") else f"{ratio * 100:.0f} %"
