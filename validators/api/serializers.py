"""What the validators API says: the validators' current figures from the beacon node, and the
income, APR and duty figures of validators.services.figures. Consensus amounts are gwei
integers; execution amounts are wei as decimal strings, exact past what a JSON number holds. Then
the bodies of the writes: adding, discovery, changing a validator, groups, beacon nodes and MEV
relays."""

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ethdash.api import ModelSerializer
from ethdash.outbound import validate_destination
from validators.models import (
    BeaconNode,
    MevRelay,
    Proposal,
    Validator,
    ValidatorDay,
    ValidatorEpoch,
    ValidatorGroup,
)
from validators.services.adding import MAX_ENTRIES, MAX_INDEX
from validators.services.chain import Flag
from validators.services.figures import Figures
from validators.services.nodes import parse_auth_header
from validators.services.resolution import normalise_address


class WeiField(serializers.DecimalField):
    def __init__(self, **kwargs):
        super().__init__(max_digits=40, decimal_places=0, coerce_to_string=True, **kwargs)


class WindowSerializer(serializers.Serializer):
    consensus_income_gwei = serializers.IntegerField(source="income")
    execution_income_wei = WeiField(source="execution_income")
    income_wei = WeiField()
    effective_balance_sum_gwei = serializers.IntegerField(
        source="effective_balance_sum", help_text="Σ effective balance over the epochs counted"
    )
    epochs = serializers.IntegerField(help_text="validator-epochs with a known income")
    apr = serializers.FloatField(
        allow_null=True,
        help_text="fraction a year, CL and EL; null when unknown or when the data covers less "
        "than apr_min_s (then apr_note says so)",
    )
    apr_consensus = serializers.FloatField(allow_null=True)
    apr_execution = serializers.FloatField(allow_null=True)
    apr_covered_s = serializers.FloatField(
        source="covered_s", help_text="seconds of active epochs the window's data covers"
    )
    apr_min_s = serializers.IntegerField(help_text="the least covered span for an APR, seconds")
    apr_note = serializers.CharField(help_text='why there is no APR, e.g. "needs 7 days of data"')
    effectiveness = serializers.FloatField(
        allow_null=True, help_text="Σ attestation reward / Σ ideal attestation reward"
    )
    attestations = serializers.IntegerField()
    attestations_missed = serializers.IntegerField()
    missed_cost_gwei = serializers.IntegerField(source="missed_cost")
    proposals = serializers.IntegerField()
    proposals_missed = serializers.IntegerField()
    proposals_orphaned = serializers.IntegerField()
    proposal_reward_gwei = serializers.IntegerField(source="proposal_reward")
    sync_duties = serializers.IntegerField()
    sync_missed = serializers.IntegerField()
    sync_participation = serializers.FloatField(allow_null=True)
    withdrawals_gwei = serializers.IntegerField(source="withdrawals")
    deposits_gwei = serializers.IntegerField(source="deposits")


class FiguresSerializer(serializers.Serializer):
    today = WindowSerializer(help_text="The current UTC day so far")
    last_24h = WindowSerializer(source="day", help_text="The last complete UTC day")
    last_7d = WindowSerializer(source="week", help_text="The last 7 UTC days, today included")
    last_30d = WindowSerializer(source="month", help_text="The last 30 UTC days, today included")


@extend_schema_field(FiguresSerializer)
class FiguresFromContext(serializers.Field):
    """Figures computed for the whole page at once, looked up by the object's id (so a page of
    validators costs a fixed number of queries)."""

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, instance):
        figures = self.context.get("figures", {}).get(instance.pk) or Figures()
        return FiguresSerializer(figures).data


class ValidatorSerializer(serializers.ModelSerializer):
    group_name = serializers.CharField(
        source="group.name", default=None, read_only=True, allow_null=True
    )
    withdrawal_address = serializers.CharField(read_only=True)
    figures = FiguresFromContext()

    class Meta:
        model = Validator
        fields = [
            "id", "farm", "index", "pubkey", "label", "group", "group_name", "status", "slashed",
            "balance", "balance_epoch", "effective_balance", "activation_epoch", "exit_epoch",
            "withdrawable_epoch", "withdrawal_credentials", "withdrawal_address", "last_duty",
            "last_duty_epoch", "is_live", "is_live_epoch", "last_error", "figures",
        ]  # fmt: skip
        read_only_fields = fields


