"""A farm's validators on /metrics (docs/metrics.md).

A farm may have 100,000 validators, so by default the series are per farm and per group (counts
and gwei sums by status), plus the farm's last processed epoch; one series per validator only
when the scrape asks for it (`?validators=each`)."""

from django.db.models import Count, Q, Sum
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from validators.models import BeaconNode, EpochSummary, Validator, ValidatorGroup

GROUP_LABELS = ["farm_id", "group_id", "group", "status"]
EPOCH_FIELDS = {
    "income": ("ethdash_validators_epoch_income_gwei", "Consensus income of the epoch, gwei."),
    "attestations_missed": (
        "ethdash_validators_epoch_attestations_missed",
        "Attestations the farm's validators missed in the epoch.",
    ),
    "proposals": ("ethdash_validators_epoch_proposals", "Blocks proposed in the epoch."),
    "proposals_missed": (
        "ethdash_validators_epoch_proposals_missed",
        "Proposals missed in the epoch.",
    ),
    "sync_missed": (
        "ethdash_validators_epoch_sync_missed",
        "Sync-committee duties missed in the epoch.",
    ),
}


def collect(farm_ids, options):
    yield from _groups(farm_ids)
    yield from _last_epoch(farm_ids)
    yield from _nodes(farm_ids)
    if options.get("validators") == "each":
        yield from _each(farm_ids)


def _groups(farm_ids):
    names = dict(ValidatorGroup.objects.filter(farm_id__in=farm_ids).values_list("pk", "name"))
    count = GaugeMetricFamily(
        "ethdash_validators", "Validators, by group and status.", labels=GROUP_LABELS
    )
    balance = GaugeMetricFamily(
        "ethdash_validators_balance_gwei",
        "Sum of the validators' balances, by group and status.",
        labels=GROUP_LABELS,
    )
    effective = GaugeMetricFamily(
        "ethdash_validators_effective_balance_gwei",
        "Sum of the validators' effective balances, by group and status.",
        labels=GROUP_LABELS,
    )
    live = GaugeMetricFamily(
        "ethdash_validators_live",
        "Validators seen attesting in their last liveness check, by group and status.",
        labels=GROUP_LABELS,
    )
    slashed = GaugeMetricFamily(
        "ethdash_validators_slashed",
        "Slashed validators, by group and status.",
        labels=GROUP_LABELS,
    )
    rows = (
        Validator.objects.filter(farm_id__in=farm_ids)
        .values("farm_id", "group_id", "status")
        .annotate(
            n=Count("pk"),
            balance_gwei=Sum("balance"),
            effective_gwei=Sum("effective_balance"),
            live_n=Count("pk", filter=Q(is_live=True)),
            slashed_n=Count("pk", filter=Q(slashed=True)),
        )
        .order_by("farm_id", "group_id", "status")
    )
    for row in rows:
        group_id = row["group_id"]
        labels = [
            str(row["farm_id"]),
            "" if group_id is None else str(group_id),
            names.get(group_id, ""),
            row["status"],
        ]
        count.add_metric(labels, row["n"])
        balance.add_metric(labels, row["balance_gwei"] or 0)
        effective.add_metric(labels, row["effective_gwei"] or 0)
        live.add_metric(labels, row["live_n"])
        slashed.add_metric(labels, row["slashed_n"])
    yield from (count, balance, effective, live, slashed)


def _last_epoch(farm_ids):
    epoch = GaugeMetricFamily(
        "ethdash_validators_last_epoch",
        "The last epoch processed for the farm's validators.",
        labels=["farm_id"],
    )
    families = {
        field: GaugeMetricFamily(name, text, labels=["farm_id"])
        for field, (name, text) in EPOCH_FIELDS.items()
    }
    for farm_id in farm_ids:
        last = (
            EpochSummary.objects.filter(farm_id=farm_id, skipped="")
            .order_by("-epoch")
            .values("epoch", *EPOCH_FIELDS)
            .first()
        )
        if last is None:
            continue
        epoch.add_metric([str(farm_id)], last["epoch"])
        for field, family in families.items():
            family.add_metric([str(farm_id)], last[field])
    yield from (epoch, *families.values())


def _nodes(farm_ids):
    health = GaugeMetricFamily(
        "ethdash_beacon_node_health",
        "1 for the beacon node's health now (silent: not checked lately).",
        labels=["farm_id", "node_id", "node", "health"],
    )
    checked = GaugeMetricFamily(
        "ethdash_beacon_node_checked_timestamp_seconds",
        "When the beacon node was last checked (Unix time).",
        labels=["farm_id", "node_id", "node"],
    )
    now = timezone.now()
    nodes = BeaconNode.objects.filter(farm_id__in=farm_ids).order_by("farm_id", "priority", "pk")
    for node in nodes.only("farm_id", "name", "health", "stale_at", "checked_at"):
        labels = [str(node.farm_id), str(node.pk), node.name]
        # As pages read it (BeaconNode.current_health): silent past its stale_at, worker or not.
        health.add_metric(
            [*labels, BeaconNode.Health.SILENT if node.is_silent(now) else node.health], 1
        )
        if node.checked_at is not None:
            checked.add_metric(labels, node.checked_at.timestamp())
    yield from (health, checked)


def _each(farm_ids):
    # The validator's id in ethdash and its beacon index (empty until it has one); not the
    # public key, which would make a 100,000-validator scrape 62 MB instead of about 20.
    labels = ["farm_id", "validator_id", "validator_index", "group_id"]
    balance = GaugeMetricFamily(
        "ethdash_validator_balance_gwei", "The validator's balance.", labels=labels
    )
    effective = GaugeMetricFamily(
        "ethdash_validator_effective_balance_gwei",
        "The validator's effective balance.",
        labels=labels,
    )
    status = GaugeMetricFamily(
        "ethdash_validator_status", "1 for the validator's status.", labels=[*labels, "status"]
    )
    rows = (
        Validator.objects.filter(farm_id__in=farm_ids)
        .order_by("farm_id", "index", "pk")
        .values_list("farm_id", "pk", "index", "group_id", "status", "balance", "effective_balance")
    )
    for farm_id, pk, index, group_id, state, gwei, effective_gwei in rows.iterator(2000):
        values = [
            str(farm_id),
            str(pk),
            "" if index is None else str(index),
            "" if group_id is None else str(group_id),
        ]
        status.add_metric([*values, state], 1)
        if gwei is not None:
            balance.add_metric(values, gwei)
        if effective_gwei is not None:
            effective.add_metric(values, effective_gwei)
    yield from (status, balance, effective)
