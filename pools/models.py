"""Pools, the farm's accounts on them, and what the pools report: samples, workers, payouts and
blocks. Money is an integer in the coin's smallest unit (wei for the ETH family) in a
DecimalField with no decimal places, as it passes 2^63."""

from django.db import models
from django.utils import timezone

from accounts.models import Farm
from ethdash.db import BaseUnitField, finite_check
from ethdash.fields import EndpointURLField


def money_field(**kwargs):
    return BaseUnitField(**kwargs)


class KnownPool(models.Model):
    """A public pool ethdash knows, loaded from pools/known_pools.json (by the migration that
    made this table, then by `manage.py load_known_pools` after each upgrade): each with its API
    format, base URL, coin and the rate limit its operator documents. A farm user picking one gets
    the site-wide Pool made from it, created on first use and shared by every farm after."""

    key = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=120, unique=True)
    api_format = models.CharField(max_length=30)
    base_url = EndpointURLField(help_text="e.g. https://etc.2miners.com (without /api)")
    pool_id = models.CharField(max_length=60, blank=True, help_text="Miningcore's pool id")
    coin = models.CharField(max_length=20)
    coin_decimals = models.PositiveSmallIntegerField(default=18)
    chain_id = models.PositiveBigIntegerField(null=True, blank=True)
    rate_limit_requests = models.PositiveIntegerField(null=True, blank=True)
    rate_limit_window_s = models.FloatField(null=True, blank=True)
    website = models.URLField(blank=True)
    source = models.CharField(
        max_length=300, blank=True, help_text="Where the format, URL and rate limit come from."
    )

    class Meta:
        ordering = ["coin", "name"]

    def __str__(self):
        return self.name


class Pool(models.Model):
    class ApiFormat(models.TextChoices):
        OPEN_ETHEREUM_POOL = "open-ethereum-pool", "open-ethereum-pool (2Miners style)"
        MININGCORE = "miningcore", "Miningcore"
        ETHERMINE_V1 = "ethermine-v1", "Ethermine/Flypool v1"
        NANOPOOL_V1 = "nanopool-v1", "Nanopool v1"

    class Breaker(models.TextChoices):
        CLOSED = "closed", "Closed (polling)"
        OPEN = "open", "Open (paused after repeated failures)"
        HALF_OPEN = "half_open", "Half open (one probe)"

    # Unique within its owner's scope (see Meta): among site-wide pools, and among one farm's
    # own, so a farm's choice of name never depends on, nor tells, what another farm entered.
    name = models.CharField(max_length=120)
    api_format = models.CharField(max_length=30, choices=ApiFormat.choices)
    base_url = EndpointURLField(
        help_text="e.g. https://etc.2miners.com (without /api)",
    )
    pool_id = models.CharField(max_length=60, blank=True, help_text="Miningcore's pool id")
    coin = models.CharField(max_length=20, help_text="Ticker, e.g. ETC")
    coin_decimals = models.PositiveSmallIntegerField(
        default=18, help_text="Decimals of the coin's smallest unit (18 for wei)."
    )
    chain_id = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="EVM chain id, to check payouts on chain (61 for ETC)."
    )
    rate_limit_requests = models.PositiveIntegerField(
        null=True, blank=True, help_text="Requests allowed per window; blank: the format's own."
    )
    rate_limit_window_s = models.FloatField(null=True, blank=True)
    poll_interval_s = models.PositiveIntegerField(
        null=True, blank=True, help_text="Blank: the format's default."
    )
    notifications_url = EndpointURLField(
        schemes=("ws", "wss"),
        max_length=300,
        blank=True,
        help_text="Miningcore's ws(s)://host:port/notifications: block, payment and hashrate "
        "events make accounts due at once. Blank: polling only.",
    )
    # A cycle leases the pool, so only one worker talks to its host at a time and the host's rate
    # limit, kept in that worker's memory, holds across several workers.
    poll_lease_until = models.DateTimeField(null=True, blank=True)
    # Circuit breaker for the pool's host: after repeated failures polling pauses, then one probe.
    breaker = models.CharField(max_length=10, choices=Breaker.choices, default=Breaker.CLOSED)
    breaker_failures = models.PositiveIntegerField(default=0)
    breaker_open_until = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    # Where the pool came from. A known pool's Pool is site-wide (farm empty), as are pools made
    # in the admin; a custom base URL entered by a farm makes a pool of that farm only, seen by
    # no other farm's pickers or pages.
    known_pool = models.OneToOneField(
        KnownPool, null=True, blank=True, on_delete=models.SET_NULL, related_name="pool"
    )
    farm = models.ForeignKey(
        Farm,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="custom_pools",
        help_text="The farm that entered this pool's address; empty: a site-wide pool.",
    )
    # Pool-wide statistics are read once per poll interval, by the cycle that polls its accounts.
    stats_next_at = models.DateTimeField(null=True, blank=True)
    stats_error = models.CharField(max_length=500, blank=True)
    stats_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["name"],
                condition=models.Q(farm__isnull=True),
                name="pool_name_unique_site_wide",
                violation_error_message="A site-wide pool already has this name.",
            ),
            models.UniqueConstraint(
                fields=["farm", "name"],
                condition=models.Q(farm__isnull=False),
                name="pool_name_unique_per_farm",
                violation_error_message="This farm already has a pool of this name.",
            ),
        ]

    def __str__(self):
        return self.name


