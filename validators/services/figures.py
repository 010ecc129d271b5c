"""What users read about their validators: income over windows of UTC days, APR on the summed
effective balance, attestation effectiveness, missed duties, proposals, sync participation, and
the daily income export.

Every function takes a queryset of validators that the caller has already scoped to the user's
farms; nothing here widens it. The figures are read from the stored day rows (ValidatorDay), so
their cost depends on the number of validators and days, never on the number of epochs, and each
function runs a fixed number of queries however many validators it is given.

Windows are sets of whole UTC days, because income is stored per validator and UTC day:
- "today": the current UTC day so far;
- "24h": the last complete UTC day (yesterday): a rolling 24 hours cannot be cut out of day rows,
  and a full day is what a 24-hour figure is compared with;
- "7d" and "30d": the last 7 and 30 UTC days, today so far included.
APR divides a window's income by the same window's Σ effective balance × epochs, so a validator
that was active for part of the window (or a window with today's few epochs) has its true rate,
and a 0x02 validator of 2,048 ETH counts for 2,048 ETH, not 32. An APR annualised from a few
hours is noise (one proposal makes it thousands of percent), so a window's APR is given only
once its data covers APR_MIN_DAYS of active epochs; its income always. Definitions:
docs/validators.md.
"""

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, F, Sum, Value
from django.db.models.functions import NullIf
from django.utils import timezone

from validators.db import DAY_SUMS, sum_days, validator_ids_by_day_sums
from validators.models import BeaconNode, Status, StatusChange, Validator, ValidatorDay
from validators.services.chain import GWEI_PER_ETH, epochs_per_year

WEI_PER_ETH = 10**18
WINDOWS = ("today", "24h", "7d", "30d")
WINDOW_LABELS = {
    "today": "today (UTC, so far)",
    "24h": "24 h (last complete UTC day)",
    "7d": "7 days",
    "30d": "30 days",
}
# The least span of data (a validator's active epochs; for a set, its longest-followed member's,
# day by day) over which a window's APR is given: a full day, and about a quarter of the longer
# windows. "today" never has a full day, so it never has an APR; its income is still shown.
APR_MIN_DAYS = {"today": 1, "24h": 1, "7d": 2, "30d": 7}
SECONDS_PER_DAY = 86_400
# What a window adds up from the day rows: DAY_SUMS are plain integers, execution_income is not.
SUMMED = (*DAY_SUMS, "execution_income")


@dataclass(frozen=True)
class Chain:
    genesis_time: int
    seconds_per_slot: float
    slots_per_epoch: int

    @property
    def epochs_per_year(self) -> float:
        return epochs_per_year(self.seconds_per_slot, self.slots_per_epoch)

    @property
    def epoch_s(self) -> float:
        return self.seconds_per_slot * self.slots_per_epoch

    def epoch_time(self, epoch: int) -> dt.datetime:
        seconds = self.genesis_time + epoch * self.slots_per_epoch * self.seconds_per_slot
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


def chains_for_farms(farm_ids) -> dict:
    """Each farm's chain constants, from its first beacon node (by priority) that has read them
    from the node; farms without one are missing (their APR is unknown)."""
    chains = {}
    nodes = (
        BeaconNode.objects.filter(
            farm_id__in=list(farm_ids),
            genesis_time__isnull=False,
            seconds_per_slot__isnull=False,
            slots_per_epoch__isnull=False,
        )
        .order_by("farm_id", "priority", "pk")
        .values_list("farm_id", "genesis_time", "seconds_per_slot", "slots_per_epoch")
    )
    for farm_id, genesis, seconds, slots in nodes:
        if farm_id not in chains and seconds > 0 and slots > 0:
            chains[farm_id] = Chain(genesis, seconds, slots)
    return chains


def utc_today() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


def window_days(today: dt.date) -> dict:
    """The first and last day of each window."""
    yesterday = today - dt.timedelta(days=1)
    return {
        "today": (today, today),
        "24h": (yesterday, yesterday),
        "7d": (today - dt.timedelta(days=6), today),
        "30d": (today - dt.timedelta(days=29), today),
    }


