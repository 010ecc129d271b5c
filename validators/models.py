"""Beacon nodes, the farm's validators and what the chain says of them, epoch by epoch.

Units: consensus amounts (balances, rewards, withdrawals, deposits) are integers in gwei;
execution amounts (priority fees, MEV payments, relay values) in wei, exact (BaseUnitField).
Epochs and slots are chain numbers; days are UTC dates.

Storage is shaped for a large operator (100,000 validators make 22.5 million validator-epochs a
day): a validator's current figures live on its row; each day has one row per validator that
every processed epoch adds to; a full per-epoch row is kept only where an epoch was not perfect
(a missed or wrong vote, a penalty, a missed sync duty); the farm's totals have one row per
epoch. Retention is in docs/validators.md.
"""

from django.db import models
from django.utils import timezone

from accounts.models import Farm
from ethdash.db import BaseUnitField
from ethdash.fields import EndpointURLField


class BeaconNode(models.Model):
    class Health(models.TextChoices):
        UNKNOWN = "unknown", "Not checked yet"
        READY = "ready", "Ready"
        SYNCING = "syncing", "Syncing"
        OPTIMISTIC = "optimistic", "Optimistic (execution client not validated)"
        DOWN = "down", "Unreachable or failing"
        # Never stored: how a node nobody has checked since its stale_at reads (current_health).
        SILENT = "silent", "Not checked lately"

    farm = models.ForeignKey(Farm, on_delete=models.CASCADE, related_name="beacon_nodes")
    name = models.CharField(max_length=120)
    url = EndpointURLField(
        help_text="Base URL of the node's Beacon API, e.g. http://10.0.0.5:5052",
    )
    auth_header = models.CharField(
        max_length=500,
        blank=True,
        help_text='Optional header sent with every request, as "Name: value" '
        '(e.g. "Authorization: Bearer …").',
    )
    priority = models.PositiveSmallIntegerField(default=0, help_text="Lower is tried first.")
    health = models.CharField(max_length=12, choices=Health.choices, default=Health.UNKNOWN)
    head_slot = models.PositiveBigIntegerField(null=True, blank=True)
    sync_distance = models.PositiveBigIntegerField(null=True, blank=True)
    el_offline = models.BooleanField(default=False)
    checked_at = models.DateTimeField(null=True, blank=True)
    # Each check sets it ETHDASH_NODE_SILENT_S ahead: past it, the stored health is too old to
    # stand (current_health).
    stale_at = models.DateTimeField(
        null=True, blank=True, help_text="Silent if no check has answered before this time."
    )
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    # Read from the node (never hard-coded), so testnets and devnets work.
    genesis_time = models.PositiveBigIntegerField(null=True, blank=True)
    seconds_per_slot = models.FloatField(null=True, blank=True)
    slots_per_epoch = models.PositiveIntegerField(null=True, blank=True)
    epochs_per_sync_period = models.PositiveIntegerField(null=True, blank=True)
    deposit_chain_id = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="The execution chain's id (the spec's DEPOSIT_CHAIN_ID)"
    )
    # When the node last answered that it does not serve states/{id}/pending_deposits: it is
    # not asked again before validators.services.process.PENDING_QUEUE_RECHECK has passed.
    pending_deposits_missing_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["farm", "priority", "name"]

    def __str__(self):
        return self.name

    @property
    def trusted(self) -> bool:
        """Only a synced, non-optimistic node may supply new epochs."""
        return self.health == self.Health.READY

    # Reading the health. Epoch processing checks each node (at most once a slot) and stores
    # what it found; with no worker running, nothing does, so pages, the API and /metrics read
    # the health through these: a node whose last check is past its stale_at reads silent, and
    # reading writes nothing. A node found down stays down: its error says more.

    @classmethod
    def silent_q(cls, now):
        """The nodes that read silent at `now`, as a query (is_silent's condition)."""
        return models.Q(stale_at__lt=now) & ~models.Q(
            health__in=[cls.Health.UNKNOWN, cls.Health.DOWN]
        )

    def is_silent(self, now=None) -> bool:
        at = self.goes_silent_at
        return at is not None and at < (now or timezone.now())

    @property
    def goes_silent_at(self):
        """When the node will read silent if it is not checked again (the nodes page turns it
        silent then, without a reload): its stale_at, unless unknown or down, which stay so."""
        if self.health in (self.Health.UNKNOWN, self.Health.DOWN):
            return None
        return self.stale_at

    @property
    def current_health(self) -> str:
        return self.Health.SILENT if self.is_silent() else self.health

    def get_current_health_display(self) -> str:
        return self.Health(self.current_health).label


