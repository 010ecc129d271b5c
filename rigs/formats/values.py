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


def own_index(position: int, *values) -> int:
    """The first index the miner gives a device (of the fields it may use), else the device's
    position in the miner's list."""
    for value in values:
        index = integer(value)
        if index is not None:
            return index
    return position


def sensor(value) -> float | None:
    """A sensor reading where 0 means the card has no such sensor (memory temperature on cards
    without one), which is no reading at all."""
    result = number(value)
    return result if result else None


def first(mapping: dict, *keys):
    """The value of the first key present and not null, for a field builds spell differently."""
    for key in keys:
        if mapping.get(key) is not None:
            return mapping[key]
    return None


def at(items, index):
    return items[index] if isinstance(items, list) and 0 <= index < len(items) else None


def as_dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def as_list(value) -> list:
    return value if isinstance(value, list) else []


def text(value) -> str:
    # A NUL character is no text a miner means (sgminer ends its replies with one), and
    # PostgreSQL's text columns refuse it: it is left out.
    return "" if value is None else str(value).replace("\x00", "")