@dataclass
class Window:
    """One window's sums for a set of validators, and the figures derived from them."""

    name: str
    income: int = 0  # consensus, gwei
    execution_income: int = 0  # wei
    effective_balance_sum: int = 0  # gwei × epochs
    # Σ effective balance × time in years (gwei·years): the APR's denominator. Kept per farm's
    # own chain constants, so farms on chains of different slot times add up correctly.
    balance_years: float | None = 0.0
    epochs: int = 0
    # Seconds of active epochs the window's data covers (see APR_MIN_DAYS).
    covered_s: float = 0.0
    attestation_reward: int = 0
    attestation_ideal: int = 0
    attestations: int = 0
    attestations_missed: int = 0
    head_missed: int = 0
    target_missed: int = 0
    source_missed: int = 0
    missed_cost: int = 0
    proposals: int = 0
    proposals_missed: int = 0
    proposals_orphaned: int = 0
    proposal_reward: int = 0
    sync_duties: int = 0
    sync_missed: int = 0
    sync_reward: int = 0
    withdrawals: int = 0
    deposits: int = 0

    @property
    def label(self) -> str:
        return WINDOW_LABELS[self.name]

    @property
    def income_wei(self) -> int:
        """Consensus and execution income together, in wei."""
        return self.income * GWEI_PER_ETH + self.execution_income

    @property
    def apr_min_s(self) -> int:
        return APR_MIN_DAYS[self.name] * SECONDS_PER_DAY

    @property
    def apr_covered(self) -> bool:
        """Whether the data spans enough time for an APR (a second's leeway for float sums)."""
        return self.covered_s >= self.apr_min_s - 1

    @property
    def apr_note(self) -> str:
        """Why there is no APR although there is income to annualise; "" otherwise."""
        if not self.balance_years or self.apr_covered:
            return ""
        return (
            f"needs {_span(self.apr_min_s)} of data, has {_span(self.covered_s)}"
            if self.name != "today"
            else "needs a full day of data: see 24 h"
        )

    @property
    def apr_consensus(self) -> float | None:
        if not self.balance_years or not self.apr_covered:
            return None
        return self.income / self.balance_years

    @property
    def apr_execution(self) -> float | None:
        if not self.balance_years or not self.apr_covered:
            return None
        return self.execution_income / GWEI_PER_ETH / self.balance_years

    @property
    def apr(self) -> float | None:
        if not self.balance_years or not self.apr_covered:
            return None
        return self.apr_consensus + self.apr_execution

    @property
    def effectiveness(self) -> float | None:
        """Actual over ideal attestation reward; None without attestation duties."""
        if self.attestation_ideal <= 0:
            return None
        return self.attestation_reward / self.attestation_ideal

    @property
    def sync_participation(self) -> float | None:
        if not self.sync_duties:
            return None
        return 1 - self.sync_missed / self.sync_duties

    def add_days(self, sums: dict, epochs_per_year_: float | None):
        for name in DAY_SUMS:
            setattr(self, name, getattr(self, name) + (sums.get(name) or 0))
        balance = sums.get("effective_balance_sum") or 0
        if self.balance_years is not None and balance:
            if epochs_per_year_ is None:
                self.balance_years = None  # a farm whose chain is unknown: no honest APR
            else:
                self.balance_years += balance / epochs_per_year_


def _span(seconds: float) -> str:
    if seconds >= SECONDS_PER_DAY:
        return f"{seconds / SECONDS_PER_DAY:.1f} days".replace(".0 days", " days")
    return f"{seconds / 3600:.1f} h"


@dataclass
class Figures:
    today: Window = field(default_factory=lambda: Window("today"))
    day: Window = field(default_factory=lambda: Window("24h"))
    week: Window = field(default_factory=lambda: Window("7d"))
    month: Window = field(default_factory=lambda: Window("30d"))

    def window(self, name: str) -> Window:
        return {"today": self.today, "24h": self.day, "7d": self.week, "30d": self.month}[name]

    def windows(self):
        return [self.today, self.day, self.week, self.month]