class MevRelay(models.Model):
    """A relay whose data API (bidtraces/proposer_payload_delivered) is asked what it claims it
    paid for the farm's proposals; the claim is shown beside the on-chain payment."""

    farm = models.ForeignKey(Farm, on_delete=models.CASCADE, related_name="mev_relays")
    name = models.CharField(max_length=120)
    url = EndpointURLField(help_text="Base URL, e.g. https://boost-relay.flashbots.net")

    class Meta:
        ordering = ["farm", "name"]
        constraints = [
            models.UniqueConstraint(fields=["farm", "url"], name="mevrelay_unique_farm_url")
        ]

    def __str__(self):
        return self.name


class ValidatorGroup(models.Model):
    farm = models.ForeignKey(Farm, on_delete=models.CASCADE, related_name="validator_groups")
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["farm", "name"]
        constraints = [
            models.UniqueConstraint(fields=["farm", "name"], name="validatorgroup_unique_name")
        ]

    def __str__(self):
        return self.name


class Status(models.TextChoices):
    """The Beacon API's validator statuses, plus "unknown" until the node has been asked."""

    UNKNOWN = "unknown", "Unknown"
    PENDING_INITIALIZED = "pending_initialized", "Pending (deposit seen)"
    PENDING_QUEUED = "pending_queued", "Pending (in the activation queue)"
    ACTIVE_ONGOING = "active_ongoing", "Active"
    ACTIVE_EXITING = "active_exiting", "Active, exiting"
    ACTIVE_SLASHED = "active_slashed", "Slashed (still active)"
    EXITED_UNSLASHED = "exited_unslashed", "Exited"
    EXITED_SLASHED = "exited_slashed", "Exited (slashed)"
    WITHDRAWAL_POSSIBLE = "withdrawal_possible", "Withdrawable"
    WITHDRAWAL_DONE = "withdrawal_done", "Withdrawn"


class Validator(models.Model):
    farm = models.ForeignKey(Farm, on_delete=models.CASCADE, related_name="validators")
    index = models.PositiveBigIntegerField(null=True, blank=True)
    pubkey = models.CharField(
        max_length=98, blank=True, help_text="0x-prefixed BLS public key (96 hex digits)"
    )
    label = models.CharField(max_length=120, blank=True)
    group = models.ForeignKey(
        ValidatorGroup,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="validators",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # What the beacon node said last (updated by each processed epoch).
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.UNKNOWN)
    slashed = models.BooleanField(default=False)
    withdrawal_credentials = models.CharField(max_length=66, blank=True)
    balance = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="gwei, at the start of balance_epoch"
    )
    balance_epoch = models.PositiveBigIntegerField(null=True, blank=True)
    effective_balance = models.PositiveBigIntegerField(null=True, blank=True, help_text="gwei")
    activation_epoch = models.PositiveBigIntegerField(null=True, blank=True)
    exit_epoch = models.PositiveBigIntegerField(null=True, blank=True)
    withdrawable_epoch = models.PositiveBigIntegerField(null=True, blank=True)
    last_duty = models.CharField(max_length=200, blank=True)
    last_duty_epoch = models.PositiveBigIntegerField(null=True, blank=True)
    is_live = models.BooleanField(null=True, blank=True, help_text="Seen attesting (liveness)")
    is_live_epoch = models.PositiveBigIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["farm", "index"]
        # The farm's slashed validators (validators.alert_kinds, after each stored epoch)
        # without walking all of them: a handful of rows, if any.
        indexes = [
            models.Index(
                fields=["farm"], condition=models.Q(slashed=True), name="validator_slashed"
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["farm", "pubkey"],
                condition=~models.Q(pubkey=""),
                name="validator_unique_farm_pubkey",
            ),
            models.UniqueConstraint(
                fields=["farm", "index"],
                condition=models.Q(index__isnull=False),
                name="validator_unique_farm_index",
            ),
            models.CheckConstraint(
                condition=~models.Q(pubkey="") | models.Q(index__isnull=False),
                name="validator_index_or_pubkey",
            ),
        ]

    def __str__(self):
        if self.label:
            return self.label
        return f"#{self.index}" if self.index is not None else self.pubkey[:12] + "…"

    @property
    def withdrawal_address(self) -> str:
        """The execution address of 0x01/0x02 credentials; "" for BLS (0x00) ones."""
        if (
            self.withdrawal_credentials[:4] in ("0x01", "0x02")
            and len(self.withdrawal_credentials) == 66
        ):
            return "0x" + self.withdrawal_credentials[-40:]
        return ""


