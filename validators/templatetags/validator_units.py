"""Display of validator amounts: gwei and wei as ETH, ratios as percentages."""

from django import template

from ethdash.templatetags.humanize_units import coins, dash_when_missing

register = template.Library()


@register.filter
@dash_when_missing
def gwei_eth(gwei, places=5):
    """A gwei amount in ETH (exact, rounded to `places`)."""
    return coins(gwei, 9, places)


@register.filter
@dash_when_missing
def wei_eth(wei, places=5):
    return coins(wei, 18, places)


@register.filter
@dash_when_missing
def pct(ratio, places=2):
    """A fraction (0.0345) as a percentage ("3.45 %")."""
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