def figures_by(validators, key: str | None = "validator_id", *, today=None, chains=None) -> dict:
    """Figures of the validators' day rows, grouped by `key` (a ValidatorDay lookup such as
    "validator_id" or "validator__group_id"; None for the whole set, under the key None).

    A fixed number of queries whatever the number of validators: the sums (validators.db.sum_days:
    grouped by key and farm, so each farm's chain constants apply to its own epochs; one query,
    two on SQLite, execution income exact on both) and the farms' chain constants (unless the
    caller passes `chains`, from chains_for_farms).
    Per validator, each window is a filtered sum (one row per validator); for a key that
    gathers many validators (a group, the whole set) the rows are summed per day and the days
    added into their windows here, which reads the day rows once instead of once per window.
    Keys without any day row in the last 30 days are absent; callers use Figures() for them.
    """
    today = today or utc_today()
    spans = window_days(today)
    earliest = spans["30d"][0]
    days = ValidatorDay.objects.filter(
        validator__in=validators.order_by().values("pk"), day__gte=earliest, day__lte=today
    )
    group = ["validator__farm_id"] if key is None else [key, "validator__farm_id"]
    per_day = key != "validator_id"
    rows = sum_days(days, group, windows=None if per_day else spans)
    if chains is None:
        chains = chains_for_farms({row["validator__farm_id"] for row in rows})
    result = defaultdict(Figures)
    # A set's covered span: day by day, the longest any member was active that day (members
    # added later do not shorten it, and members side by side do not lengthen it).
    covered = defaultdict(float)
    for row in rows:
        chain = chains.get(row["validator__farm_id"])
        per_year = chain.epochs_per_year if chain else None
        epoch_s = chain.epoch_s if chain else 0
        figures = result[row[key] if key else None]
        for name in WINDOWS:
            window = figures.window(name)
            if per_day:
                first, last = spans[name]
                if not first <= row["day"] <= last:
                    continue
                sums = row
                at = (row[key] if key else None, name, row["day"])
                covered[at] = max(covered[at], (row["attestations_max"] or 0) * epoch_s)
            else:
                sums = {column: row.get(f"{name}__{column}") for column in SUMMED}
                window.covered_s += (sums.get("attestations") or 0) * epoch_s
            window.add_days(sums, per_year)
            window.execution_income += int(sums.get("execution_income") or 0)
    for (group_key, name, _day), seconds in covered.items():
        result[group_key].window(name).covered_s += seconds
    return dict(result)


def set_figures(validators, *, today=None, chains=None) -> Figures:
    """The figures of a whole set of validators (a farm, a group, a filtered list)."""
    return figures_by(validators, None, today=today, chains=chains).get(None) or Figures()


def validator_figures(validator, *, today=None) -> Figures:
    queryset = Validator.objects.filter(pk=validator.pk)
    return figures_by(queryset, today=today).get(validator.pk) or Figures()


@dataclass
class Row:
    """A validator with its figures, as the list page and the API show it."""

    validator: Validator
    figures: Figures


def validator_rows(validators, *, today=None) -> list:
    """Every validator of the queryset with its figures, in the queryset's order, computed in a
    fixed number of queries (the validators with their group and farm, and figures_by's three)."""
    figures = figures_by(validators, today=today)
    return [
        Row(v, figures.get(v.pk) or Figures()) for v in validators.select_related("group", "farm")
    ]


