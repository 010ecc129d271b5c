"""Reading values out of pool answers. Two families on purpose: the strict ones raise
bad_answer (a pool whose every field is typed, where junk means a broken answer) and the lenient
ones return None (pools known to send junk for "no reading")."""

from decimal import Decimal

from pools.adapters.base import bad_answer


def strict_float(value, what):
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise bad_answer(f"{what} is a boolean")
    if isinstance(value, int | float | Decimal):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise bad_answer(f"{what} is not a number: {value[:40]!r}") from None
    raise bad_answer(f"{what} has type {type(value).__name__}")


def lenient_number(value) -> float | None:
    # Numbers may arrive as strings; junk is treated as "no reading", never as zero.
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | Decimal):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return result if result == result and abs(result) != float("inf") else None


def text(value) -> str:
    return "" if value is None else str(value).strip()


def normalized_tx_hash(value):
    if value is None:
        return ""
    tx = str(value).strip()
    return tx.lower() if tx.startswith(("0x", "0X")) else tx