class ValidatorGroupSerializer(serializers.ModelSerializer):
    validators = serializers.IntegerField(source="member_count", read_only=True)
    figures = FiguresFromContext()

    class Meta:
        model = ValidatorGroup
        fields = ["id", "farm", "name", "validators", "figures"]
        read_only_fields = fields


class ValidatorDaySerializer(serializers.ModelSerializer):
    execution_income = WeiField(read_only=True)

    class Meta:
        model = ValidatorDay
        fields = [
            "day", "first_epoch", "last_epoch", "epochs", "start_balance", "end_balance",
            "effective_balance_sum", "income", "execution_income", "attestation_reward",
            "attestation_ideal", "attestations", "attestations_missed", "head_missed",
            "target_missed", "source_missed", "missed_cost", "proposals", "proposals_missed",
            "proposals_orphaned", "proposal_reward", "sync_duties", "sync_missed", "sync_reward",
            "withdrawals", "deposits",
        ]  # fmt: skip


class ValidatorEpochSerializer(serializers.ModelSerializer):
    reasons = serializers.SerializerMethodField()

    class Meta:
        model = ValidatorEpoch
        fields = [
            "epoch", "income", "head", "target", "source", "inactivity", "ideal_head",
            "ideal_target", "ideal_source", "sync_reward", "sync_missed", "flags", "reasons",
        ]  # fmt: skip

    def get_reasons(self, row) -> list[str]:
        return [flag.name.lower() for flag in Flag if row.flags & flag]


class ProposalSerializer(serializers.ModelSerializer):
    priority_fees = WeiField(read_only=True, allow_null=True)
    mev_payment = WeiField(read_only=True, allow_null=True)
    execution_reward = WeiField(read_only=True, allow_null=True)
    relay_value = WeiField(read_only=True, allow_null=True)

    class Meta:
        model = Proposal
        fields = [
            "slot", "epoch", "outcome", "block_root", "consensus_reward", "block_number",
            "block_hash", "fee_recipient", "execution", "execution_error", "priority_fees",
            "mev_payment", "mev_payer", "execution_reward", "relay", "relay_value",
            "relay_mismatch",
        ]  # fmt: skip


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "minimum": 0, "maximum": MAX_INDEX},
            # Up to 18 digits: every such index fits MAX_INDEX (2**63 - 1).
            {"type": "string", "pattern": r"^(?:[0-9]{1,18}|(?:0[xX])?[0-9a-fA-F]{96})$"},
        ]
    }
)
class ValidatorEntryField(serializers.JSONField):
    """One entry of a paste, an index or a pubkey; adding.parse_entry judges it, this field
    documents what it takes."""


class ValidatorAddSerializer(serializers.Serializer):
    farm = serializers.IntegerField(
        required=False, help_text="Default: the only farm the caller can change."
    )
    ids = serializers.ListField(
        child=ValidatorEntryField(),
        min_length=1,
        max_length=MAX_ENTRIES,
        help_text="Indices (numbers or decimal strings) and 0x pubkeys (96 hex digits); "
        f"at most {MAX_ENTRIES:,}.",
    )
    group = serializers.CharField(
        required=False, allow_blank=True, max_length=120, help_text="Created when new."
    )
    label = serializers.CharField(required=False, allow_blank=True, max_length=120)


class AddedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    index = serializers.IntegerField(allow_null=True)
    pubkey = serializers.CharField()


class SkippedSerializer(serializers.Serializer):
    entry = serializers.CharField()
    reason = serializers.CharField()


class ValidatorAddResultSerializer(serializers.Serializer):
    farm = serializers.IntegerField()
    group = serializers.CharField(allow_null=True)
    created = AddedSerializer(many=True)
    skipped = SkippedSerializer(many=True)


