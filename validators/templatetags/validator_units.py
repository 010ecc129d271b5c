"""Display of validator amounts: gwei and wei as ETH, ratios as percentages."""

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def gwei_eth(gwei, places=5):
    """A gwei amount in ETH (exact, rounded to `places`)."""
    if gwei in (None, ""):
        return "–"
    return f"{Decimal(gwei) / 10**9:,.{int(places)}f}"


@register.filter
def wei_eth(wei, places=5):
    if wei in (None, ""):
        return "–"
    return f"{Decimal(wei) / 10**18:,.{int(places)}f}"


@register.filter
def pct(ratio, places=2):
    """A fraction (0.0345) as a percentage ("3.45 %")."""
    if ratio in (None, ""):
        return "–"
    return f"{ratio * 100:.{int(places)}f} %"


@register.filter
def status_class(status):
    """The page's status colours for the Beacon API's validator statuses."""
    if status in ("active_slashed", "exited_slashed"):
        return "status-error"
    if status.startswith("active"):
        return "status-degraded" if status == "active_exiting" else "status-online"
    if status.startswith("pending"):
        return "status-new"
    if status == "unknown":
        return "status-unreachable"
    return "status-offline"