def set_summary(validators) -> dict:
    """The number of validators, Σ balance and Σ effective balance (gwei), and (status, label,
    count) for each status present in the lifecycle's order, in one query."""
    rows = (
        validators.order_by()
        .values("status")
        .annotate(n=Count("pk"), balance=Sum("balance"), effective=Sum("effective_balance"))
    )
    counts, summary = {}, {"validators": 0, "balance": 0, "effective_balance": 0}
    for row in rows:
        counts[row["status"]] = row["n"]
        summary["validators"] += row["n"]
        summary["balance"] += row["balance"] or 0
        summary["effective_balance"] += row["effective"] or 0
    summary["status_counts"] = [
        (s.value, s.label, counts[s.value]) for s in Status if counts.get(s.value)
    ]
    return summary


# The list's sort keys. Columns of the validator row are ordered by the ORM; figure columns by
# a query over the window's day rows (validator_page_ids). Either way a validator without a
# value comes last, whichever the direction, then ties go by farm name, index and pk.
FIELD_SORTS = {
    "index": F("index"),
    "status": F("status"),
    "balance": F("balance"),
    "last_duty": F("last_duty_epoch"),
    "group": F("group__name"),
    "label": NullIf("label", Value("")),
}
FIGURE_SORTS = {"today": "today", "24h": "24h", "30d": "30d", "apr": "30d", "effectiveness": "30d"}
SORT_KEYS = (*FIELD_SORTS, *FIGURE_SORTS)


def validator_page_ids(validators, sort: str, start: int, stop: int, *, chains, today=None):
    """The pks of the validators at positions [start, stop) when ordered by a figure column
    (a key of FIGURE_SORTS, "-" first for descending), in that order: ordered and cut in SQL in
    one query (validators.db.validator_ids_by_day_sums), in the figures' own orders, validators
    without a value last."""
    key = sort.lstrip("-")
    first, last = window_days(today or utc_today())[FIGURE_SORTS[key]]
    return validator_ids_by_day_sums(
        validators,
        key,
        descending=sort.startswith("-"),
        first_day=first,
        last_day=last,
        epochs_per_year={farm: chain.epochs_per_year for farm, chain in chains.items()},
        apr_min_epochs={farm: apr_min_epochs(chain, "30d") for farm, chain in chains.items()},
        start=start,
        stop=stop,
    )


def apr_min_epochs(chain: Chain, window: str) -> int:
    """The active epochs a validator needs in `window` for an APR (Window.apr_covered)."""
    return math.ceil((APR_MIN_DAYS[window] * SECONDS_PER_DAY - 1) / chain.epoch_s)


class SortedRows:
    """The validators of a queryset as Rows in a sort order (a key of SORT_KEYS, "-" first for
    descending; an unknown key sorts by index), for a Paginator: counting, ordering and cutting
    run in SQL, and only a slice's validators have their figures computed, so a page of a
    farm of 100,000 validators costs about what a page of a farm of 100 costs.
    A slice runs a fixed number of queries: the page's validators (for a figure sort, their
    pks first) and figures_by's."""

    def __init__(self, validators, sort: str, *, chains, today=None):
        if sort.lstrip("-") not in SORT_KEYS:
            sort = "index"
        self.validators, self.sort, self.chains, self.today = validators, sort, chains, today
        self._count = None

    def count(self) -> int:
        if self._count is None:
            self._count = self.validators.count()
        return self._count

    def __len__(self):
        return self.count()

    def __getitem__(self, item):
        if not isinstance(item, slice) or item.step not in (None, 1):
            raise TypeError("SortedRows is read by slices")
        start = item.start or 0
        stop = self.count() if item.stop is None else item.stop
        key, descending = self.sort.lstrip("-"), self.sort.startswith("-")
        loaded = self.validators.select_related("group", "farm")
        if key in FIELD_SORTS:
            field = FIELD_SORTS[key]
            order = field.desc(nulls_last=True) if descending else field.asc(nulls_last=True)
            page = list(loaded.order_by(order, "farm__name", "index", "pk")[start:stop])
        else:
            pks = validator_page_ids(
                self.validators, self.sort, start, stop, chains=self.chains, today=self.today
            )
            by_pk = loaded.in_bulk(pks)
            page = [by_pk[pk] for pk in pks if pk in by_pk]
        if not page:
            return []
        figures = figures_by(
            Validator.objects.filter(pk__in=[v.pk for v in page]),
            today=self.today,
            chains=self.chains,
        )
        return [Row(v, figures.get(v.pk) or Figures()) for v in page]