class BeaconNodeSerializer(ModelSerializer):
    farm = serializers.IntegerField(
        source="farm_id", required=False, help_text="Default: the only farm the caller can change."
    )
    auth_header = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=500,
        help_text='Optional, "Name: value"; never shown again.',
    )
    has_auth_header = serializers.SerializerMethodField()
    name = serializers.CharField(required=False, allow_blank=True, max_length=120)
    # As of now: a node nobody has checked since its stale_at is silent even though nothing has
    # written it (BeaconNode.current_health).
    health = serializers.ChoiceField(
        choices=BeaconNode.Health.choices, source="current_health", read_only=True
    )

    class Meta:
        model = BeaconNode
        fields = [
            "id", "farm", "name", "url", "auth_header", "has_auth_header", "priority", "health",
            "head_slot", "sync_distance", "el_offline", "checked_at", "stale_at", "last_error",
            "last_error_at", "genesis_time", "seconds_per_slot", "slots_per_epoch",
            "epochs_per_sync_period",
        ]  # fmt: skip
        read_only_fields = [
            "head_slot", "sync_distance", "el_offline", "checked_at", "stale_at", "last_error",
            "last_error_at", "genesis_time", "seconds_per_slot", "slots_per_epoch",
            "epochs_per_sync_period",
        ]  # fmt: skip

    def get_has_auth_header(self, node) -> bool:
        return bool(node.auth_header)

    def validate_url(self, value):
        return value.rstrip("/")  # the field's validator (the model's) has checked it

    def validate_auth_header(self, value):
        try:
            parse_auth_header(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value.strip()


ADDRESS_REFUSED = "Not an address: an execution address is 0x and 40 hex digits."


class DiscoverSerializer(serializers.Serializer):
    farm = serializers.IntegerField(
        required=False, help_text="Default: the only farm the caller can change."
    )
    address = serializers.CharField(
        max_length=42,
        # The schema's pattern; validate_address says why an address is refused.
        validators=[RegexValidator(r"^0x[0-9a-fA-F]{40}$", message=ADDRESS_REFUSED)],
        help_text="The withdrawal address: every validator whose 0x01 or 0x02 credentials "
        "withdraw to it is added.",
    )
    group = serializers.CharField(
        required=False, allow_blank=True, max_length=120, help_text="Created when new."
    )
    label = serializers.CharField(required=False, allow_blank=True, max_length=120)

    def validate_address(self, value):
        try:
            return normalise_address(value)
        except ValueError as exc:
            raise serializers.ValidationError(f"Not an address: {exc}.") from None


class DiscoveryStateSerializer(serializers.Serializer):
    farm = serializers.IntegerField()
    state = serializers.ChoiceField(choices=["queued", "running", "done", "failed"])
    address = serializers.CharField()
    scanned = serializers.IntegerField(help_text="validator indices looked at so far")
    found = serializers.IntegerField()
    added = serializers.IntegerField()
    skipped = serializers.IntegerField()
    error = serializers.CharField(allow_blank=True)
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "description": "a group's id"},
            {"type": "string", "maxLength": 120, "description": "a group's name"},
        ],
        "nullable": True,
    }
)
class GroupRefField(serializers.Field):
    """A group of the validator's farm by id (a JSON number) or by name (a string: created when
    new); null or "" for no group. Which farm's group it is, the view decides."""

    default_error_messages = {
        "invalid": "A group's id (a number), its name (a string), or null.",
        "max_length": "A name has at most 120 characters.",
    }

    def __init__(self, **kwargs):
        super().__init__(allow_null=True, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, int) and not isinstance(data, bool):
            if not 1 <= data <= 2**63 - 1:
                self.fail("invalid")
            return data
        if isinstance(data, str):
            if len(data.strip()) > 120:
                self.fail("max_length")
            return data.strip()
        self.fail("invalid")

    def to_representation(self, value):
        return value


class ValidatorChangeSerializer(serializers.Serializer):
    label = serializers.CharField(
        required=False, allow_blank=True, max_length=120, help_text='"" removes the label.'
    )
    group = GroupRefField(required=False)


class ValidatorGroupWriteSerializer(serializers.Serializer):
    farm = serializers.IntegerField(
        required=False,
        help_text="On create; default: the only farm the caller can change. A group stays in "
        "its farm.",
    )
    name = serializers.CharField(max_length=120, help_text="Unique within the farm.")


class MevRelaySerializer(ModelSerializer):
    farm = serializers.IntegerField(
        source="farm_id", required=False, help_text="Default: the only farm the caller can change."
    )
    name = serializers.CharField(
        required=False, allow_blank=True, max_length=120, help_text="Default: the host name."
    )

    class Meta:
        model = MevRelay
        fields = ["id", "farm", "name", "url"]

    def validate_url(self, value):
        # The field's validator (the model's) has checked the syntax. A relay is only asked
        # later, by the worker: refused here what the outbound policy would refuse then, as
        # the page's form does (validators.forms.MevRelayForm).
        value = value.rstrip("/")
        validate_destination(value)
        return value
