"""Reading values out of miners' answers, which send numbers as numbers, as strings, as "off" or
not at all. Every adapter reads through these, so a junk value is None everywhere alike."""

import math

NO_VALUE = {"", "off", "na", "n/a", "-", "null", "none"}


def number(value) -> float | None:
    """A number the miner may send as a string, "off", empty or junk; None when unusable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        stripped = value.strip()
        if stripped.lower() in NO_VALUE:
            return None
        try:
            result = float(stripped)
        except ValueError:
            return None
    else:
        return None
    return result if math.isfinite(result) else None


def integer(value) -> int | None:
    result = number(value)
    return None if result is None else int(result)


def at(items, index):
    return items[index] if isinstance(items, list) and 0 <= index < len(items) else None


def as_dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def as_list(value) -> list:
    return value if isinstance(value, list) else []


def text(value) -> str:
    return "" if value is None else str(value)
