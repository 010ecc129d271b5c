"""Reading values out of pool answers. Two families on purpose: the strict ones raise
bad_answer (a pool whose every field is typed, where junk means a broken answer) and the lenient
ones return None (pools known to send junk for "no reading")."""

import contextlib
import math
import re
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation

from pools.formats.base import bad_answer


def strict_float(value, what):
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise bad_answer(f"{what} is a boolean")
    if isinstance(value, int | float | Decimal):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond the floats
            raise bad_answer(f"{what} is out of range") from None
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise bad_answer(f"{what} is not a number: {value[:40]!r}") from None
    else:
        raise bad_answer(f"{what} has type {type(value).__name__}")
    if not math.isfinite(number):
        # JSON's 1e400 parses as infinity, and "nan"/"inf" as strings too: junk in a typed field.
        raise bad_answer(f"{what} is not a finite number: {str(value)[:40]!r}")
    return number


INT64_MAX = 2**63 - 1


def strict_int(value, what, *, limit=INT64_MAX):
    """An integer field of a typed answer; a fraction, a boolean or junk is bad_answer. Integers
    sent as strings are read exactly, even above 2**53. Beyond `limit` (counts, heights and
    times go to 64-bit columns) is bad_answer too; None for amounts, which are exact at any
    size."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):  # "1.0", "junk" and "" are judged below
            value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool):
        if limit is not None and abs(value) > limit:
            raise bad_answer(f"{what} is out of range: {str(value)[:40]}")
        return value
    number = strict_float(value, what)
    if number is None:
        return None
    if not number.is_integer():
        raise bad_answer(f"{what} is not an integer: {value}")
    if limit is not None and abs(number) > limit:
        raise bad_answer(f"{what} is out of range: {str(value)[:40]}")
    return int(number)


def lenient_number(value) -> float | None:
    # Numbers may arrive as strings; junk is treated as "no reading", never as zero.
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | Decimal):
        try:
            result = float(value)
        except OverflowError:
            return None
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return result if result == result and abs(result) != float("inf") else None


# Wide enough that scaling any amount a pool sends by 10**decimals never rounds.
_EXACT = Context(prec=80)


def to_base_units(value, decimals: int) -> int | None:
    """Decimal coins (number or string) → int smallest unit, exactly; None for junk. With
    decimals=0, an integer amount sent as a number or a string (wei above 2**53) stays exact."""
    if isinstance(value, bool) or value is None:
        return None
    if not isinstance(value, int | float | str | Decimal):
        return None
    # str() of a float is its shortest repr, so 0.1 becomes 10**17 wei and not 10**17 - 5.
    try:
        coins = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not coins.is_finite():
        return None
    return int(coins.scaleb(decimals, context=_EXACT).to_integral_value(rounding=ROUND_HALF_EVEN))


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


# A worker is online while its last share is at most this old: pools' dashboards grey a worker out
# after roughly this long, and it is half of OEP's 30-minute window, so "online" means the same
# thing across pool formats.
ONLINE_WINDOW = timedelta(minutes=15)


def worker_online(last_share, reference: datetime | None) -> bool | None:
    """Whether a worker whose last share is `last_share` (unix seconds as the pool sends it) is
    online at `reference`; False for one that never sent a share (0), None when unknown."""
    last = unix_time(last_share)
    if last is None:
        return None if last_share is None else False
    if reference is None:
        return None
    return reference - last <= ONLINE_WINDOW


def tx_hash(value, coin: str) -> str:
    """EVM hashes as "0x" + lower-case hex, whatever the pool sent; other coins' as they are."""
    raw = text(value)
    match = _HEX_HASH.match(raw)
    if match and coin.upper() in EVM_COINS:
        return "0x" + match.group(2).lower()
    return raw


def first(mapping: dict, *keys):
    """The value of the first key present and not null: pool forks spell some fields two ways.
    (rigs.formats.values has its own for miners; the domains share no code but through the core.)"""
    return next((mapping[key] for key in keys if mapping.get(key) is not None), None)