class PoolAccount(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "New (never polled)"
        OK = "ok", "OK"
        # The pool answered that it has no data for the wallet: it has sent no shares yet.
        WAITING = "waiting", "Waiting for first shares"
        ERROR = "error", "Error"
        # Never stored: how an OK or waiting account past its stale_at reads (current_status).
        STALE = "stale", "Stale (not polled lately)"

    farm = models.ForeignKey(Farm, on_delete=models.CASCADE, related_name="pool_accounts")
    pool = models.ForeignKey(Pool, on_delete=models.PROTECT, related_name="accounts")
    login = models.CharField(max_length=200, help_text="Wallet address or pool login.")
    label = models.CharField(max_length=120, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    next_poll_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_poll_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    # When an answer of the pool (figures, or "no data yet") stops being current: the pool's poll
    # interval times ETHDASH_POOL_STALE_AFTER_POLLS after it, set at each such answer.
    stale_at = models.DateTimeField(
        null=True, blank=True, help_text="Stale if the pool has not answered before this time."
    )
    last_error = models.CharField(max_length=500, blank=True)
    last_error_kind = models.CharField(max_length=20, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    # Polls in a row that brought no snapshot (an error, or the pool's "no data for this
    # wallet"); a stored snapshot resets it. The "polls without data" alert reads it.
    failed_polls = models.PositiveIntegerField(default=0)
    # The newest figures, kept on the account so lists need no time-series query.
    current_hashrate_hs = models.FloatField(null=True, blank=True)
    average_hashrate_hs = models.FloatField(null=True, blank=True)
    reported_hashrate_hs = models.FloatField(null=True, blank=True)
    workers_online = models.PositiveIntegerField(null=True, blank=True)
    workers_offline = models.PositiveIntegerField(null=True, blank=True)
    unpaid = money_field(null=True, blank=True)
    immature = money_field(null=True, blank=True)
    paid_total = money_field(null=True, blank=True)
    last_share_at = models.DateTimeField(null=True, blank=True)
    # Reconciliation: the pool's effective hashrate against what the matched rigs measured.
    measured_hashrate_hs = models.FloatField(
        null=True, blank=True, help_text="Matched rigs' own hashrate, last hour's average."
    )
    effective_ratio = models.FloatField(
        null=True, blank=True, help_text="Pool-effective over rig-measured, last hour."
    )
    gap_since = models.DateTimeField(
        null=True, blank=True, help_text="Since when effective has stayed under the threshold."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["farm", "pool", "login"]
        constraints = [
            finite_check(
                "poolaccount_figures_finite",
                "current_hashrate_hs",
                "average_hashrate_hs",
                "reported_hashrate_hs",
                "measured_hashrate_hs",
                "effective_ratio",
            ),
            models.UniqueConstraint(
                fields=["farm", "pool", "login"], name="poolaccount_unique_farm_pool_login"
            ),
        ]

    def __str__(self):
        return self.label or f"{self.login} on {self.pool}"

    # Reading the status. Polls write "ok" or "waiting" and move stale_at on; when no poll has
    # answered for a while (the worker, beat or the pool's breaker stopped them), nothing writes
    # anything, so pages, the API and /metrics read the status through these: an OK or waiting
    # account past its stale_at is stale now, and reading writes nothing. An error stays an
    # error: its message says more.

    @classmethod
    def silent_q(cls, now):
        """The accounts that read stale at `now`, as a query (is_silent's condition)."""
        return models.Q(status__in=[cls.Status.OK, cls.Status.WAITING], stale_at__lt=now)

    def is_silent(self, now=None) -> bool:
        at = self.goes_stale_at
        return at is not None and at < (now or timezone.now())

    @property
    def goes_stale_at(self):
        """When the account will read stale if nothing more is heard (pages turn it stale then,
        without a reload): its stale_at while OK or waiting; None for an error, which stays one."""
        if self.status in (self.Status.OK, self.Status.WAITING):
            return self.stale_at
        return None

    @property
    def current_status(self) -> str:
        return self.Status.STALE if self.is_silent() else self.status

    def get_current_status_display(self) -> str:
        return self.Status(self.current_status).label

    @property
    def current_status_reason(self) -> str:
        """Why a stale account is stale (empty otherwise: an error has last_error)."""
        return self.silence_reason if self.is_silent() else ""

    @property
    def silence_reason(self) -> str:
        """What a stale account's page says, also rendered ahead (hidden) for the page to show
        when the account turns stale while it is open."""
        # A waiting account's last answer was "no data yet", which sets no last_success_at.
        answered = self.last_poll_at if self.status == self.Status.WAITING else self.last_success_at
        when = f"since {answered:%Y-%m-%d %H:%M:%S} UTC" if answered else "for a while"
        return f"No answer from the pool {when}; the figures shown are its last."


class PoolSample(models.Model):
    account = models.ForeignKey(
        PoolAccount, on_delete=models.CASCADE, related_name="samples", db_index=False
    )
    ts = models.DateTimeField()
    current_hashrate_hs = models.FloatField(null=True)
    average_hashrate_hs = models.FloatField(null=True)
    reported_hashrate_hs = models.FloatField(null=True)
    shares_valid = models.BigIntegerField(null=True)
    shares_stale = models.BigIntegerField(null=True)
    shares_invalid = models.BigIntegerField(null=True)
    workers_online = models.PositiveIntegerField(null=True)
    workers_offline = models.PositiveIntegerField(null=True)
    unpaid = money_field(null=True)
    immature = money_field(null=True)

    class Meta:
        constraints = [
            finite_check(
                "poolsample_finite",
                "current_hashrate_hs",
                "average_hashrate_hs",
                "reported_hashrate_hs",
            ),
            models.UniqueConstraint(fields=["account", "ts"], name="poolsample_unique_account_ts"),
        ]

    def __str__(self):
        return f"{self.account} at {self.ts:%Y-%m-%d %H:%M}"


class PoolWorker(models.Model):
    account = models.ForeignKey(PoolAccount, on_delete=models.CASCADE, related_name="workers")
    name = models.CharField(
        max_length=120, blank=True, help_text="Empty: the pool's default worker."
    )
    rig = models.ForeignKey(
        "rigs.Rig",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="pool_workers",
        help_text="The rig this worker is; matched by name, editable.",
    )
    current_hashrate_hs = models.FloatField(null=True, blank=True)
    average_hashrate_hs = models.FloatField(null=True, blank=True)
    reported_hashrate_hs = models.FloatField(null=True, blank=True)
    online = models.BooleanField(null=True)
    last_share_at = models.DateTimeField(null=True, blank=True)
    shares_valid = models.BigIntegerField(null=True, blank=True)
    shares_stale = models.BigIntegerField(null=True, blank=True)
    shares_invalid = models.BigIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["account", "name"]
        constraints = [
            finite_check(
                "poolworker_figures_finite",
                "current_hashrate_hs",
                "average_hashrate_hs",
                "reported_hashrate_hs",
            ),
            models.UniqueConstraint(
                fields=["account", "name"], name="poolworker_unique_account_name"
            ),
        ]

    def __str__(self):
        return f"{self.name or '(default)'} on {self.account}"


class PoolWorkerSample(models.Model):
    """What the pool said of one worker at one poll: the history behind the rig page's chart of
    rig-measured against pool-reported and pool-effective hashrate."""

    worker = models.ForeignKey(
        PoolWorker, on_delete=models.CASCADE, related_name="samples", db_index=False
    )
    ts = models.DateTimeField()
    current_hashrate_hs = models.FloatField(null=True)
    reported_hashrate_hs = models.FloatField(null=True)

    class Meta:
        constraints = [
            finite_check("poolworkersample_finite", "current_hashrate_hs", "reported_hashrate_hs"),
            models.UniqueConstraint(fields=["worker", "ts"], name="poolworkersample_unique"),
        ]

    def __str__(self):
        return f"{self.worker} at {self.ts:%Y-%m-%d %H:%M}"


class Payout(models.Model):
    class ChainState(models.TextChoices):
        PENDING = "pending", "Not checked yet"
        CONFIRMED = "confirmed", "Confirmed on chain"
        MISMATCH = "mismatch", "Mismatch"
        NOT_FOUND = "not_found", "Not found on chain"
        NOT_VERIFIABLE = "not_verifiable", "Not verifiable (no node for this chain)"

    account = models.ForeignKey(PoolAccount, on_delete=models.CASCADE, related_name="payouts")
    tx_hash = models.CharField(max_length=130)
    amount = money_field()
    fee = money_field(null=True, blank=True)
    paid_at = models.DateTimeField()
    chain_state = models.CharField(
        max_length=16, choices=ChainState.choices, default=ChainState.PENDING
    )
    chain_detail = models.CharField(max_length=300, blank=True, help_text="What differs, if any.")
    block_number = models.PositiveBigIntegerField(null=True, blank=True)
    confirmations = models.PositiveBigIntegerField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-paid_at"]
        # One transaction may pay several addresses (Miningcore batches payouts), so a payout is
        # unique per account and transaction: listed twice or on two pages, it is stored once.
        constraints = [
            models.UniqueConstraint(fields=["account", "tx_hash"], name="payout_unique_account_tx")
        ]

    def __str__(self):
        return f"{self.tx_hash[:12]}… to {self.account}"


class PoolBlock(models.Model):
    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="blocks")
    height = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=130, blank=True)
    reward = money_field(null=True, blank=True)
    found_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, blank=True)

    class Meta:
        ordering = ["-height"]
        constraints = [
            models.UniqueConstraint(fields=["pool", "height", "hash"], name="poolblock_unique")
        ]

    def __str__(self):
        return f"{self.pool} block {self.height}"


class PoolStatsSample(models.Model):
    """What a pool said of itself at one poll: one row per pool and time, whichever farms have
    accounts there. Units: hashrates H/s; effort a fraction (1.0 = one block's expected work);
    difficulty as the pool reports it (hashes per block for the ETH family). A figure the pool's
    format does not give is empty, never zero."""

    pool = models.ForeignKey(
        Pool, on_delete=models.CASCADE, related_name="stats_samples", db_index=False
    )
    ts = models.DateTimeField()
    pool_hashrate_hs = models.FloatField(null=True)
    miners = models.PositiveIntegerField(null=True)
    workers = models.PositiveIntegerField(null=True)
    blocks_total = models.PositiveBigIntegerField(null=True)
    last_block_at = models.DateTimeField(null=True)
    effort = models.FloatField(null=True, help_text="Current round's effort, a fraction.")
    network_hashrate_hs = models.FloatField(null=True)
    network_difficulty = models.FloatField(null=True)
    block_height = models.PositiveBigIntegerField(null=True)

    class Meta:
        constraints = [
            finite_check(
                "poolstatssample_finite",
                "pool_hashrate_hs",
                "effort",
                "network_hashrate_hs",
                "network_difficulty",
            ),
            models.UniqueConstraint(fields=["pool", "ts"], name="poolstatssample_unique_pool_ts"),
        ]

    def __str__(self):
        return f"{self.pool} at {self.ts:%Y-%m-%d %H:%M}"