def status_history(validator) -> list:
    """The validator's status changes, newest first: [(epoch, status, label)]."""
    labels = dict(Status.choices)
    return [
        (change.epoch, change.status, labels.get(change.status, change.status))
        for change in StatusChange.objects.filter(validator=validator).order_by("-epoch", "-pk")
    ]


# The daily income export, one row per validator and day, for tax reports.
CSV_HEADER = [
    "date", "validator_index", "pubkey", "consensus_income_gwei", "consensus_income_eth",
    "execution_income_wei", "execution_income_eth", "withdrawals_gwei", "deposits_gwei",
    "end_balance_gwei", "end_balance_eth",
]  # fmt: skip


def gwei_to_eth(gwei: int) -> str:
    """Exact decimal ETH, 9 places."""
    return f"{Decimal(gwei) / GWEI_PER_ETH:.9f}"


def wei_to_eth(wei: int) -> str:
    """Exact decimal ETH, 18 places."""
    return f"{Decimal(wei) / WEI_PER_ETH:.18f}"


def daily_income_rows(validators, *, since=None, until=None):
    """The export's rows (lists of strings and ints, in CSV_HEADER's order), by day then
    validator index, for the validators' day rows from `since` to `until` (dates, inclusive).

    Consensus income is the stored income (balance change + withdrawals - deposits), so neither
    a withdrawal nor a deposit is income; they are given in their own columns. Read with an
    iterator, so an export of many validators and years does not sit in memory."""
    days = ValidatorDay.objects.filter(validator__in=validators.order_by().values("pk"))
    if since is not None:
        days = days.filter(day__gte=since)
    if until is not None:
        days = days.filter(day__lte=until)
    rows = days.order_by("day", "validator__index", "validator_id").values_list(
        "day", "validator__index", "validator__pubkey", "income", "execution_income",
        "withdrawals", "deposits", "end_balance",
    )  # fmt: skip
    for day, index, pubkey, income, execution, withdrawals, deposits, end in rows.iterator(
        chunk_size=2000
    ):
        execution = int(execution or 0)
        yield [
            day.isoformat(), "" if index is None else index, pubkey, income, gwei_to_eth(income),
            execution, wei_to_eth(execution), withdrawals, deposits, end, gwei_to_eth(end),
        ]  # fmt: skip


def combine(figures_list) -> Figures:
    """The figures of several sets together (the list page's totals from its rows)."""
    total = Figures()
    for figures in figures_list:
        for name in WINDOWS:
            window, part = total.window(name), figures.window(name)
            for column in SUMMED:
                setattr(window, column, getattr(window, column) + getattr(part, column))
            # Sets side by side over the same days: the longest-followed one's span.
            window.covered_s = max(window.covered_s, part.covered_s)
            if window.balance_years is not None:
                if part.balance_years is None:
                    window.balance_years = None
                else:
                    window.balance_years += part.balance_years
    return total


def parse_day_range(params) -> tuple:
    """`from` and `to` query parameters as dates (YYYY-MM-DD, inclusive), either optional.
    Raises ValueError with a message meant for the user."""
    bounds = []
    for name in ("from", "to"):
        raw = (params.get(name) or "").strip()
        if not raw:
            bounds.append(None)
            continue
        try:
            bounds.append(dt.date.fromisoformat(raw))
        except ValueError:
            raise ValueError(f"'{name}' must be a date as YYYY-MM-DD, not {raw[:40]!r}.") from None
        if len(raw) != 10:
            raise ValueError(f"'{name}' must be a date as YYYY-MM-DD, not {raw[:40]!r}.")
    since, until = bounds
    if since and until and since > until:
        raise ValueError("'from' must not be after 'to'.")
    return since, until
