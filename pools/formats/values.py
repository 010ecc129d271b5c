"""Reading values out of pool answers. Two families on purpose: the strict ones raise
bad_answer (a pool whose every field is typed, where junk means a broken answer) and the lenient
ones return None (pools known to send junk for "no reading")."""

import re
from datetime import UTC, datetime
from decimal import Decimal

from pools.formats.base import bad_answer


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


EVM_COINS = {"ETC", "ETH", "ETHW"}
_HEX_HASH = re.compile(r"^(0x)?([0-9a-fA-F]{64})$")


def unix_time(value) -> datetime | None:
    """Unix seconds to UTC; 0 is what an account that never sent a share shows, not 1970."""
    seconds = lenient_number(value)
    if not seconds or seconds < 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise bad_answer(f"time {value!r} is not unix seconds") from None


def tx_hash(value, coin: str) -> str:
    """EVM hashes as "0x" + lower-case hex, whatever the pool sent; other coins' as they are."""
    raw = text(value)
    match = _HEX_HASH.match(raw)
    if match and coin.upper() in EVM_COINS:
        return "0x" + match.group(2).lower()
    return raw