class ValidatorSync(models.Model):
    """A farm's cursor through the chain: the next epoch to process, a lease so that one worker
    processes a farm at a time, and what went wrong last. And a second cursor for a backfill of
    older epochs (backfill_from, asked for in the admin), which runs after the live epochs of
    each run, oldest first, up to the epoch before the first one processed live."""

    farm = models.OneToOneField(Farm, on_delete=models.CASCADE, related_name="validator_sync")
    next_epoch = models.PositiveBigIntegerField(null=True, blank=True)
    head_epoch = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Newest epoch whose rewards are final on the node"
    )
    backfill_from = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text="Fetch older epochs from this one, as far back as the beacon nodes keep states",
    )
    backfill_start = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="The backfill's first epoch: backfill_from, or later"
    )
    backfill_next = models.PositiveBigIntegerField(null=True, blank=True)
    backfill_until = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="The backfill's last epoch: before the first live one"
    )
    backfill_note = models.CharField(
        max_length=300, blank=True, help_text="Why the backfill starts later than asked"
    )
    lease_until = models.DateTimeField(null=True, blank=True)
    sync_period_checked = models.BigIntegerField(default=-1)
    node = models.ForeignKey(
        BeaconNode, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    processed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"sync of {self.farm}"

    @property
    def behind(self) -> int:
        if self.next_epoch is None or self.head_epoch is None:
            return 0
        return max(0, self.head_epoch + 1 - self.next_epoch)

    @property
    def backfilling(self) -> bool:
        return (
            self.backfill_next is not None
            and self.backfill_until is not None
            and self.backfill_next <= self.backfill_until
        )

    @property
    def backfill_percent(self) -> int | None:
        """How much of the backfill's range is done, in whole percent; None without one."""
        if self.backfill_start is None or self.backfill_until is None:
            return None
        if self.backfill_until < self.backfill_start:
            return 100
        done = min(self.backfill_next or self.backfill_start, self.backfill_until + 1)
        total = self.backfill_until + 1 - self.backfill_start
        return (done - self.backfill_start) * 100 // total

    @property
    def backfill_progress(self) -> str:
        """ "backfilling: epoch 1,234 of 1,234–5,678, 0 %", or what the finished backfill did;
        "" without a backfill."""
        if self.backfill_start is None or self.backfill_until is None:
            return ""
        if self.backfilling:
            return (
                f"backfilling: epoch {self.backfill_next:,} of {self.backfill_start:,}–"
                f"{self.backfill_until:,}, {self.backfill_percent} %"
            )
        if self.backfill_until < self.backfill_start:
            return "backfill: nothing to fetch"
        return f"backfilled epochs {self.backfill_start:,}–{self.backfill_until:,}"

    def restart_backfill(self) -> None:
        """A new backfill_from: the next run works out the new range."""
        self.backfill_start = self.backfill_next = self.backfill_until = None
        self.backfill_note = ""


class EpochSummary(models.Model):
    """The farm's totals for one epoch; its existence marks the epoch as processed."""

    farm = models.ForeignKey(Farm, on_delete=models.CASCADE, related_name="epoch_summaries")
    epoch = models.PositiveBigIntegerField()
    node = models.ForeignKey(
        BeaconNode, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    processed_at = models.DateTimeField(auto_now_add=True)
    skipped = models.CharField(
        max_length=200, blank=True, help_text="Why the epoch could not be read (pruned state …)"
    )
    validators = models.PositiveIntegerField(default=0)
    active = models.PositiveIntegerField(default=0)
    effective_balance = models.PositiveBigIntegerField(default=0, help_text="gwei, summed")
    income = models.BigIntegerField(default=0, help_text="consensus income, gwei")
    attestation_reward = models.BigIntegerField(default=0)
    attestation_ideal = models.BigIntegerField(default=0)
    attestations_missed = models.PositiveIntegerField(default=0)
    head_missed = models.PositiveIntegerField(default=0)
    target_missed = models.PositiveIntegerField(default=0)
    source_missed = models.PositiveIntegerField(default=0)
    proposals = models.PositiveIntegerField(default=0)
    proposals_missed = models.PositiveIntegerField(default=0)
    proposals_orphaned = models.PositiveIntegerField(default=0)
    sync_reward = models.BigIntegerField(default=0)
    sync_missed = models.PositiveIntegerField(default=0)
    withdrawals = models.PositiveBigIntegerField(default=0)
    deposits = models.PositiveBigIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)
    requests = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["farm", "-epoch"]
        constraints = [
            models.UniqueConstraint(fields=["farm", "epoch"], name="epochsummary_unique")
        ]

    def __str__(self):
        return f"epoch {self.epoch} of {self.farm_id}"


class ValidatorEpoch(models.Model):
    """One validator's epoch in full, kept only where the epoch was not perfect."""

    pk = models.CompositePrimaryKey("validator", "epoch")
    validator = models.ForeignKey(Validator, on_delete=models.CASCADE, related_name="+")
    epoch = models.PositiveBigIntegerField()
    income = models.BigIntegerField(help_text="balance change + withdrawals - deposits, gwei")
    head = models.BigIntegerField()
    target = models.BigIntegerField()
    source = models.BigIntegerField()
    inactivity = models.BigIntegerField()
    ideal_head = models.BigIntegerField()
    ideal_target = models.BigIntegerField()
    ideal_source = models.BigIntegerField()
    sync_reward = models.BigIntegerField(default=0)
    sync_missed = models.PositiveSmallIntegerField(default=0)
    # The reasons the epoch was not perfect, as flags (see validators.services.records).
    flags = models.PositiveSmallIntegerField()

    class Meta:
        # The farm's imperfect validators of one epoch (validators.alert_kinds, after each
        # stored epoch) without scanning the 90 days of rows kept: the primary key leads with
        # the validator.
        indexes = [models.Index(fields=["epoch"], name="validatorepoch_epoch")]

    def __str__(self):
        return f"validator {self.validator_id}, epoch {self.epoch}"


class ValidatorDay(models.Model):
    """One validator's UTC day, added to by every processed epoch of that day."""

    pk = models.CompositePrimaryKey("validator", "day")
    validator = models.ForeignKey(Validator, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    first_epoch = models.PositiveBigIntegerField()
    last_epoch = models.PositiveBigIntegerField()
    epochs = models.PositiveIntegerField(default=0, help_text="epochs with a known income")
    start_balance = models.PositiveBigIntegerField()
    end_balance = models.PositiveBigIntegerField()
    effective_balance_sum = models.PositiveBigIntegerField(
        default=0, help_text="gwei × epochs: Σ effective balance over the epochs counted"
    )
    income = models.BigIntegerField(default=0, help_text="consensus income, gwei")
    execution_income = BaseUnitField(default=0, help_text="wei: priority fees or MEV payment")
    attestation_reward = models.BigIntegerField(default=0)
    attestation_ideal = models.BigIntegerField(default=0)
    attestations = models.PositiveIntegerField(default=0, help_text="attestation duties")
    attestations_missed = models.PositiveIntegerField(default=0)
    head_missed = models.PositiveIntegerField(default=0)
    target_missed = models.PositiveIntegerField(default=0)
    source_missed = models.PositiveIntegerField(default=0)
    missed_cost = models.BigIntegerField(
        default=0, help_text="gwei: ideal minus actual reward over missed attestations"
    )
    proposals = models.PositiveIntegerField(default=0)
    proposals_missed = models.PositiveIntegerField(default=0)
    proposals_orphaned = models.PositiveIntegerField(default=0)
    proposal_reward = models.BigIntegerField(default=0, help_text="consensus, gwei")
    sync_duties = models.PositiveIntegerField(default=0, help_text="slots")
    sync_missed = models.PositiveIntegerField(default=0)
    sync_reward = models.BigIntegerField(default=0)
    withdrawals = models.PositiveBigIntegerField(default=0, help_text="gwei")
    deposits = models.PositiveBigIntegerField(default=0, help_text="gwei")

    def __str__(self):
        return f"validator {self.validator_id}, {self.day}"


class Proposal(models.Model):
    class Outcome(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        PROPOSED = "proposed", "Proposed"
        MISSED = "missed", "Missed"
        ORPHANED = "orphaned", "Orphaned"

    class Execution(models.TextChoices):
        PENDING = "pending", "Not read yet"
        DONE = "done", "Read from the execution node"
        NOT_VERIFIABLE = "not_verifiable", "No execution node"
        ERROR = "error", "Execution node failed"
        NONE = "none", "No execution payload"

    validator = models.ForeignKey(Validator, on_delete=models.CASCADE, related_name="proposals")
    slot = models.PositiveBigIntegerField()
    epoch = models.PositiveBigIntegerField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    block_root = models.CharField(max_length=66, blank=True)
    consensus_reward = models.BigIntegerField(default=0, help_text="gwei")
    block_number = models.PositiveBigIntegerField(null=True, blank=True)
    block_hash = models.CharField(max_length=66, blank=True)
    fee_recipient = models.CharField(max_length=42, blank=True)
    execution = models.CharField(
        max_length=15, choices=Execution.choices, default=Execution.PENDING
    )
    execution_error = models.CharField(max_length=300, blank=True)
    priority_fees = BaseUnitField(null=True, blank=True, help_text="wei, to the fee recipient")
    mev_payment = BaseUnitField(
        null=True, blank=True, help_text="wei, last transaction of the block to the proposer"
    )
    mev_payer = models.CharField(max_length=42, blank=True)
    execution_reward = BaseUnitField(null=True, blank=True, help_text="wei, counted as income")
    relay = models.CharField(max_length=120, blank=True)
    relay_value = BaseUnitField(null=True, blank=True, help_text="wei, as the relay claims")
    relay_mismatch = models.BooleanField(default=False)

    class Meta:
        ordering = ["-slot"]
        constraints = [
            models.UniqueConstraint(fields=["validator", "slot"], name="proposal_unique_slot")
        ]

    def __str__(self):
        return f"slot {self.slot}: {self.outcome}"


class SyncDuty(models.Model):
    """A validator's membership of a sync committee period, with what it earned so far."""

    validator = models.ForeignKey(Validator, on_delete=models.CASCADE, related_name="sync_duties")
    period = models.PositiveBigIntegerField()
    from_epoch = models.PositiveBigIntegerField()
    until_epoch = models.PositiveBigIntegerField()
    slots = models.PositiveIntegerField(default=0)
    missed = models.PositiveIntegerField(default=0)
    reward = models.BigIntegerField(default=0, help_text="gwei")

    class Meta:
        ordering = ["-period"]
        constraints = [
            models.UniqueConstraint(fields=["validator", "period"], name="syncduty_unique")
        ]

    def __str__(self):
        return f"sync period {self.period}"


class Withdrawal(models.Model):
    """A withdrawal from the execution payload's list (amount in gwei)."""

    validator = models.ForeignKey(Validator, on_delete=models.CASCADE, related_name="withdrawals")
    withdrawal_index = models.PositiveBigIntegerField()
    slot = models.PositiveBigIntegerField()
    epoch = models.PositiveBigIntegerField()
    address = models.CharField(max_length=42)
    amount = models.PositiveBigIntegerField(help_text="gwei")

    class Meta:
        ordering = ["-slot"]
        constraints = [
            models.UniqueConstraint(
                fields=["validator", "withdrawal_index"], name="withdrawal_unique_index"
            )
        ]

    def __str__(self):
        return f"withdrawal {self.withdrawal_index}"


class StatusChange(models.Model):
    validator = models.ForeignKey(
        Validator, on_delete=models.CASCADE, related_name="status_changes"
    )
    epoch = models.PositiveBigIntegerField()
    status = models.CharField(max_length=20, choices=Status.choices)

    class Meta:
        ordering = ["-epoch"]
        constraints = [
            models.UniqueConstraint(
                fields=["validator", "epoch", "status"], name="statuschange_unique"
            )
        ]

    def __str__(self):
        return f"{self.status} from epoch {self.epoch}"


class DepositRequest(models.Model):
    """A deposit to one of the farm's validators seen in an Electra block. Since Electra a
    deposit is credited at a later epoch transition; it waits here until the pending queue or
    the validator's balance shows it credited (validators.services.epochs
    .credit_deposit_requests), so that it is never income. A row without a slot is a credit the
    balance showed and no block we read explains: a deposit requested before the farm's first
    epoch, or a consolidation's balance moved onto the validator."""

    validator = models.ForeignKey(
        Validator, on_delete=models.CASCADE, related_name="deposit_requests"
    )
    slot = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="of the block that carried it; empty: seen in the balance"
    )
    position = models.PositiveIntegerField(
        help_text="order in which that block applied it: body.deposits, then execution requests"
    )
    amount = models.PositiveBigIntegerField(help_text="gwei")
    credited_epoch = models.PositiveBigIntegerField(null=True, blank=True)
    counted = models.BooleanField(
        default=True,
        help_text="its amount is in the credited epoch's deposits; false: closed as credited "
        "earlier, in an epoch whose balance counted it without this row",
    )

    class Meta:
        ordering = ["validator", "slot", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["validator", "slot", "position"], name="depositrequest_unique"
            )
        ]

    def __str__(self):
        return f"{self.amount} gwei at slot {self.slot}"
