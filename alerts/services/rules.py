"""What a rule may say, checked the same for the pages and the API."""

import math

from alerts.models import AlertRule
from ethdash import registry


def kind_choices() -> list[tuple[str, str]]:
    return [(kind.name, kind.label) for kind in registry.alert_kinds()]


def kind_summary(kind) -> str:
    """The kind's unit and defaults, as the rule form shows them."""
    parts = []
    if kind.threshold is None:
        parts.append("yes or no: no threshold")
    else:
        side = "above" if kind.above else "below"
        parts.append(f"alerts {side} {kind.threshold:g}{kind.unit}")
        if kind.limits:
            parts.append(f"threshold {kind.limits[0]:g} to {kind.limits[1]:g}{kind.unit}")
    if kind.grace_s:
        parts.append(f"grace {kind.grace_s // 60} min")
    if kind.grace_count > 1:
        parts.append(f"{kind.grace_count} in a row")
    if kind.window_s:
        parts.append(f"window {kind.window_s // 60} min")
    parts.append(kind.severity)
    return "; ".join(parts)


def rule_problems(
    *,
    kind: str,
    threshold: float | None,
    target: str,
    target_id: int | None,
    hysteresis: float | None = None,
) -> dict[str, str]:
    """{field: why} for what a rule cannot be: an unknown kind, a threshold outside the kind's
    limits or given to a yes-or-no kind, a negative hysteresis, a target without its id (or an
    id without a target). Empty when the rule is sound."""
    found = registry.alert_kind(kind)
    if found is None:
        known = ", ".join(k.name for k in registry.alert_kinds()) or "none registered"
        return {"kind": f"Unknown alert kind {kind!r} (known: {known})."}
    problems = {}
    if threshold is not None:
        if not math.isfinite(threshold):
            problems["threshold"] = "A finite number is required."
        elif found.threshold is None:
            problems["threshold"] = (
                f"{found.label} is a yes-or-no condition: it takes no threshold."
            )
        elif found.limits and not found.limits[0] <= threshold <= found.limits[1]:
            low, high = found.limits
            problems["threshold"] = (
                f"{found.label} takes a threshold from {low:g} to {high:g}{found.unit}."
            )
    if hysteresis is not None and not (math.isfinite(hysteresis) and hysteresis >= 0):
        problems["hysteresis"] = "A distance back past the threshold: 0 or more."
    if target in (AlertRule.Target.GROUP, AlertRule.Target.OBJECT) and target_id is None:
        problems["target_id"] = "Name the group's or the object's id."
    if target == AlertRule.Target.ALL and target_id is not None:
        problems["target_id"] = "A rule for every object takes no id."
    return problems
